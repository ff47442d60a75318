"""Issue 4 over STOMP with a real client (stomp-py): priority, redelivery back-off,
dead-letter queues and redrive, scheduled and lane-delayed delivery, expiry, and virtual
destinations (virtual topics, composite queues and topics). Most tests run ferromq started with
activemq.xml (ActiveMQ's format): they check that it behaves as that file says. Priority lanes
have no ActiveMQ form and use ferromq.toml, which also gives virtual destinations in TOML."""

from __future__ import annotations

import random
import time

import pytest

import support
from support import WAIT, unique

PERSISTENT = {"persistent": "true"}
# What ferromq adds on purpose where ActiveMQ's STOMP sends nothing (docs/stomp.md,
# "Deliberate differences"): checked on ferromq only, so the rest also runs on ActiveMQ.
FERROMQ = support.TARGET == "ferromq"
PREFETCH_1 = {"activemq.prefetchSize": "1"}


def q(prefix: str) -> str:
    return f"{prefix}.{unique('q')}"


def send_backlog(c, dest: str, priorities: list[int]):
    for i, p in enumerate(priorities):
        last = i == len(priorities) - 1
        c.send(dest, f"m{i}", receipt=unique("r") if last else None, priority=str(p),
               seq=str(i), **PERSISTENT)


def drain(c, dest: str, n: int) -> list[tuple[int, int]]:
    """(priority, seq) of n messages taken one at a time (prefetch 1, acked each)."""
    c.subscribe(dest, ack="client-individual", **PREFETCH_1)
    got = []
    for _ in range(n):
        m = c.listener.next_message()
        got.append((int(m.headers["priority"]), int(m.headers["seq"])))
        c.ack(m)
    return got


def assert_strict(got: list[tuple[int, int]]):
    expected = sorted(got, key=lambda ps: (-ps[0], ps[1]))
    assert got == expected, "not highest priority first, FIFO within a priority"


def test_priority_backlog_is_strict(xml_broker, clients):
    dest = "/queue/" + q("prio")
    rng = random.Random(4)
    prios = [rng.randrange(10) for _ in range(300)]
    send_backlog(clients(), dest, prios)
    got = drain(clients(), dest, len(prios))
    assert_strict(got)
    assert sorted(s for _, s in got) == list(range(len(prios)))


def test_priority_is_strict_after_restart(xml_broker, clients):
    dest = "/queue/" + q("prio-restart")
    rng = random.Random(9)
    prios = [rng.randrange(10) for _ in range(300)]
    p = clients()
    send_backlog(p, dest, prios)
    p.disconnect()
    xml_broker.restart()
    got = drain(clients(), dest, len(prios))
    assert_strict(got)


def test_fifo_where_the_file_turns_priority_off(xml_broker, clients):
    dest = "/queue/" + q("fifo")
    send_backlog(clients(), dest, [1, 9, 4, 7])
    assert [s for _, s in drain(clients(), dest, 4)] == [0, 1, 2, 3]


def nack_until_dead_lettered(clients):
    """A poison message on a backoff.> queue: NACKed three times with the back-off between,
    then found on its DLQ. Returns the queue's name and the consumer, still subscribed."""
    name = q("backoff")
    dest, dlq = "/queue/" + name, "/queue/DLQ." + name
    p = clients()
    p.send(dest, "poison", receipt=unique("r"), **PERSISTENT, **{"x-keep": "kept"})
    c = clients()
    c.subscribe(dest, ack="client-individual", **PREFETCH_1)
    m = c.listener.next_message()
    assert m.headers.get("redelivered") != "true"
    if FERROMQ:
        assert m.headers["JMSXDeliveryCount"] == "1"
    gaps = []
    for count in (2, 3):
        t = time.monotonic()
        c.nack(m)
        m = c.listener.next_message(timeout=WAIT)
        gaps.append(time.monotonic() - t)
        assert m.body == "poison"
        assert m.headers["redelivered"] == "true"
        if FERROMQ:
            assert m.headers["JMSXDeliveryCount"] == str(count)
    # backoff.> : initial 1 s, then exponential x2 -> 2 s.
    assert 0.95 <= gaps[0] < 1.9, gaps
    assert 1.95 <= gaps[1] < 3.5, gaps
    c.nack(m)  # third failure: past maximumRedeliveries=2
    d = clients()
    d.subscribe(dlq, ack="client-individual")
    dead = d.listener.next_message()
    assert dead.body == "poison"
    assert dead.headers["x-keep"] == "kept"
    assert dead.headers["original-destination"] == dest
    if FERROMQ:
        # ActiveMQ sets no cause when a STOMP NACK exhausts the redeliveries.
        assert "exceeds redelivery policy limit" in dead.headers["dlqDeliveryFailureCause"]
    assert dead.headers["originalExpiration"] == "0"
    assert dead.headers["message-id"] == m.headers["message-id"]
    d.disconnect()
    return name, c


