"""Helpers shared by the STOMP conformance tests: a listener with bounded waits and a wrapper
around stomp-py connections that always cleans up."""

from __future__ import annotations

import os
import threading
import time
import uuid

import stomp
import stomp.protocol
from stomp.listener import ConnectionListener

from rawstomp import RawStomp

HOST = os.environ.get("STOMP_HOST", "127.0.0.1")
PORT = int(os.environ.get("STOMP_PORT", "61613"))
# "ferromq" (default) or "activemq": which broker the suite is talking to.
TARGET = os.environ.get("STOMP_TARGET", "ferromq")

WAIT = 10.0  # default bound for every wait in the suite (only reached when something is wrong)

VERSIONS = ("1.0", "1.1", "1.2")


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def queue(prefix: str = "q") -> str:
    return "/queue/ferromq.conformance." + unique(prefix)


def topic(prefix: str = "t") -> str:
    return "/topic/ferromq.conformance." + unique(prefix)


def wait_until(predicate, timeout: float = WAIT, what: str = "condition"):
    """Poll ``predicate`` (for conditions spanning several connections) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Collector(ConnectionListener):
    """Records everything a stomp-py connection sees; every wait is bounded."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.messages: list[stomp.utils.Frame] = []
        self.receipts: dict[str, stomp.utils.Frame] = {}
        self.errors: list[stomp.utils.Frame] = []
        self.connected_frame: stomp.utils.Frame | None = None
        self.disconnected = threading.Event()
        self.heartbeats = 0
        self.heartbeat_timeouts = 0
        self._consumed = 0  # index of the next message next_message() returns
        self.on_message_hook = None  # optional callable(frame), run on the receiver thread

    # -- callbacks (receiver thread) --------------------------------------------------------
    def on_connected(self, frame):
        with self.cond:
            self.connected_frame = frame
            self.cond.notify_all()

    def on_message(self, frame):
        hook = self.on_message_hook
        if hook is not None:
            hook(frame)
        with self.cond:
            self.messages.append(frame)
            self.cond.notify_all()

    def on_receipt(self, frame):
        with self.cond:
            self.receipts[frame.headers.get("receipt-id", "")] = frame
            self.cond.notify_all()

    def on_error(self, frame):
        with self.cond:
            self.errors.append(frame)
            self.cond.notify_all()

    def on_heartbeat(self):
        with self.cond:
            self.heartbeats += 1
            self.cond.notify_all()

    def on_heartbeat_timeout(self):
        with self.cond:
            self.heartbeat_timeouts += 1
            self.cond.notify_all()

    def on_disconnected(self):
        self.disconnected.set()
        with self.cond:
            self.cond.notify_all()

    # -- waits (test thread) ----------------------------------------------------------------
    def _wait(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
                self.cond.wait(remaining)

    def wait_connected(self, timeout: float = WAIT):
        return self._wait(lambda: self.connected_frame or self._fail_if_error(), timeout, "CONNECTED")

    def _fail_if_error(self):
        if self.errors:
            raise AssertionError(f"ERROR instead of CONNECTED: {self.errors[0].headers}")
        return None

    def wait_messages(self, count: int, timeout: float = WAIT) -> list:
        """Wait until at least ``count`` messages arrived in total; return the first ``count``."""
        self._wait(lambda: len(self.messages) >= count, timeout, f"{count} message(s), have {len(self.messages)}")
        with self.cond:
            return list(self.messages[:count])

    def next_message(self, timeout: float = WAIT):
        """The next message not yet returned by next_message()."""
        self._wait(lambda: len(self.messages) > self._consumed, timeout, "a message")
        with self.cond:
            frame = self.messages[self._consumed]
            self._consumed += 1
            return frame

    def wait_body(self, body: str, timeout: float = WAIT):
        """Wait for a message with this body; return it."""

        def find():
            for m in self.messages:
                if m.body == body:
                    return m
            return None

        return self._wait(find, timeout, f"a message with body {body!r}")

    def wait_receipt(self, receipt_id: str, timeout: float = WAIT):
        return self._wait(
            lambda: self.receipts.get(receipt_id) or self._fail_on_error_for(receipt_id),
            timeout,
            f"RECEIPT {receipt_id}",
        )

    def _fail_on_error_for(self, receipt_id: str):
        for e in self.errors:
            if e.headers.get("receipt-id") == receipt_id:
                raise AssertionError(f"ERROR instead of RECEIPT {receipt_id}: {e.headers} {e.body!r}")
        return None

    def wait_error(self, timeout: float = WAIT):
        return self._wait(lambda: self.errors[0] if self.errors else None, timeout, "an ERROR frame")

    def wait_heartbeats(self, count: int, timeout: float = WAIT) -> int:
        return self._wait(lambda: self.heartbeats if self.heartbeats >= count else 0, timeout, f"{count} heart-beats")

    def bodies(self) -> list:
        with self.cond:
            return [m.body for m in self.messages]


_CLASSES = {"1.0": stomp.Connection10, "1.1": stomp.Connection11, "1.2": stomp.Connection12}


class Client:
    """A connected stomp-py connection plus its Collector.

    ``ack_args(frame)`` gives the arguments ACK/NACK take in this version's form:
    1.0 ``message-id``; 1.1 ``message-id`` + ``subscription``; 1.2 the ``ack`` header as ``id``.
    """

    def __init__(self, version: str = "1.2", heartbeats=(0, 0), headers=None, connect: bool = True,
                 with_connect_command: bool = False):
        self.version = version
        cls = _CLASSES[version]
        kwargs = dict(host_and_ports=[(HOST, PORT)], reconnect_attempts_max=1, timeout=WAIT)
        if version != "1.0":
            kwargs["heartbeats"] = heartbeats
        self.conn = cls(**kwargs)
        self.listener = Collector()
        self.conn.set_listener("collector", self.listener)
        self.closed = False
        if connect:
            self.connect(headers=headers, with_connect_command=with_connect_command)

    def connect(self, headers=None, with_connect_command: bool = False):
        kwargs = {"headers": headers or {}, "wait": False}
        if self.version != "1.0":
            kwargs["with_connect_command"] = with_connect_command
        self.conn.connect(**kwargs)
        return self.listener.wait_connected()

    # -- operations --------------------------------------------------------------------------
    def send(self, destination: str, body="", receipt: str | None = None, **headers):
        if receipt:
            headers["receipt"] = receipt
        self.conn.send(destination, body, headers=headers)
        if receipt:
            self.listener.wait_receipt(receipt)

    def subscribe(self, destination: str, sub_id: str | None = None, ack: str = "auto",
                  receipt: bool = True, **headers) -> str:
        """Subscribe and (by default) wait for the broker to confirm it with a RECEIPT."""
        sub_id = sub_id or unique("sub")
        rid = unique("r-sub") if receipt else None
        if rid:
            headers["receipt"] = rid
        self.conn.subscribe(destination, id=sub_id, ack=ack, headers=headers)
        if rid:
            self.listener.wait_receipt(rid)
        return sub_id

    def unsubscribe(self, sub_id: str, receipt: bool = True):
        rid = unique("r-unsub") if receipt else None
        headers = {"receipt": rid} if rid else {}
        if self.version == "1.0":
            self.conn.unsubscribe(id=sub_id, headers=headers)
        else:
            self.conn.unsubscribe(sub_id, headers=headers)
        if rid:
            self.listener.wait_receipt(rid)

    def ack_args(self, frame) -> dict:
        h = frame.headers
        if self.version == "1.0":
            return {"id": h["message-id"]}
        if self.version == "1.1":
            return {"id": h["message-id"], "subscription": h["subscription"]}
        return {"id": h["ack"]}

    def ack(self, frame, transaction: str | None = None, receipt: str | None = None, wait: bool = True):
        rid = receipt or (unique("r-ack") if wait else None)
        self.conn.ack(**self.ack_args(frame), transaction=transaction, receipt=rid)
        if wait:
            self.listener.wait_receipt(rid)

    def nack(self, frame, transaction: str | None = None, wait: bool = True):
        rid = unique("r-nack") if wait else None
        self.conn.nack(**self.ack_args(frame), transaction=transaction, receipt=rid)
        if wait:
            self.listener.wait_receipt(rid)

    def begin(self, transaction: str | None = None) -> str:
        tx = transaction or unique("tx")
        rid = unique("r-begin")
        self.conn.begin(tx, headers={"receipt": rid})
        self.listener.wait_receipt(rid)
        return tx

    def commit(self, tx: str):
        rid = unique("r-commit")
        self.conn.commit(tx, headers={"receipt": rid})
        self.listener.wait_receipt(rid)

    def abort(self, tx: str):
        rid = unique("r-abort")
        self.conn.abort(tx, headers={"receipt": rid})
        self.listener.wait_receipt(rid)

    def sync(self):
        """Round-trip a receipt-bearing frame, so everything sent before it has been processed."""
        rid = unique("r-sync")
        # BEGIN+ABORT would also do; a receipt on a no-op UNSUBSCRIBE is not portable.
        self.conn.begin(rid, headers={"receipt": rid})
        self.listener.wait_receipt(rid)
        self.conn.abort(rid)

    # -- closing -----------------------------------------------------------------------------
    def disconnect(self, timeout: float = WAIT):
        """Polite DISCONNECT with a receipt; waits for it and for the socket to close."""
        if self.closed:
            return
        self.closed = True
        if not self.conn.is_connected():
            self.kill()
            return
        rid = unique("r-disc")
        # The protocol-level disconnect sends DISCONNECT with our receipt and lets the receipt
        # close the socket; the connection-level one would also wait, unbounded, for the I/O thread.
        proto = stomp.protocol.Protocol10 if self.version == "1.0" else stomp.protocol.Protocol11
        try:
            proto.disconnect(self.conn, receipt=rid)
        except Exception:  # noqa: BLE001 - already gone
            self.kill()
            return
        try:
            self.listener.wait_receipt(rid, timeout)
        finally:
            self.kill()

    def kill(self):
        """Drop the TCP connection without DISCONNECT (a crashed client)."""
        self.closed = True
        try:
            self.conn.transport.disconnect_socket()
        except Exception:  # noqa: BLE001
            pass
        self.listener.disconnected.wait(WAIT)


def raw(timeout: float = WAIT) -> RawStomp:
    return RawStomp(HOST, PORT, timeout)


def raw_connected(version: str = "1.2", **extra) -> RawStomp:
    c = raw()
    headers = {"accept-version": version, "host": "localhost", **extra}
    frame = c.connect(headers)
    assert frame.command == "CONNECTED", frame
    return c
