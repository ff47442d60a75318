"""BEGIN / COMMIT / ABORT: transacted sends and acks."""

import pytest

from support import VERSIONS, queue, unique


@pytest.mark.parametrize("version", VERSIONS)
def test_commit_delivers_sends_in_order(clients, version):
    q = queue()
    consumer = clients("1.2")
    consumer.subscribe(q)
    producer = clients(version)
    tx = producer.begin()
    for i in range(3):
        # a RECEIPT for a transacted SEND only says the frame was processed
        producer.send(q, f"tx-{i}", receipt=unique("r"), transaction=tx)
    # nothing is visible before COMMIT: a non-transacted marker overtakes the transaction
    producer.send(q, "before-commit")
    assert consumer.listener.next_message().body == "before-commit"
    producer.commit(tx)
    assert [consumer.listener.next_message().body for _ in range(3)] == ["tx-0", "tx-1", "tx-2"]


@pytest.mark.parametrize("version", VERSIONS)
def test_abort_discards_sends(clients, version):
    q = queue()
    consumer = clients("1.2")
    consumer.subscribe(q)
    producer = clients(version)
    tx = producer.begin()
    producer.send(q, "aborted-1", transaction=tx)
    producer.send(q, "aborted-2", transaction=tx)
    producer.abort(tx)
    producer.send(q, "marker")
    consumer.listener.wait_body("marker")
    assert consumer.listener.bodies() == ["marker"]


@pytest.mark.parametrize("version", VERSIONS)
def test_ack_in_committed_transaction(clients, version):
    q = queue()
    producer = clients("1.2")
    a = clients(version)
    a.subscribe(q, ack="client-individual")
    producer.send(q, "m1")
    m = a.listener.next_message()
    tx = a.begin()
    a.ack(m, transaction=tx)
    a.commit(tx)
    a.kill()
    b = clients("1.2")
    b.subscribe(q)
    producer.send(q, "marker")
    b.listener.wait_body("marker")
    assert b.listener.bodies() == ["marker"]


def test_ack_in_aborted_transaction_leaves_message_unacked(clients):
    q = queue()
    producer = clients("1.2")
    a = clients("1.2")
    a.subscribe(q, ack="client-individual")
    producer.send(q, "m1")
    m = a.listener.next_message()
    tx = a.begin()
    a.ack(m, transaction=tx)
    a.abort(tx)
    a.kill()
    b = clients("1.2")
    b.subscribe(q)
    producer.send(q, "marker")
    b.listener.wait_body("marker")
    assert b.listener.bodies() == ["m1", "marker"]
    assert b.listener.messages[0].headers.get("redelivered") == "true"


@pytest.mark.parametrize("how", ["disconnect", "drop"])
def test_open_transaction_rolled_back_at_disconnect(clients, how):
    q = queue()
    consumer = clients("1.2")
    consumer.subscribe(q)
    producer = clients("1.2")
    tx = producer.begin()
    producer.send(q, "never", receipt=unique("r"), transaction=tx)
    if how == "disconnect":
        producer.disconnect()
    else:
        producer.kill()
    other = clients("1.2")
    other.send(q, "marker")
    consumer.listener.wait_body("marker")
    assert consumer.listener.bodies() == ["marker"]


def test_commit_of_unknown_transaction_is_an_error(raws):
    c = raws("1.2")
    c.send_frame("COMMIT", {"transaction": "no-such-tx", "receipt": "r-commit"})
    error = c.recv_frame()
    assert error.command == "ERROR", error
    assert error.headers.get("receipt-id") == "r-commit"
    assert error.headers.get("message")


def test_begin_twice_with_same_id_is_an_error(raws):
    c = raws("1.2")
    c.send_frame("BEGIN", {"transaction": "tx-dup", "receipt": "r1"})
    assert c.recv_frame().command == "RECEIPT"
    c.send_frame("BEGIN", {"transaction": "tx-dup", "receipt": "r2"})
    error = c.recv_frame()
    assert error.command == "ERROR", error
    assert error.headers.get("receipt-id") == "r2"