def test_nack_back_off_then_dead_letter(xml_broker, clients):
    nack_until_dead_lettered(clients)


@pytest.mark.ferromq_only("redrive is ferromq's CLI and admin API (ActiveMQ's is the web "
                          "console's Retry)")
def test_dead_letter_then_redrive(xml_broker, clients):
    name, c = nack_until_dead_lettered(clients)
    # Redrive from the command line, against the running broker.
    out = xml_broker.cli("redrive", "DLQ." + name, "--admin", xml_broker.admin)
    assert out.returncode == 0, out.stderr
    assert "moved 1" in out.stdout, out.stdout
    back = c.listener.next_message()
    assert back.body == "poison"
    assert back.headers.get("redelivered") != "true"
    assert "original-destination" not in back.headers
    c.ack(back)


@pytest.mark.ferromq_only("ActiveMQ 5.17 never redelivers a durable subscriber's NACKed message: "
                          "the redeliveryPlugin re-sends it to the topic, whose durable cursor "
                          "drops it as a duplicate (REFERENCE.md)")
def test_durable_subscriber_dead_letters_per_subscription_as_its_topic(xml_broker, clients):
    """The topic's entry decides where a durable subscriber's poison message goes:
    DLQ.<topic>.<client-id>:<subscription> (destinationPerDurableSubscriber), with the topic as
    its origin; the default redelivery entry (2 redeliveries) applies."""
    name = q("durable")
    dest = "/topic/" + name
    cid = unique("cid")
    sub = clients(headers={"client-id": cid})
    sub.subscribe(dest, sub_id="d1", ack="client-individual",
                  **{"activemq.subscriptionName": "s1"}, **PREFETCH_1)
    p = clients()
    p.send(dest, "poison", receipt=unique("r"), **PERSISTENT)
    for _ in range(3):
        m = sub.listener.next_message(timeout=WAIT)
        assert m.body == "poison"
        sub.nack(m)
    d = clients()
    d.subscribe(f"/queue/DLQ.{name}.{cid}:s1")
    dead = d.listener.next_message(timeout=WAIT)
    assert dead.body == "poison"
    assert dead.headers["original-destination"] == dest
    time.sleep(0.5)
    assert sub.listener.bodies() == ["poison"] * 3, "not redelivered after dead-lettering"


def test_default_entry_dead_letters_after_two_redeliveries(xml_broker, clients):
    name = q("plain")
    dest = "/queue/" + name
    clients().send(dest, "x", receipt=unique("r"), **PERSISTENT)
    c = clients()
    c.subscribe(dest, ack="client-individual", **PREFETCH_1)
    t0 = time.monotonic()
    for _ in range(3):
        c.nack(c.listener.next_message())
    # Two redeliveries, 1 s apart each (defaultEntry).
    assert time.monotonic() - t0 >= 1.9
    d = clients()
    d.subscribe("/queue/DLQ." + name)
    assert d.listener.next_message().body == "x"


