"""Connection set-up and version negotiation (STOMP 1.2 "Connecting", "Protocol Negotiation")."""

import pytest

from support import VERSIONS


def test_connect_v10_without_accept_version(raws):
    """A 1.0 client sends no accept-version: the server speaks 1.0 (version header absent or 1.0)."""
    c = raws()
    frame = c.connect({"login": "guest", "passcode": "guest"})
    assert frame.command == "CONNECTED", frame
    assert frame.headers.get("version", "1.0") == "1.0"
    # and the session is usable in 1.0 form: a receipt-bearing frame is answered
    c.send_frame("BEGIN", {"transaction": "t1", "receipt": "r1"})
    receipt = c.recv_frame()
    assert receipt.command == "RECEIPT" and receipt.headers["receipt-id"] == "r1"


@pytest.mark.parametrize("version", VERSIONS)
def test_connect_stomp_py(clients, version):
    """stomp-py's ConnectionXY (1.1/1.2 send the STOMP command) gets CONNECTED at its version."""
    c = clients(version)
    frame = c.listener.connected_frame
    assert frame.cmd == "CONNECTED"
    if version == "1.0":
        assert frame.headers.get("version", "1.0") == "1.0"
    else:
        assert frame.headers["version"] == version


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_connect_command_with_accept_version(clients, version):
    """CONNECT (rather than STOMP) with accept-version also negotiates 1.1/1.2."""
    c = clients(version, with_connect_command=True)
    assert c.listener.connected_frame.headers["version"] == version


@pytest.mark.parametrize(
    "offered,expected",
    [("1.0,1.1,1.2", "1.2"), ("1.0,1.1", "1.1"), ("1.1", "1.1"), ("1.2,1.1", "1.2"), ("1.0", "1.0")],
)
def test_highest_common_version_wins(raws, offered, expected):
    c = raws()
    frame = c.connect({"accept-version": offered, "host": "localhost"})
    assert frame.command == "CONNECTED", frame
    assert frame.headers.get("version", "1.0") == expected


def test_stomp_frame_connects(raws):
    """The STOMP command (1.2 §"STOMP Frame") is accepted in place of CONNECT."""
    c = raws()
    frame = c.connect({"accept-version": "1.2", "host": "localhost"}, command="STOMP")
    assert frame.command == "CONNECTED", frame
    assert frame.headers["version"] == "1.2"


def test_connected_heart_beat_header_present(raws):
    """For 1.1+ CONNECTED carries heart-beat:<sx>,<sy> (two non-negative integers)."""
    c = raws()
    frame = c.connect({"accept-version": "1.2", "host": "localhost", "heart-beat": "0,0"})
    sx, sy = (int(v) for v in frame.headers["heart-beat"].split(","))
    assert sx >= 0 and sy >= 0


def test_unsupported_version_gets_error_then_close(raws):
    """accept-version:9.9 → ERROR with a message header, then the server closes the socket."""
    c = raws()
    c.send_frame("CONNECT", {"accept-version": "9.9", "host": "localhost"})
    frames = c.wait_closed()
    assert frames, "connection closed without an ERROR frame"
    error = frames[0]
    assert error.command == "ERROR", error
    assert error.headers.get("message"), error
    assert [f.command for f in frames] == ["ERROR"]


def test_frame_before_connect_gets_error(raws):
    """A SEND before CONNECT is refused with an ERROR (it is not delivered)."""
    c = raws()
    c.send_frame("SEND", {"destination": "/queue/ferromq.conformance.never", "receipt": "r1"}, "x")
    error = c.recv_frame()
    assert error.command == "ERROR", error
    assert error.headers.get("message")


def test_disconnect_receipt_then_close(raws):
    """DISCONNECT with receipt: the RECEIPT comes back, then the server closes."""
    c = raws("1.2")
    c.send_frame("DISCONNECT", {"receipt": "bye-1"})
    frames = c.wait_closed()
    assert [f.command for f in frames] == ["RECEIPT"]
    assert frames[0].headers["receipt-id"] == "bye-1"
