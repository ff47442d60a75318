"""ERROR frames: what a broken client gets, and that other clients don't notice."""

import pytest

from support import queue


def test_unknown_command_gets_error_then_close(raws):
    c = raws("1.2")
    c.send_raw(b"FOOBAR\nx:y\n\n\x00")
    frames = c.wait_closed()
    assert [f.command for f in frames] == ["ERROR"], frames
    assert frames[0].headers.get("message")


def test_send_without_destination_gets_error_with_receipt_id(raws):
    c = raws("1.2")
    c.send_frame("SEND", {"receipt": "r-bad"}, "no destination")
    error = c.recv_frame()
    assert error.command == "ERROR", error
    assert error.headers.get("receipt-id") == "r-bad"
    assert error.headers.get("message")


def test_subscribe_without_destination_gets_error(raws):
    c = raws("1.2")
    c.send_frame("SUBSCRIBE", {"id": "s1", "receipt": "r-bad"})
    error = c.recv_frame()
    assert error.command == "ERROR", error
    assert error.headers.get("receipt-id") == "r-bad"
    assert error.headers.get("message")


def test_ack_without_id_gets_error(raws):
    c = raws("1.2")
    c.send_frame("ACK", {"receipt": "r-bad"})
    error = c.recv_frame()
    assert error.command == "ERROR", error
    assert error.headers.get("message")


@pytest.mark.reference_skip("a SEND to /queue/ (empty name) drops the connection with no ERROR frame")
def test_empty_destination_name_gets_error(raws):
    c = raws("1.2")
    c.send_frame("SEND", {"destination": "/queue/", "receipt": "r-bad"}, "x")
    error = c.recv_frame()  # raises rawstomp.Closed if the broker just hangs up
    assert error.command == "ERROR", error
    assert error.headers.get("receipt-id") == "r-bad"
    assert error.headers.get("message")


def test_other_connections_keep_working_after_an_error(clients, raws):
    q = queue()
    good = clients("1.2")
    good.subscribe(q)
    bad = raws("1.2")
    bad.send_raw(b"FOOBAR\n\n\x00")
    bad.wait_closed()
    bad2 = raws("1.2")
    bad2.send_frame("SEND", {"receipt": "r-bad"}, "no destination")
    assert bad2.recv_frame().command == "ERROR"
    good.send(q, "still fine")
    assert good.listener.next_message().body == "still fine"
    # and new connections are still accepted
    late = clients("1.2")
    late.send(q, "late", receipt="r-late")
    assert good.listener.next_message().body == "late"
