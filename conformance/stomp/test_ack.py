"""Acknowledgement modes, ACK/NACK in each version's form, and redelivery of unacked messages."""

import pytest

from support import VERSIONS, queue

PREFETCH_1 = {"activemq.prefetchSize": "1"}


def _fill(producer, q, bodies):
    for b in bodies:
        producer.send(q, b)
    producer.sync()


def _drain_with_marker(clients, q, producer, ack="auto"):
    """Subscribe a fresh consumer, then send a marker: returns the bodies received up to and
    including the marker (anything redelivered must arrive before it)."""
    consumer = clients("1.2")
    consumer.subscribe(q, ack=ack)
    producer.send(q, "marker")
    consumer.listener.wait_body("marker")
    return consumer, list(consumer.listener.messages)


def test_auto_ack_is_not_redelivered(clients):
    q = queue()
    producer = clients("1.2")
    a = clients("1.2")
    a.subscribe(q)
    producer.send(q, "m1")
    assert a.listener.next_message().body == "m1"
    a.kill()
    _, msgs = _drain_with_marker(clients, q, producer)
    assert [m.body for m in msgs] == ["marker"]


@pytest.mark.parametrize("version", VERSIONS)
def test_client_ack_is_cumulative(clients, version):
    """ack:client: ACKing the 3rd message acks 1-3; 4 and 5 come back redelivered:true to the
    next consumer after the first one goes away."""
    q = queue()
    producer = clients("1.2")
    a = clients(version)
    a.subscribe(q, ack="client")
    _fill(producer, q, [f"m{i}" for i in range(1, 6)])
    msgs = a.listener.wait_messages(5)
    assert [m.body for m in msgs] == ["m1", "m2", "m3", "m4", "m5"]
    a.ack(msgs[2])
    a.kill()
    _, got = _drain_with_marker(clients, q, producer)
    assert [m.body for m in got] == ["m4", "m5", "marker"]
    assert [m.headers.get("redelivered") for m in got[:2]] == ["true", "true"]
    assert got[2].headers.get("redelivered") != "true"


@pytest.mark.parametrize("version", VERSIONS)
def test_client_individual_ack(clients, version):
    """ack:client-individual: ACK m1 and m3 only; m2 alone is redelivered."""
    q = queue()
    producer = clients("1.2")
    a = clients(version)
    a.subscribe(q, ack="client-individual")
    _fill(producer, q, ["m1", "m2", "m3"])
    m1, _, m3 = a.listener.wait_messages(3)
    a.ack(m1)
    a.ack(m3)
    a.kill()
    _, got = _drain_with_marker(clients, q, producer)
    assert [m.body for m in got] == ["m2", "marker"]
    assert got[0].headers.get("redelivered") == "true"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_nack_redelivers(clients, version):
    """NACK (1.1: message-id+subscription, 1.2: id) puts the message back: it is delivered
    again, marked redelivered:true."""
    q = queue()
    c = clients(version)
    c.subscribe(q, ack="client-individual")
    c.send(q, "nacked", **{"x-keep": "kept"})
    first = c.listener.next_message()
    assert first.headers.get("redelivered") != "true"
    c.nack(first)
    again = c.listener.next_message()
    assert again.body == "nacked"
    assert again.headers.get("redelivered") == "true"
    assert again.headers["x-keep"] == "kept"
    c.ack(again)


@pytest.mark.parametrize("how", ["disconnect", "drop", "unsubscribe"])
def test_unacked_redelivered_to_next_consumer_ahead_of_newer(clients, how):
    """A consumer holding an unacked message goes away (DISCONNECT, dropped socket or
    UNSUBSCRIBE): the message goes to the next consumer, before messages sent after it."""
    q = queue()
    producer = clients("1.2")
    a = clients("1.2")
    sub = a.subscribe(q, ack="client-individual", **PREFETCH_1)
    producer.send(q, "m1")
    assert a.listener.next_message().body == "m1"
    _fill(producer, q, ["m2", "m3"])  # wait behind a's full prefetch window
    if how == "disconnect":
        a.disconnect()
    elif how == "drop":
        a.kill()
    else:
        a.unsubscribe(sub)
    _, got = _drain_with_marker(clients, q, producer)
    assert [m.body for m in got] == ["m1", "m2", "m3", "marker"]
    assert got[0].headers.get("redelivered") == "true"


def test_v11_ack_without_subscription_is_an_error(raws):
    """STOMP 1.1 ACK needs subscription + message-id: one without subscription gets ERROR."""
    q = queue()
    c = raws("1.1")
    c.send_frame("SUBSCRIBE", {"destination": q, "id": "s1", "ack": "client"})
    c.send_frame("SEND", {"destination": q}, "x")
    m = c.recv_frame()
    assert m.command == "MESSAGE", m
    c.send_frame("ACK", {"message-id": m.headers["message-id"], "receipt": "r-ack"})
    error = c.recv_frame()
    assert error.command == "ERROR", error
    assert error.headers.get("receipt-id") == "r-ack"
    assert error.headers.get("message")


def test_v10_nack_is_an_error(raws):
    """NACK does not exist in STOMP 1.0."""
    q = queue()
    c = raws("1.0")
    c.send_frame("SUBSCRIBE", {"destination": q, "ack": "client"})
    c.send_frame("SEND", {"destination": q}, "x")
    m = c.recv_frame()
    assert m.command == "MESSAGE", m
    c.send_frame("NACK", {"message-id": m.headers["message-id"], "receipt": "r-nack"})
    error = c.recv_frame()
    assert error.command == "ERROR", error
    assert error.headers.get("message")


def test_ack_of_unknown_id_is_an_error(raws):
    c = raws("1.2")
    c.send_frame("ACK", {"id": "no-such-ack-id", "receipt": "r-ack"})
    error = c.recv_frame()
    assert error.command == "ERROR", error
    assert error.headers.get("receipt-id") == "r-ack"
    assert error.headers.get("message")