def test_scheduled_delay_and_repeat(xml_broker, clients):
    dest = "/queue/" + q("sched")
    c = clients()
    c.subscribe(dest)
    p = clients()
    t0 = time.monotonic()
    p.send(dest, "later", receipt=unique("r"), AMQ_SCHEDULED_DELAY="1500", **PERSISTENT)
    p.send(dest, "now", receipt=unique("r"))
    assert c.listener.next_message().body == "now"
    assert c.listener.next_message(timeout=WAIT).body == "later"
    assert time.monotonic() - t0 >= 1.45
    t1 = time.monotonic()
    p.send(dest, "tick", receipt=unique("r"), AMQ_SCHEDULED_DELAY="200",
           AMQ_SCHEDULED_PERIOD="300", AMQ_SCHEDULED_REPEAT="2")
    ticks = [c.listener.next_message() for _ in range(3)]
    assert [m.body for m in ticks] == ["tick"] * 3
    assert time.monotonic() - t1 >= 0.75
    assert len({m.headers["message-id"] for m in ticks}) == 3
    # Delivered without the scheduling headers and with one job id for the series, so a
    # consumer that sends a tick on does not schedule it again.
    for m in ticks:
        assert not any(k.startswith("AMQ_SCHEDULED_") for k in m.headers), m.headers
    assert len({m.headers["scheduledJobId"] for m in ticks}) == 1


def test_scheduled_message_survives_restart(xml_broker, clients):
    dest = "/queue/" + q("sched-restart")
    p = clients()
    p.send(dest, "after-restart", receipt=unique("r"), AMQ_SCHEDULED_DELAY="3000", **PERSISTENT)
    p.disconnect()
    t0 = time.monotonic()
    xml_broker.restart()
    c = clients()
    c.subscribe(dest)
    m = c.listener.next_message(timeout=WAIT)
    assert m.body == "after-restart"
    # Not early: the due time was stored with the message.
    assert time.monotonic() - t0 >= 2.5


def test_expired_messages_never_arrive_and_are_dead_lettered(xml_broker, clients):
    name = q("exp")
    dest = "/queue/" + name
    p = clients()
    past = str(int(time.time() * 1000) - 1000)
    soon = str(int(time.time() * 1000) + 300)
    p.send(dest, "expired", receipt=unique("r"), expires=past, **PERSISTENT)
    p.send(dest, "expires-soon", receipt=unique("r"), expires=soon, **PERSISTENT)
    p.send(dest, "live", receipt=unique("r"), **PERSISTENT)
    time.sleep(1.2)  # past `soon` and one expireMessagesPeriod (500 ms)
    c = clients()
    c.subscribe(dest)
    assert c.listener.next_message().body == "live"
    time.sleep(0.3)
    assert c.listener.bodies() == ["live"]
    d = clients()
    d.subscribe("/queue/DLQ." + name)
    dead = d.listener.wait_messages(2)
    assert sorted(m.body for m in dead) == ["expired", "expires-soon"]
    sent = {"expired": past, "expires-soon": soon}
    for m in dead:
        # ActiveMQ's cause text and property, which ferromq copies verbatim.
        expires = sent[m.body]
        assert m.headers["dlqDeliveryFailureCause"] == \
            f"java.lang.Throwable: Message Expired. Expiration:{expires}"
        assert m.headers["originalExpiration"] == expires
        assert m.headers["expires"] == "0"


def test_expired_messages_dropped_where_process_expired_is_off(xml_broker, clients):
    dest = "/queue/" + q("drop")
    p = clients()
    p.send(dest, "expired", receipt=unique("r"), expires=str(int(time.time() * 1000) - 1),
           **PERSISTENT)
    p.send(dest, "live", receipt=unique("r"), **PERSISTENT)
    c = clients()
    c.subscribe(dest)
    assert c.listener.next_message().body == "live"
    d = clients()
    d.subscribe("/queue/ActiveMQ.DLQ")
    time.sleep(0.5)
    assert "expired" not in d.listener.bodies()


