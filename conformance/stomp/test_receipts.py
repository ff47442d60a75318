"""RECEIPT frames: any client frame with a receipt header gets RECEIPT receipt-id:<same>."""

import pytest

from support import VERSIONS, queue


@pytest.mark.parametrize("version", VERSIONS)
def test_receipts_for_subscribe_send_unsubscribe_disconnect(raws, version):
    q = queue()
    c = raws(version)
    c.send_frame("SUBSCRIBE", {"destination": q, "id": "s1", "receipt": "r-sub"})
    r = c.recv_frame()
    assert (r.command, r.headers.get("receipt-id")) == ("RECEIPT", "r-sub")

    c.send_frame("SEND", {"destination": q, "receipt": "r-send"}, "payload")
    frames = [c.recv_frame(), c.recv_frame()]
    receipts = [f for f in frames if f.command == "RECEIPT"]
    messages = [f for f in frames if f.command == "MESSAGE"]
    assert [f.headers.get("receipt-id") for f in receipts] == ["r-send"]
    assert [m.body for m in messages] == [b"payload"]
    assert "receipt" not in messages[0].headers  # the SEND's receipt header is not forwarded

    c.send_frame("UNSUBSCRIBE", {"id": "s1", "receipt": "r-unsub"})
    r = c.recv_frame()
    assert (r.command, r.headers.get("receipt-id")) == ("RECEIPT", "r-unsub")

    c.send_frame("DISCONNECT", {"receipt": "r-disc"})
    frames = c.wait_closed()
    assert [(f.command, f.headers.get("receipt-id")) for f in frames] == [("RECEIPT", "r-disc")]


def test_receipt_frame_has_no_body(raws):
    c = raws("1.2")
    c.send_frame("BEGIN", {"transaction": "t1", "receipt": "r-begin"})
    r = c.recv_frame()
    assert r.command == "RECEIPT"
    assert r.headers["receipt-id"] == "r-begin"
    assert r.body == b""


def test_receipt_ids_are_echoed_verbatim(raws):
    """Escaped characters in a 1.2 receipt header come back in the same escaped form."""
    c = raws("1.2")
    c.send_frame("BEGIN", {"transaction": "t1", "receipt": "r\\c1 with space"})
    r = c.recv_frame()
    assert r.headers["receipt-id"] == "r\\c1 with space"


def test_receipts_keep_frame_order(raws):
    c = raws("1.2")
    for i in range(10):
        c.send_frame("BEGIN", {"transaction": f"t{i}", "receipt": f"r{i}"})
    assert [c.recv_frame().headers["receipt-id"] for _ in range(10)] == [f"r{i}" for i in range(10)]
