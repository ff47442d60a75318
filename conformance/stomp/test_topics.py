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


def test_composite_subscription_receives_from_every_queue(clients):
    """SUBSCRIBE to `/queue/a,/queue/b`: one subscription taking from both queues; each MESSAGE
    names the queue it came from, and a cumulative `client` ACK covers both."""
    q1, q2 = queue("cs1"), queue("cs2")
    c = clients("1.2")
    c.subscribe(f"{q1},{q2}", sub_id="both", ack="client")
    p = clients("1.2")
    # (Sent after the SUBSCRIBE: ActiveMQ's composite consumer picks up messages already in
    # the queues only sometimes; ferromq always does, see tests/tests/stomp_routing.rs.)
    p.send(q1, "from-1", receipt=unique("r"))
    p.send(q2, "from-2", receipt=unique("r"))
    got = c.listener.wait_messages(2)
    assert sorted(m.body for m in got) == ["from-1", "from-2"]
    assert {m.body: m.headers["destination"] for m in got} == {"from-1": q1, "from-2": q2}
    assert all(m.headers["subscription"] == "both" for m in got)
    c.ack(got[-1])
    c.disconnect()
    # Both were acknowledged by the one cumulative ACK: nothing comes back.
    again = clients("1.2")
    again.subscribe(f"{q1},{q2}")
    time.sleep(0.5)
    assert again.listener.bodies() == []
    p.send(q1, "after", receipt=unique("r"))
    assert again.listener.next_message().body == "after"


def test_composite_subscription_to_topics(clients):
    t1, t2 = topic("ct1"), topic("ct2")
    c = clients("1.2")
    sid = c.subscribe(f"{t1},{t2}")
    p = clients("1.2")
    p.send(t1, "one", receipt=unique("r"))
    p.send(t2, "two", receipt=unique("r"))
    assert sorted(m.body for m in c.listener.wait_messages(2)) == ["one", "two"]
    c.unsubscribe(sid)
    p.send(t1, "after-unsubscribe", receipt=unique("r"))
    time.sleep(0.3)
    assert sorted(c.listener.bodies()) == ["one", "two"]


def test_a_client_id_is_used_by_one_connection_at_a_time(raws, clients):
    cid = unique("cid-once")
    first = durable_client(clients, cid)
    second = raws()
    frame = second.connect({"accept-version": "1.2", "host": "localhost", "client-id": cid})
    assert frame.command == "ERROR", frame
    assert frame.headers.get("message")
    first.disconnect()
    # Free again once the first connection is gone.
    durable_client(clients, cid)


def test_durable_wildcard_subscription_keeps_messages_while_away(clients):
    base = "ferromq.conformance." + unique("dw")
    cid = unique("cid")
    sub = durable_client(clients, cid)
    sub.subscribe(f"/topic/{base}.>", sub_id="d1", **{"activemq.subscriptionName": "all"})
    sub.disconnect()
    p = clients("1.2")
    p.send(f"/topic/{base}.a", "a-away", receipt=unique("r"), **PERSISTENT)
    p.send(f"/topic/{base}.b.c", "bc-away", receipt=unique("r"), **PERSISTENT)
    p.send(f"/topic/other.{base}", "not-matching", receipt=unique("r"), **PERSISTENT)
    back = durable_client(clients, cid)
    back.subscribe(f"/topic/{base}.>", sub_id="d1", **{"activemq.subscriptionName": "all"})
    got = back.listener.wait_messages(2)
    assert sorted(m.body for m in got) == ["a-away", "bc-away"]
    assert {m.body: m.headers["destination"] for m in got}["bc-away"] == f"/topic/{base}.b.c"
    time.sleep(0.3)
    assert len(back.listener.bodies()) == 2


def test_durable_no_local_skips_own_messages(clients):
    t = topic("dnl")
    me = durable_client(clients, unique("cid"))
    me.subscribe(t, sub_id="d1", **{"activemq.subscriptionName": "s", "activemq.noLocal": "true"})
    me.send(t, "mine", receipt=unique("r"))
    other = clients("1.2")
    other.send(t, "theirs", receipt=unique("r"))
    assert me.listener.next_message().body == "theirs"
    time.sleep(0.3)
    assert me.listener.bodies() == ["theirs"]


def test_durable_subscription_without_client_id_works_while_connected(clients):
    """ActiveMQ names it by a generated client id (so no later connection can resume it)."""
    t = topic("dnoid")
    c = clients("1.2")
    c.subscribe(t, sub_id="d1", **{"activemq.subscriptionName": "s"})
    p = clients("1.2")
    p.send(t, "hello", receipt=unique("r"))
    assert c.listener.next_message().body == "hello"


def test_wildcard_queue_subscription_consumes_from_matching_queues(clients):
    """`/queue/<base>.>` consumes from every queue below <base>, including queues created
    after the SUBSCRIBE, each MESSAGE naming its queue."""
    base = "ferromq.conformance." + unique("wq")
    c = clients("1.2")
    c.subscribe(f"/queue/{base}.>", ack="client-individual")
    p = clients("1.2")
    p.send(f"/queue/{base}.a", "a", receipt=unique("r"))
    p.send(f"/queue/{base}.b.c", "bc", receipt=unique("r"))
    p.send(f"/queue/other.{base}", "not-matching", receipt=unique("r"))
    got = c.listener.wait_messages(2)
    assert {m.body: m.headers["destination"] for m in got} == {
        "a": f"/queue/{base}.a", "bc": f"/queue/{base}.b.c"}
    for m in got:
        c.ack(m)
    time.sleep(0.3)
    assert len(c.listener.bodies()) == 2
    # The unmatched queue still has its message for its own consumer.
    o = clients("1.2")
    o.subscribe(f"/queue/other.{base}")
    assert o.listener.next_message().body == "not-matching"