# The xml_broker tests come before the toml_broker ones: starting a broker points
# support.PORT at it.
def test_configured_virtual_topics_copy_to_consumer_queues(xml_broker, clients):
    name = unique("orders")
    custom = clients()
    custom.subscribe(f"/queue/Sub.A.vt.{name}.in")
    default = clients()
    default.subscribe(f"/queue/Consumer.B.VirtualTopic.{name}")
    # Not a consumer queue of vt.> (no postfix).
    plain = clients()
    plain.subscribe(f"/queue/Sub.A.vt.{name}")
    custom.sync()
    default.sync()
    plain.sync()
    p = clients()
    p.send(f"/topic/vt.{name}", "custom", receipt=unique("r"))
    p.send(f"/topic/VirtualTopic.{name}", "default", receipt=unique("r"))
    m = custom.listener.next_message()
    assert m.body == "custom"
    assert m.headers["destination"] == f"/queue/Sub.A.vt.{name}.in"
    assert default.listener.next_message().body == "default"
    time.sleep(0.3)
    assert custom.listener.bodies() == ["custom"]
    assert plain.listener.bodies() == []


def test_composite_queue_forwards_copies_that_survive_restart(xml_broker, clients):
    notify = clients()
    notify.subscribe("/topic/composite.notify")
    notify.sync()
    p = clients()
    p.send("/queue/composite.orders", "even", receipt=unique("r"), **PERSISTENT)
    p.send("/queue/composite.orders", "odd", receipt=unique("r"), odd="yes", **PERSISTENT)
    tapped = notify.listener.wait_messages(2)
    assert [m.body for m in tapped] == ["even", "odd"]
    p.disconnect()
    # The stored copies were written before the RECEIPTs.
    xml_broker.restart()
    got = {}
    for dest, n in (("composite.audit", 2), ("composite.orders", 2), ("composite.odd", 1)):
        c = clients()
        c.subscribe("/queue/" + dest)
        got[dest] = c.listener.wait_messages(n)
        time.sleep(0.2)
        assert len(c.listener.bodies()) == n, dest
    assert [m.body for m in got["composite.audit"]] == ["even", "odd"]
    assert [m.body for m in got["composite.orders"]] == ["even", "odd"], "forwardOnly=false"
    assert [m.body for m in got["composite.odd"]] == ["odd"], "the selector filters"
    # Copies keep the message id.
    ids = {m.headers["message-id"] for m in got["composite.audit"] + got["composite.orders"]}
    assert len(ids) == 2


def test_priority_lanes_delay_each_class(toml_broker, clients):
    dest = "/queue/" + q("lanes")
    c = clients()
    c.subscribe(dest)
    p = clients()
    t0 = time.monotonic()
    for body, prio in (("low", 1), ("mid", 5), ("high", 9)):
        p.send(dest, body, receipt=unique("r"), priority=str(prio))
    arrivals = []
    for _ in range(3):
        m = c.listener.next_message(timeout=WAIT)
        arrivals.append((m.body, time.monotonic() - t0))
    assert [b for b, _ in arrivals] == ["high", "mid", "low"]
    assert arrivals[0][1] < 0.5
    assert 0.95 <= arrivals[1][1] < 1.8
    assert 1.95 <= arrivals[2][1] < 3.0


def test_toml_virtual_topic_and_composite_topic(toml_broker, clients):
    name = unique("news")
    c = clients()
    c.subscribe(f"/queue/Consumer.X.vtt.{name}.q")
    d = clients()
    d.subscribe(f"/queue/Consumer.X.VirtualTopic.{name}")
    c.sync()
    d.sync()
    p = clients()
    p.send(f"/topic/vtt.{name}", "vtt", receipt=unique("r"))
    # The TOML's rules replace the default one.
    p.send(f"/topic/VirtualTopic.{name}", "default", receipt=unique("r"))
    assert c.listener.next_message().body == "vtt"
    sub = clients()
    sub.subscribe("/topic/fanout.toml")
    sub.sync()
    p.send("/topic/fanout.toml", "fan", receipt=unique("r"))
    for q_name in ("fanout.toml.a", "fanout.toml.b"):
        r = clients()
        r.subscribe("/queue/" + q_name)
        assert r.listener.next_message().body == "fan"
    time.sleep(0.3)
    assert d.listener.bodies() == []
    assert sub.listener.bodies() == [], "forwardOnly: the topic itself gets nothing"
