"""Point-to-point send/receive and what a MESSAGE frame carries (ActiveMQ's STOMP↔JMS mapping)."""

import time

import pytest

from support import VERSIONS, queue, unique

# Headers a plain user sets and expects back untouched.
USER_HEADERS = {"x-custom": "custom value", "tenant": "acme", "colon-value": "a:b", "num": "42"}


@pytest.mark.parametrize("version", VERSIONS)
def test_send_receive_headers(clients, version):
    q = queue()
    c = clients(version)
    sub = c.subscribe(q, ack="client-individual")
    before_ms = int(time.time() * 1000)
    c.send(
        q,
        "hello",
        receipt=unique("r"),
        **USER_HEADERS,
        **{"correlation-id": "corr-1", "reply-to": "/queue/ferromq.conformance.replies", "type": "greeting"},
    )
    m = c.listener.next_message()
    h = m.headers
    assert m.body == "hello"
    assert h["destination"] == q
    assert h["subscription"] == sub
    assert h["message-id"]
    for k, v in USER_HEADERS.items():
        assert h.get(k) == v, (k, h)
    assert h["correlation-id"] == "corr-1"
    assert h["reply-to"] == "/queue/ferromq.conformance.replies"
    assert h["type"] == "greeting"
    assert h["priority"] == "4"  # absent on SEND → JMS default 4
    assert h["expires"] == "0"  # absent on SEND → never expires, sent as 0
    assert "persistent" not in h  # STOMP SEND is non-persistent unless persistent:true
    assert h.get("redelivered") != "true"
    ts = int(h["timestamp"])  # epoch milliseconds, set by the broker at send
    assert before_ms - 60_000 <= ts <= int(time.time() * 1000) + 60_000
    if version == "1.2":
        # 1.2: a MESSAGE from a client/client-individual subscription MUST carry an ack header
        assert h["ack"], "STOMP 1.2 MESSAGE must carry an ack header"
    c.ack(m)



@pytest.mark.parametrize("version", VERSIONS)
def test_persistent_only_when_sent_persistent(clients, version):
    q = queue()
    c = clients(version)
    c.subscribe(q)
    c.send(q, "durable", persistent="true")
    c.send(q, "transient")
    c.send(q, "explicit-false", persistent="false")
    first, second, third = (c.listener.next_message() for _ in range(3))
    assert (first.body, second.body, third.body) == ("durable", "transient", "explicit-false")
    assert first.headers.get("persistent") == "true"
    assert "persistent" not in second.headers
    assert third.headers.get("persistent") != "true"


def test_priority_and_expires_pass_through(clients):
    q = queue()
    c = clients("1.2")
    c.subscribe(q)
    expires = str(int(time.time() * 1000) + 600_000)
    c.send(q, "p7", priority="7", expires=expires)
    m = c.listener.next_message()
    assert m.headers["priority"] == "7"
    assert m.headers["expires"] == expires


def test_message_ids_unique(clients):
    q = queue()
    c = clients("1.2")
    c.subscribe(q, ack="client-individual")
    for i in range(20):
        c.send(q, f"m{i}")
    msgs = c.listener.wait_messages(20)
    ids = [m.headers["message-id"] for m in msgs]
    acks = [m.headers["ack"] for m in msgs]
    assert len(set(ids)) == 20
    assert len(set(acks)) == 20
    for m in msgs:
        c.ack(m)


def test_fifo_order_single_producer(clients):
    q = queue()
    c = clients("1.2")
    c.subscribe(q)
    for i in range(50):
        c.send(q, f"m{i}")
    assert [m.body for m in c.listener.wait_messages(50)] == [f"m{i}" for i in range(50)]


def test_message_sent_before_subscribe_is_kept(clients):
    """A queue stores messages until a consumer arrives."""
    q = queue()
    producer = clients("1.2")
    producer.send(q, "waiting", receipt=unique("r"))
    consumer = clients("1.2")
    consumer.subscribe(q)
    assert consumer.listener.next_message().body == "waiting"


def test_binary_body_with_content_length(raws):
    """content-length lets a body carry NULs; it comes back byte-exact with content-length."""
    q = queue()
    c = raws("1.2")
    c.send_frame("SUBSCRIBE", {"destination": q, "id": "s1", "receipt": "r1"})
    assert c.recv_frame().command == "RECEIPT"
    body = b"\x00bin\x00ary\xff\x00"
    c.send_frame("SEND", {"destination": q, "content-length": str(len(body))}, body)
    m = c.recv_frame()
    assert m.command == "MESSAGE", m
    assert m.body == body
    assert m.headers["content-length"] == str(len(body))


def test_content_type_passes_through(clients):
    q = queue()
    c = clients("1.2")
    c.subscribe(q)
    c.conn.send(q, '{"a": 1}', content_type="application/json")
    m = c.listener.next_message()
    assert m.headers["content-type"] == "application/json"
    assert m.body == '{"a": 1}'


def test_utf8_body_and_headers(clients):
    q = queue()
    c = clients("1.2")
    c.subscribe(q)
    c.send(q, "grüße 你好 🚀", greeting="héllo wörld")
    m = c.listener.next_message()
    assert m.body == "grüße 你好 🚀"
    assert m.headers["greeting"] == "héllo wörld"


def test_v12_header_escapes_round_trip(raws):
    """STOMP 1.2 escapes \\c \\n \\\\ in header values; they come back escaped the same way."""
    q = queue()
    c = raws("1.2")
    c.send_frame("SUBSCRIBE", {"destination": q, "id": "s1", "receipt": "r1"})
    assert c.recv_frame().command == "RECEIPT"
    c.send_frame("SEND", {"destination": q, "h-colon": "a\\cb", "h-nl": "line\\nbreak", "h-bs": "back\\\\slash"}, "x")
    h = c.recv_frame().headers
    assert (h["h-colon"], h["h-nl"], h["h-bs"]) == ("a\\cb", "line\\nbreak", "back\\\\slash")


def test_v10_header_values_are_not_escaped(raws):
    """STOMP 1.0 has no escaping: a colon or backslash in a value passes through as is."""
    q = queue()
    c = raws("1.0")
    c.send_frame("SUBSCRIBE", {"destination": q, "id": "s1", "receipt": "r1"})
    assert c.recv_frame().command == "RECEIPT"
    c.send_frame("SEND", {"destination": q, "h-colon": "a:b", "h-bs": "back\\slash"}, "x")
    h = c.recv_frame().headers
    assert (h["h-colon"], h["h-bs"]) == ("a:b", "back\\slash")
