"""Durable topic subscriptions, virtual topics, wildcard subscriptions and composite
destinations, as ActiveMQ serves them over STOMP."""

from __future__ import annotations

import time

from support import queue, topic, unique

PERSISTENT = {"persistent": "true"}


def durable_client(clients, client_id: str):
    return clients("1.2", headers={"client-id": client_id})


def test_durable_subscription_keeps_messages_while_away(clients):
    t = topic("durable")
    cid = unique("cid")
    sub = durable_client(clients, cid)
    sub.subscribe(t, sub_id="d1", ack="client-individual", **{"activemq.subscriptionName": "s1"})
    sub.disconnect()
    p = clients("1.2")
    p.send(t, "while-away", receipt=unique("r"), **PERSISTENT)
    back = durable_client(clients, cid)
    back.subscribe(t, sub_id="d1", ack="client-individual", **{"activemq.subscriptionName": "s1"})
    m = back.listener.next_message()
    assert m.body == "while-away"
    assert m.headers["destination"] == t
    back.ack(m)


def test_unsubscribe_with_the_name_removes_the_durable_subscription(clients):
    t = topic("durable-rm")
    cid = unique("cid")
    sub = durable_client(clients, cid)
    sub.subscribe(t, sub_id="d1", **{"activemq.subscriptionName": "s1"})
    # The subscriber ends first: ActiveMQ refuses to remove a durable subscription that has an
    # active subscriber, even this one ("Durable consumer is in use"), as JMS unsubscribe does.
    sub.unsubscribe("d1")
    rid = unique("r-unsub")
    sub.conn.unsubscribe("d1", headers={"activemq.subscriptionName": "s1", "receipt": rid})
    sub.listener.wait_receipt(rid)
    sub.disconnect()
    p = clients("1.2")
    p.send(t, "not-kept", receipt=unique("r"), **PERSISTENT)
    again = durable_client(clients, cid)
    again.subscribe(t, sub_id="d2", **{"activemq.subscriptionName": "s1"})
    p.send(t, "new", receipt=unique("r"), **PERSISTENT)
    assert again.listener.next_message().body == "new"
    time.sleep(0.3)
    assert again.listener.bodies() == ["new"]


def test_virtual_topic_copies_to_each_consumer_queue(clients):
    name = unique("Orders")
    vt = f"/topic/VirtualTopic.{name}"
    a = clients("1.2")
    a.subscribe(f"/queue/Consumer.A.VirtualTopic.{name}")
    b = clients("1.2")
    b.subscribe(f"/queue/Consumer.B.VirtualTopic.{name}")
    p = clients("1.2")
    for i in range(3):
        p.send(vt, f"o{i}", receipt=unique("r"))
    assert [m.body for m in a.listener.wait_messages(3)] == ["o0", "o1", "o2"]
    assert [m.body for m in b.listener.wait_messages(3)] == ["o0", "o1", "o2"]


def test_wildcard_topic_subscription(clients):
    base = "ferromq.conformance." + unique("w")
    w = clients("1.2")
    w.subscribe(f"/topic/{base}.>")
    star = clients("1.2")
    star.subscribe(f"/topic/{base}.*")
    p = clients("1.2")
    p.send(f"/topic/{base}.a", "one-level", receipt=unique("r"))
    p.send(f"/topic/{base}.a.b", "two-levels", receipt=unique("r"))
    got = w.listener.wait_messages(2)
    assert sorted(m.body for m in got) == ["one-level", "two-levels"]
    assert star.listener.next_message().body == "one-level"
    time.sleep(0.3)
    assert sorted(w.listener.bodies()) == ["one-level", "two-levels"]
    assert star.listener.bodies() == ["one-level"]
    by_body = {m.body: m.headers["destination"] for m in got}
    assert by_body["two-levels"] == f"/topic/{base}.a.b"


def test_wildcard_descendants_include_the_topic_itself(clients):
    """As ActiveMQ's destination filters ('A matches A.>'): X.> also receives what is
    published to X itself; X.* does not."""
    base = "ferromq.conformance." + unique("w0")
    w = clients("1.2")
    w.subscribe(f"/topic/{base}.>")
    star = clients("1.2")
    star.subscribe(f"/topic/{base}.*")
    p = clients("1.2")
    p.send(f"/topic/{base}", "the-base", receipt=unique("r"))
    p.send(f"/topic/{base}.a", "one-level", receipt=unique("r"))
    got = w.listener.wait_messages(2)
    assert sorted(m.body for m in got) == ["one-level", "the-base"]
    assert star.listener.next_message().body == "one-level"
    time.sleep(0.3)
    assert star.listener.bodies() == ["one-level"]
    by_body = {m.body: m.headers["destination"] for m in got}
    assert by_body["the-base"] == f"/topic/{base}"


def test_composite_send_reaches_every_destination(clients):
    q1, q2 = queue("c1"), queue("c2")
    t = topic("c3")
    a, b, c = clients("1.2"), clients("1.2"), clients("1.2")
    a.subscribe(q1)
    b.subscribe(q2)
    c.subscribe(t)
    p = clients("1.2")
    p.send(f"{q1},{q2},{t}", "everywhere", receipt=unique("r"))
    for x in (a, b, c):
        assert x.listener.next_message().body == "everywhere"
