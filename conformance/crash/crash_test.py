#!/usr/bin/env python3
"""Crash consistency of durable messages: SIGKILL the broker at random moments, restart it on the
same data directory, and prove that

* every message whose persistent SEND got a RECEIPT is delivered after the restart (none lost),
* no message whose ACK got a RECEIPT is ever delivered again (none resurrected),
* only ids this test sent ever arrive (no unknown ids).

Redeliveries of messages that were not ACK-receipted are allowed (at-least-once) and counted.

With ``--nack-rate F`` the round's consumer NACKs a fraction F of what it receives from the
queues instead of ACKing it, on a broker configured to dead-letter at the first NACK (queue
``X`` to ``DLQ.X``, one atomic store write); it also consumes the DLQs, and drains drain them
too. A delivery from ``DLQ.X`` counts as a delivery of the same id, so the rules above hold
across queue and DLQ, and further: a DLQ delivery carries ``original-destination:/queue/X``,
every delivery of an id carries the same ``message-id``, only NACKed messages reach a DLQ, and a
message read back from its DLQ after a restart (so its move was durable) is never delivered
from its queue again.

Each round: K producer connections send persistent messages with unique ids (the body, e.g.
``r3-p1-42``) and a receipt to a few queues, pipelining a small window of SENDs; one consumer
connection subscribes to every queue with ``client-individual`` and ACKs (with a receipt) most
of what it receives; after a random 50-800 ms the broker is SIGKILLed, sometimes SIGKILLed once
more while it starts up again, and restarted. Every ``--drain-every`` rounds (and after the last
one) the queues are drained on the restarted broker and the ledger is checked. A final check
kills and restarts the broker once more after everything is ACKed: only the drain markers may
arrive then.

What the client cannot know is not held against the broker: a SEND whose RECEIPT had not arrived
at the kill may or may not survive, and an ACK whose RECEIPT had not arrived may or may not have
taken effect (the message may come back once, but must not come back after a drain showed it
gone).

Plain Python 3 and raw sockets, loopback only; every wait and every loop is bounded.

    crash_test.py --bin target/release/ferromq [--rounds 5] [--seed S] [--work DIR]
    crash_test.py --bin ... --nack-rate 0.3     NACK 30% of deliveries: dead-lettering under crashes
    crash_test.py --self-test      check the ledger's classification on scripted events

Exit status: 0 all good; 1 loss, resurrection, unknown ids, a protocol error or (any problem kind
of PROBLEM_KINDS) a duplicate, a bad DLQ delivery or a changed message-id; 2 the harness could not
run (broker did not start, a thread hung, a drain never completed, check-config refused).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

HOST = "127.0.0.1"
LISTEN_TIMEOUT = 30.0  # broker start until the `listening ... protocol=stomp` line
IO_TIMEOUT = 5.0  # connect / CONNECTED / a single blocking socket call
POLL = 0.2  # read slice, so threads notice the stop flag
JOIN_TIMEOUT = 10.0  # client threads must finish this long after the kill
DRAIN_TIMEOUT = 120.0  # a whole drain
DRAIN_STALL = 20.0  # a drain with no progress for this long has failed
DRAIN_QUIET = 0.3  # after the markers, no frame for this long ends a drain
PRODUCER_WINDOW = 4  # SENDs in flight per producer connection
ACK_WINDOW = 8  # ACKs in flight (without their RECEIPT) on a round's consumer connection
DRAIN_ACK_WINDOW = 64  # ... on a drain's (nothing is killed during a drain)
PREFETCH = int(os.environ.get("CRASH_PREFETCH", "100"))  # per subscription: keeps ACK RECEIPTs from queueing behind many MESSAGEs
MAX_PER_PRODUCER = 20000  # bound on messages per producer per round
MAX_SAMPLES = 20  # ids shown per problem kind
QUEUE_PREFIX = "/queue/"
DLQ_PREFIX = "DLQ."  # --nack-rate: the dead-letter queue of queue X is DLQ.X
CHECK_CONFIG_TIMEOUT = 30.0

# --nack-rate: appended to the --broker-config file (if any) and passed with --config. One NACK
# is one redelivery past maximumRedeliveries = 0: the message moves to DLQ.<queue> at once.
NACK_CONFIG = f"""
# crash_test.py --nack-rate: dead-letter at the first NACK, queue X to queue {DLQ_PREFIX}X
[redelivery]
defaultEntry = {{ maximumRedeliveries = 0 }}

[[policy]]
queue = ">"
deadLetterStrategy = {{ type = "individual", queuePrefix = "{DLQ_PREFIX}", useQueueForQueueMessages = true }}
"""

# The same for the reference ActiveMQ (without a redeliveryPlugin it dead-letters a STOMP NACK
# at once).
AMQ_NACK_POLICY = f"""
        <destinationPolicy><policyMap><policyEntries>
            <policyEntry queue=">"><deadLetterStrategy>
                <individualDeadLetterStrategy queuePrefix="{DLQ_PREFIX}" useQueueForQueueMessages="true"/>
            </deadLetterStrategy></policyEntry>
        </policyEntries></policyMap></destinationPolicy>"""

PROBLEM_KINDS = ("lost", "resurrected", "unknown", "protocol", "duplicated", "dlq-header", "dlq-without-nack", "id-changed")


def dlq_of(queue: str) -> str:
    """The dead-letter queue of ``/queue/X`` under NACK_CONFIG: ``/queue/DLQ.X``."""
    return QUEUE_PREFIX + DLQ_PREFIX + queue[len(QUEUE_PREFIX):]

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LISTEN_ADDR = re.compile(r'addr="?127\.0\.0\.1:(\d+)')


def log(msg: str) -> None:
    print(f"crash: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# A minimal STOMP 1.2 client over a raw socket.


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace(":", "\\c").replace("\r", "\\r")


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        pair = value[i : i + 2]
        rep = {"\\n": "\n", "\\c": ":", "\\\\": "\\", "\\r": "\r"}.get(pair)
        if rep is not None:
            out.append(rep)
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


@dataclass
class Frame:
    command: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Closed(Exception):
    """The connection is gone (EOF, reset, or any socket error)."""


class Stomp:
    def __init__(self, port: int):
        try:
            self.sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            raise Closed(f"connect: {e}") from e
        self.buf = b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, command: str, headers: dict[str, str], body: bytes = b"") -> None:
        lines = [command] + [f"{k}:{_escape(v)}" for k, v in headers.items()]
        if body:
            lines.append(f"content-length:{len(body)}")
        data = ("\n".join(lines) + "\n\n").encode() + body + b"\0"
        try:
            self.sock.settimeout(IO_TIMEOUT)
            self.sock.sendall(data)
        except OSError as e:  # includes socket.timeout: a broker that stops reading is gone too
            raise Closed(f"send: {e}") from e

    def _parse(self) -> Frame | None:
        self.buf = self.buf.lstrip(b"\r\n")  # heart-beats / EOLs between frames
        end = self.buf.find(b"\n\n")
        if end < 0:
            return None
        head = self.buf[:end].decode("utf-8", "replace").replace("\r", "")
        lines = head.split("\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(_unescape(k), _unescape(v))
        start = end + 2
        if "content-length" in headers:
            n = int(headers["content-length"])
            if len(self.buf) < start + n + 1:
                return None
            body, rest = self.buf[start : start + n], self.buf[start + n + 1 :]
        else:
            nul = self.buf.find(b"\0", start)
            if nul < 0:
                return None
            body, rest = self.buf[start:nul], self.buf[nul + 1 :]
        self.buf = rest
        return Frame(lines[0], headers, body)

    def recv(self, timeout: float) -> Frame | None:
        """The next frame, or None if none is complete within ``timeout``; raises Closed."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                self.sock.settimeout(remaining)
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError as e:
                raise Closed(f"recv: {e}") from e
            if not chunk:
                raise Closed("EOF")
            self.buf += chunk

    def connect(self) -> None:
        self.send("CONNECT", {"accept-version": "1.2", "host": "localhost", "heart-beat": "0,0"})
        frame = self.recv(IO_TIMEOUT)
        if frame is None:
            raise Closed("no CONNECTED within the timeout")
        if frame.command != "CONNECTED":
            raise ProtocolError(f"CONNECT answered with {frame.command} {frame.headers} {frame.body[:200]!r}")


class ProtocolError(Exception):
    """The broker answered with something a correct broker never sends here (e.g. ERROR)."""


# ---------------------------------------------------------------------------------------------
# The ledger: what the client knows about every id it ever sent.

ACK_NONE, ACK_SENT, ACK_DONE = 0, 1, 2


class Msg:
    __slots__ = (
        "queue", "sent_life", "receipted", "ack", "ack_life", "deliveries", "last_life", "gone", "lost",
        "message_id", "nack_life", "nack_open", "home_life", "dlq_life", "dlq_open", "in_dlq",
    )

    def __init__(self, queue: str, life: int):
        self.queue = queue
        self.sent_life = life
        self.receipted = False  # the SEND's RECEIPT arrived: the broker promised durability
        self.ack = ACK_NONE  # ACK_SENT: an ACK is out without its RECEIPT; ACK_DONE: receipted
        self.ack_life = -1  # broker life in which the (last) ACK was sent
        self.deliveries = 0
        self.last_life = -1  # broker life of the last delivery
        self.gone = False  # a drain completed without it while it was allowed to be absent
        self.lost = False
        self.message_id: str | None = None  # the `message-id` header of its first delivery
        self.nack_life = -1  # broker life in which the (last) NACK was sent
        self.nack_open = False  # NACKed, and not delivered again since
        self.home_life = -1  # broker life of the last delivery from its own queue
        self.dlq_life = -1  # broker life of the last delivery from its DLQ
        self.dlq_open = False  # delivered from its DLQ, and not from its queue since
        self.in_dlq = False  # delivered from its DLQ in a life after its NACK's: the move is durable


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.msgs: dict[str, Msg] = {}
        self.redelivered = 0  # deliveries beyond an id's first
        self.problems: dict[str, list[str]] = {k: [] for k in PROBLEM_KINDS}
        self.counts = {k: 0 for k in PROBLEM_KINDS}
        self.ack_lost = 0  # ACKs in flight at a kill that the broker forgot (message came back)
        self.late = 0  # deliveries of ids already reported lost
        self.nacks = 0  # NACKs sent
        self.dlq_deliveries = 0  # deliveries from a DLQ
        self.nack_back = 0  # NACKed messages delivered from their queue again (NACK undone by a kill)
        self.move_undone = 0  # ... of which the DLQ had delivered before the kill (move not yet durable)

    def _problem(self, kind: str, text: str) -> None:
        self.counts[kind] += 1
        if len(self.problems[kind]) < MAX_SAMPLES:
            self.problems[kind].append(text)

    def protocol_error(self, text: str) -> None:
        with self.lock:
            self._problem("protocol", text)

    def register(self, mid: str, queue: str, life: int) -> None:
        with self.lock:
            assert mid not in self.msgs, mid
            self.msgs[mid] = Msg(queue, life)

    def send_receipted(self, mid: str) -> None:
        with self.lock:
            self.msgs[mid].receipted = True

    def delivered(self, mid: str, life: int, queue: str, message_id: str | None = None, original: str | None = None) -> None:
        """A MESSAGE with body ``mid`` from subscription destination ``queue`` (the id's own
        queue or its DLQ), with its ``message-id`` and ``original-destination`` headers."""
        with self.lock:
            m = self.msgs.get(mid)
            if m is None:
                self._problem("unknown", f"{mid!r} on {queue} in life {life}")
                return
            m.deliveries += 1
            if m.deliveries > 1:
                self.redelivered += 1
            from_dlq = queue != m.queue and queue == dlq_of(m.queue)
            if m.queue != queue and not from_dlq:
                self._problem("protocol", f"{mid} sent to {m.queue} but delivered from {queue}")
            if message_id is not None:
                if m.message_id is None:
                    m.message_id = message_id
                elif m.message_id != message_id:
                    self._problem("id-changed", f"{mid} delivered from {queue} in life {life} as message-id {message_id!r}, first as {m.message_id!r}")
            if from_dlq:
                self.dlq_deliveries += 1
                if original != m.queue:
                    self._problem("dlq-header", f"{mid} delivered from {queue} in life {life} with original-destination {original!r}, want {m.queue!r}")
                if m.nack_life < 0:
                    self._problem("dlq-without-nack", f"{mid} delivered from {queue} in life {life} but never NACKed")
                elif m.home_life > m.nack_life:
                    # its queue delivered it in a life after its last NACK's: that NACK's move
                    # never became durable, so nothing could have put it into the DLQ since
                    self._problem("duplicated", f"{mid} delivered from {queue} in life {life} after its queue delivered it in life {m.home_life} (last NACKed in life {m.nack_life})")
                elif life > m.nack_life:
                    m.in_dlq = True  # read back from the store after a restart: the move was durable
                m.dlq_life = life
                m.nack_open, m.dlq_open = False, True
            elif queue == m.queue:
                if m.in_dlq or m.dlq_life == life:
                    where = "earlier in the same life" if m.dlq_life == life else f"in life {m.dlq_life}, after a restart"
                    self._problem("duplicated", f"{mid} delivered from {queue} in life {life} after its DLQ delivered it {where} (last NACKed in life {m.nack_life})")
                elif m.nack_open or m.dlq_open:
                    # the NACK, or the move it made, did not survive a kill: allowed, and counted
                    self.nack_back += 1
                    self.move_undone += m.dlq_open
                m.nack_open = m.dlq_open = False
                m.home_life = life
            if m.lost:
                self.late += 1
            elif m.ack == ACK_DONE:
                self._problem("resurrected", f"{mid} delivered in life {life} after its ACK was receipted in life {m.ack_life}")
            elif m.gone:
                self._problem("resurrected", f"{mid} delivered in life {life} after a drain showed it gone")
            elif m.ack == ACK_SENT and m.ack_life < life:
                # the ACK was in flight at a kill and did not become durable: allowed, redo it
                self.ack_lost += 1
                m.ack = ACK_NONE
            m.last_life = life

    def ack_sent(self, mid: str, life: int) -> None:
        with self.lock:
            m = self.msgs.get(mid)
            if m is not None and m.ack != ACK_DONE:
                m.ack, m.ack_life = ACK_SENT, life

    def nack_sent(self, mid: str, life: int) -> None:
        with self.lock:
            m = self.msgs.get(mid)
            if m is not None:
                self.nacks += 1
                m.nack_life, m.nack_open = life, True

    def ack_receipted(self, mid: str, life: int) -> None:
        with self.lock:
            m = self.msgs.get(mid)
            if m is not None and m.ack != ACK_DONE:
                m.ack, m.ack_life = ACK_DONE, life

    def check_after_drain(self, life: int) -> tuple[int, list[str]]:
        """Classify every id after a complete drain in ``life`` (every queue emptied and every
        delivery ACK-receipted). Returns (newly lost, ids the drain delivered but did not ACK)."""
        newly_lost = 0
        unacked = []
        with self.lock:
            for mid, m in self.msgs.items():
                if m.ack == ACK_DONE or m.gone:
                    continue
                if m.last_life == life:
                    unacked.append(mid)  # delivered by this drain but its ACK is not receipted
                    continue
                m.gone = True
                if m.receipted and m.ack == ACK_NONE:
                    m.lost = True
                    newly_lost += 1
                    self._problem("lost", f"{mid} (queue {m.queue}, {m.deliveries} deliveries, last in life {m.last_life}) absent from the drain in life {life}")
                # else: a SEND or an ACK without RECEIPT at a kill and absent now: allowed (the
                # ACK took effect, the SEND did not); a later delivery counts as resurrected
        return newly_lost, unacked

    def stats(self) -> dict[str, int]:
        with self.lock:
            receipted = sum(1 for m in self.msgs.values() if m.receipted)
            acked = sum(1 for m in self.msgs.values() if m.ack == ACK_DONE)
            unreceipted = [m for m in self.msgs.values() if not m.receipted]
            kept = sum(1 for m in unreceipted if m.last_life > m.sent_life)
            return {
                "sent": len(self.msgs), "receipted": receipted, "acked": acked,
                "unreceipted": len(unreceipted), "unreceipted_kept": kept,
            }


# ---------------------------------------------------------------------------------------------
# The broker process.


class Broker:
    def __init__(self, binary: str, data_dir: str, log_dir: str, config: str | None = None):
        self.binary, self.data_dir, self.log_dir, self.config = binary, data_dir, log_dir, config
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.life = -1
        self.log_path = ""
        self.kills = 0

    def spawn(self) -> None:
        self.life += 1
        self.log_path = os.path.join(self.log_dir, f"broker-{self.life:04d}.log")
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(
                [self.binary, *(["--config", self.config] if self.config else []),
                 "--bind", HOST, "--stomp-port", "0", "--admin-port", "0", "--data-dir", self.data_dir],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                preexec_fn=_die_with_parent,  # no other threads run at spawn time
            )

    def wait_listening(self) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + LISTEN_TIMEOUT
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                text = ANSI.sub("", f.read().decode("utf-8", "replace"))
            for line in text.splitlines():
                if "listening" in line and re.search(r'protocol="?stomp', line):
                    m = LISTEN_ADDR.search(line)
                    if m:
                        self.port = int(m.group(1))
                        return self.port
            if self.proc.poll() is not None:
                raise self._failure(f"broker life {self.life} exited with {self.proc.returncode} before listening\n{self.tail()}")
            time.sleep(0.02)
        raise self._failure(f"broker life {self.life}: no listening line within {LISTEN_TIMEOUT}s\n{self.tail()}")

    def _failure(self, text: str) -> HarnessError:
        # the first start failing is a set-up problem; a restart failing is the broker's fault
        return BrokerFailure(text) if self.life > 0 else HarnessError(text)

    def start(self) -> int:
        self.spawn()
        return self.wait_listening()

    def kill9(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.kills += 1
        try:
            self.proc.wait(timeout=JOIN_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f"broker pid {self.proc.pid} survived SIGKILL for {JOIN_TIMEOUT}s") from e
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=JOIN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=JOIN_TIMEOUT)
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(f"  | {ANSI.sub('', line)}" for line in lines[-n:])
        except OSError:
            return ""


class HarnessError(Exception):
    """The test itself could not run to a verdict."""


class BrokerFailure(HarnessError):
    """The broker did not come back after a crash: a failure of the broker, not the harness."""


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the thread that spawned it (our main thread)
    dies, so a killed harness (e.g. by run.sh's timeout) leaves no broker behind."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


AMQ_JAR = "/usr/share/activemq/bin/activemq.jar"
AMQ_START_TIMEOUT = 120.0

AMQ_XML = """<beans
  xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
    <broker xmlns="http://activemq.apache.org/schema/core" brokerName="ferromq-crash-reference"
            useJmx="false" dataDirectory="{data}">{policy}
        <persistenceAdapter><kahaDB directory="{data}/kahadb"/></persistenceAdapter>
        <transportConnectors>
            <transportConnector name="stomp" uri="stomp://127.0.0.1:{port}?transport.closeAsync=false"/>
        </transportConnectors>
    </broker>
</beans>
"""

AMQ_LOG4J = """log4j.rootLogger=INFO, console
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{HH:mm:ss.SSS} %5p | %m | %c{1} | %t%n
"""


class ActiveMQ(Broker):
    """The reference: Debian's ActiveMQ 5.17 with KahaDB (defaults: journal synced on every
    persistent SEND), on a fixed loopback port, for checking the harness against a broker that
    is known to keep receipted messages. Start-up takes seconds, so use few rounds."""

    def __init__(self, data_dir: str, log_dir: str, policy: str = ""):
        super().__init__("java", data_dir, log_dir)
        if not os.path.exists(AMQ_JAR):
            raise HarnessError(f"{AMQ_JAR} missing: run conformance/reference/activemq.sh install")
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.port = s.getsockname()[1]
        self.conf = os.path.join(log_dir, "amq-conf")
        os.makedirs(os.path.join(log_dir, "amq-tmp"), exist_ok=True)
        os.makedirs(self.conf, exist_ok=True)
        with open(os.path.join(self.conf, "activemq.xml"), "w") as f:
            f.write(AMQ_XML.format(data=data_dir, port=self.port, policy=policy))
        with open(os.path.join(self.conf, "log4j.properties"), "w") as f:
            f.write(AMQ_LOG4J)

    def spawn(self) -> None:
        self.life += 1
        self.log_path = os.path.join(self.log_dir, f"broker-{self.life:04d}.log")
        base = os.path.dirname(self.conf)
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    "java", "-Xms64m", "-Xmx512m", "-Djava.awt.headless=true",
                    f"-Djava.io.tmpdir={base}/amq-tmp", "-Dactivemq.home=/usr/share/activemq",
                    f"-Dactivemq.base={base}", f"-Dactivemq.conf={self.conf}",
                    f"-Dactivemq.data={self.data_dir}",
                    f"-Dlog4j.configuration=file:{self.conf}/log4j.properties",
                    "-jar", AMQ_JAR, "start", f"xbean:file:{self.conf}/activemq.xml",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # no other threads run at spawn time
            )

    def wait_listening(self) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + AMQ_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self._failure(f"ActiveMQ life {self.life} exited with {self.proc.returncode}\n{self.tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1.0):
                    return self.port
            except OSError:
                time.sleep(0.1)
        raise self._failure(f"ActiveMQ life {self.life}: port {self.port} closed after {AMQ_START_TIMEOUT}s\n{self.tail()}")


# ---------------------------------------------------------------------------------------------
# Client threads.


class Client(threading.Thread):
    """A thread that ends on a Closed connection (expected after a kill) or the stop flag."""

    def __init__(self, name: str, ledger: Ledger, port: int, life: int, stop: threading.Event, deadline: float):
        super().__init__(name=name, daemon=True)
        self.ledger, self.port, self.life, self.stop, self.deadline = ledger, port, life, stop, deadline
        self.closed_by: str | None = None  # why the connection ended, if it did
        self.conn: Stomp | None = None

    def run(self) -> None:
        try:
            self.conn = Stomp(self.port)
            self.conn.connect()
            self.body()
        except Closed as e:
            self.closed_by = str(e)
        except ProtocolError as e:
            self.ledger.protocol_error(f"{self.name} (life {self.life}): {e}")
        except Exception as e:  # a bug in the harness must not look like a pass
            self.ledger.protocol_error(f"{self.name} (life {self.life}): harness exception {e!r}")
        finally:
            if self.conn is not None:
                self.conn.close()

    def running(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def body(self) -> None:
        raise NotImplementedError


class Producer(Client):
    def __init__(self, idx: int, tag: str, queues: list[str], rng: random.Random, *a, **kw):
        super().__init__(f"producer-{idx}", *a, **kw)
        self.idx, self.tag, self.queues, self.rng = idx, tag, queues, rng
        self.sent = 0

    def body(self) -> None:
        conn = self.conn
        assert conn is not None
        outstanding: dict[str, str] = {}  # receipt id -> message id
        while self.running():
            while len(outstanding) < PRODUCER_WINDOW and self.sent < MAX_PER_PRODUCER and self.running():
                mid = f"{self.tag}-p{self.idx}-{self.sent}"
                queue = self.rng.choice(self.queues)
                self.ledger.register(mid, queue, self.life)  # before the bytes leave: a delivery may race us
                self.sent += 1
                conn.send(
                    "SEND",
                    {"destination": queue, "persistent": "true", "receipt": "s:" + mid, "content-type": "text/plain"},
                    mid.encode(),
                )
                outstanding["s:" + mid] = mid
            if not outstanding:
                return  # MAX_PER_PRODUCER reached and everything receipted
            frame = conn.recv(POLL)
            if frame is None:
                continue
            if frame.command == "RECEIPT":
                mid = outstanding.pop(frame.headers.get("receipt-id", ""), None)
                if mid is None:
                    raise ProtocolError(f"unexpected RECEIPT {frame.headers}")
                self.ledger.send_receipted(mid)
            else:
                raise ProtocolError(f"{frame.command} {frame.headers} {frame.body[:200]!r}")


class Consumer(Client):
    """Subscribes to every queue (client-individual) and ACKs with receipts. In chaos mode it
    leaves a fraction of deliveries un-ACKed (they must come back after the kill), and with
    ``nack_rate`` NACKs a fraction of what its ``nack_queues`` deliver (without a receipt: the
    broker answers a NACK's receipt before the NACK's effect is durable, so it would promise
    nothing the ledger could hold the broker to)."""

    def __init__(self, queues: list[str], skip_ack: float, rng: random.Random, *a,
                 nack_rate: float = 0.0, nack_queues: frozenset[str] = frozenset(), **kw):
        super().__init__("consumer", *a, **kw)
        self.queues, self.skip_ack, self.rng = queues, skip_ack, rng
        self.nack_rate, self.nack_queues = nack_rate, nack_queues
        self.pending: dict[str, str] = {}  # ACK receipt id -> message id
        self.to_ack: deque[tuple[str, str, bool]] = deque()  # (message id, ack header, NACK?) not sent yet
        self.ack_window = ACK_WINDOW
        self.ack_receipts = 0
        self.lock = threading.Lock()
        self.seen: set[str] = set()  # ids delivered to this connection
        self.last_frame = time.monotonic()
        self.subscribed = threading.Event()
        self.acks = 0
        self.nacks = 0

    def progress(self) -> tuple[int, float]:
        """(ACKs not yet sent or not yet receipted, time of the last frame received)"""
        with self.lock:
            return len(self.pending) + len(self.to_ack), self.last_frame

    def flush_acks(self) -> None:
        """Send queued ACKs while fewer than ACK_WINDOW await their RECEIPT, so that an ACK
        without RECEIPT at the kill (which the ledger cannot hold against the broker) is rare."""
        assert self.conn is not None
        while True:
            with self.lock:
                if not self.to_ack or len(self.pending) >= self.ack_window:
                    return
                mid, ack_id, nack = self.to_ack.popleft()
                if nack:
                    self.nacks += 1
            if nack:
                self.ledger.nack_sent(mid, self.life)
                self.conn.send("NACK", {"id": ack_id})
                continue
            with self.lock:
                self.acks += 1
                rid = f"a:{self.acks}"
                self.pending[rid] = mid
            self.ledger.ack_sent(mid, self.life)
            self.conn.send("ACK", {"id": ack_id, "receipt": rid})

    def body(self) -> None:
        conn = self.conn
        assert conn is not None
        sub_queue: dict[str, str] = {}
        for i, q in enumerate(self.queues):
            sub_queue[f"sub-{i}"] = q
            conn.send(
                "SUBSCRIBE",
                {
                    "id": f"sub-{i}",
                    "destination": q,
                    "ack": "client-individual",
                    "activemq.prefetchSize": str(PREFETCH),
                    "receipt": f"sub-{i}",
                },
            )
        waiting_subs = set(sub_queue)
        while self.running():
            self.flush_acks()
            frame = conn.recv(POLL)
            if frame is None:
                continue
            with self.lock:
                self.last_frame = time.monotonic()
            if frame.command == "MESSAGE":
                mid = frame.body.decode("utf-8", "replace")
                queue = sub_queue.get(frame.headers.get("subscription", ""), "?")
                self.ledger.delivered(
                    mid, self.life, queue, frame.headers.get("message-id"), frame.headers.get("original-destination")
                )
                with self.lock:
                    self.seen.add(mid)
                # one draw per delivery, as without --nack-rate: [0, skip) skip, [skip, skip + nack) NACK
                r = self.rng.random() if self.skip_ack or self.nack_rate else 1.0
                if r < self.skip_ack:
                    continue
                nack = queue in self.nack_queues and r < self.skip_ack + self.nack_rate
                ack_id = frame.headers.get("ack")
                if ack_id is None:
                    raise ProtocolError(f"MESSAGE without an ack header on a client-individual subscription: {frame.headers}")
                with self.lock:
                    self.to_ack.append((mid, ack_id, nack))
            elif frame.command == "RECEIPT":
                rid = frame.headers.get("receipt-id", "")
                if rid in waiting_subs:
                    waiting_subs.discard(rid)
                    if not waiting_subs:
                        self.subscribed.set()
                    continue
                with self.lock:
                    mid = self.pending.pop(rid, None)
                if mid is None:
                    raise ProtocolError(f"unexpected RECEIPT {frame.headers}")
                self.ack_receipts += 1
                self.ledger.ack_receipted(mid, self.life)
            else:
                raise ProtocolError(f"{frame.command} {frame.headers} {frame.body[:200]!r}")


def join_all(threads: list[threading.Thread]) -> None:
    deadline = time.monotonic() + JOIN_TIMEOUT
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    hung = [t.name for t in threads if t.is_alive()]
    if hung:
        raise HarnessError(f"client threads still running {JOIN_TIMEOUT}s after the kill: {hung}")


# ---------------------------------------------------------------------------------------------
# The test.


@dataclass
class Options:
    binary: str
    work: str
    rounds: int
    seed: int
    producers: int
    queues: int
    kill_min: float
    kill_max: float
    drain_every: int
    budget: float
    skip_ack: float
    startup_kill: float
    reference: bool
    broker_config: str | None
    nack_rate: float = 0.0


class CrashTest:
    def __init__(self, opt: Options):
        self.opt = opt
        self.rng = random.Random(opt.seed)
        self.ledger = Ledger()
        self.queues = [f"/queue/ferromq.crash.q{i}" for i in range(opt.queues)]
        # --nack-rate: the queues' DLQs are consumed (and drained, with markers of their own) too
        self.dlqs = [dlq_of(q) for q in self.queues] if opt.nack_rate else []
        data = os.path.join(opt.work, "data")
        os.makedirs(data, exist_ok=True)
        if opt.reference:
            self.broker: Broker = ActiveMQ(data, opt.work, AMQ_NACK_POLICY if opt.nack_rate else "")
        else:
            config = opt.broker_config
            if opt.nack_rate:
                config = os.path.join(opt.work, "ferromq-nack.toml")
                base = ""
                if opt.broker_config:
                    with open(opt.broker_config) as f:
                        base = f"# from {opt.broker_config}\n{f.read()}\n"
                with open(config, "w") as f:
                    f.write(base + NACK_CONFIG)
            self.broker = Broker(opt.binary, data, opt.work, config)
        self.rounds_done = 0
        self.drains = 0
        self.startup_kills = 0
        self.closed_early = 0  # client connections that ended before the kill (should be 0)

    def chaos_round(self, rnd: int) -> None:
        """Load the running broker and SIGKILL it after a random delay."""
        stop = threading.Event()
        life, port = self.broker.life, self.broker.port
        delay = self.rng.uniform(self.opt.kill_min, self.opt.kill_max)
        deadline = time.monotonic() + delay + JOIN_TIMEOUT
        consumer = Consumer(
            self.queues + self.dlqs, self.opt.skip_ack, random.Random(self.rng.random()), self.ledger, port, life, stop, deadline,
            nack_rate=self.opt.nack_rate, nack_queues=frozenset(self.queues),
        )
        producers = [
            Producer(i, f"r{rnd}", self.queues, random.Random(self.rng.random()), self.ledger, port, life, stop, deadline)
            for i in range(self.opt.producers)
        ]
        threads: list[Client] = [consumer, *producers]
        for t in threads:
            t.start()
        time.sleep(delay)
        early = [t.name for t in threads if not t.is_alive()]
        self.broker.kill9()
        stop.set()
        join_all(threads)
        for t in threads:
            if t.name in early and t.closed_by is not None:
                self.closed_early += 1
                self.ledger.protocol_error(f"round {rnd}: {t.name} lost its connection before the kill: {t.closed_by}")
        log(
            f"round {rnd}: life {life} killed after {delay * 1000:.0f} ms; "
            f"sent {sum(p.sent for p in producers)}, consumer ACKs {consumer.acks} ({consumer.ack_receipts} receipted)"
            + (f", NACKs {consumer.nacks}" if self.opt.nack_rate else "")
        )

    def restart(self) -> None:
        """Start the broker again; sometimes SIGKILL it during start-up first."""
        if self.rng.random() < self.opt.startup_kill:
            self.broker.spawn()
            time.sleep(self.rng.uniform(0.0, 0.15))
            self.broker.kill9()
            self.startup_kills += 1
        self.broker.start()

    def drain(self) -> None:
        """On the running broker: consume and ACK everything until each queue's fresh marker
        (sent after subscribing, so behind everything older) arrives and the connection is
        quiet; then check the ledger."""
        life, port = self.broker.life, self.broker.port
        self.drains += 1
        stop = threading.Event()
        hard_deadline = time.monotonic() + DRAIN_TIMEOUT
        dests = self.queues + self.dlqs
        consumer = Consumer(dests, 0.0, random.Random(0), self.ledger, port, life, stop, hard_deadline + 1)
        consumer.ack_window = DRAIN_ACK_WINDOW
        consumer.start()
        try:
            if not consumer.subscribed.wait(IO_TIMEOUT):
                raise HarnessError(f"drain in life {life}: subscriptions not receipted within {IO_TIMEOUT}s")
            markers = [f"m{life}-q{i}" for i in range(len(self.queues))] + [f"m{life}-d{i}" for i in range(len(self.dlqs))]
            conn = Stomp(port)
            try:
                conn.connect()
                for mid, q in zip(markers, dests):
                    self.ledger.register(mid, q, life)
                    conn.send("SEND", {"destination": q, "persistent": "true", "receipt": mid}, mid.encode())
                got = 0
                while got < len(markers):
                    frame = conn.recv(min(IO_TIMEOUT, max(0.0, hard_deadline - time.monotonic())))
                    if frame is None or frame.command != "RECEIPT":
                        raise HarnessError(f"drain in life {life}: marker SEND answered by {frame}")
                    rid = frame.headers.get("receipt-id", "")
                    if rid not in markers:
                        raise HarnessError(f"drain in life {life}: unexpected RECEIPT {frame.headers}")
                    self.ledger.send_receipted(rid)
                    got += 1
            finally:
                conn.close()
            last_progress = (-1, -1.0)
            stall_since = time.monotonic()
            while True:
                now = time.monotonic()
                if not consumer.is_alive():
                    raise HarnessError(f"drain in life {life}: consumer ended early ({consumer.closed_by})")
                pending, last_frame = consumer.progress()
                with consumer.lock:
                    markers_in = all(m in consumer.seen for m in markers)
                if markers_in and pending == 0 and now - last_frame >= DRAIN_QUIET:
                    break
                if (pending, last_frame) != last_progress:
                    last_progress, stall_since = (pending, last_frame), now
                if now - stall_since > DRAIN_STALL or now > hard_deadline:
                    missing = [m for m in markers if m not in consumer.seen]
                    raise HarnessError(
                        f"drain in life {life} incomplete: markers missing {missing}, {pending} ACK receipts pending"
                    )
                time.sleep(0.02)
        finally:
            stop.set()
            join_all([consumer])
        lost, unacked = self.ledger.check_after_drain(life)
        if unacked:
            raise HarnessError(f"drain in life {life}: delivered but not ACK-receipted: {unacked[:MAX_SAMPLES]}")
        log(f"drain in life {life}: {len(consumer.seen)} delivered, {lost} lost")

    def check_config(self) -> None:
        """--nack-rate: `ferromq --config F check-config` on the generated file, so a key the
        broker does not take is a clear harness error rather than a broker that never listens."""
        if self.opt.reference or not self.broker.config:
            return
        try:
            res = subprocess.run(
                [self.broker.binary, "--config", self.broker.config, "check-config"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=CHECK_CONFIG_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise HarnessError(f"check-config on {self.broker.config}: {e}") from e
        if res.returncode != 0:
            out = ANSI.sub("", (res.stdout + res.stderr).decode("utf-8", "replace")).split("Stack backtrace:")[0].strip()
            raise HarnessError(f"check-config refused {self.broker.config} (exit {res.returncode}):\n{out}")

    def run(self) -> int:
        start = time.monotonic()
        try:
            if self.opt.nack_rate:
                self.check_config()
            self.broker.start()
            for rnd in range(1, self.opt.rounds + 1):
                if self.opt.budget and time.monotonic() - start > self.opt.budget:
                    log(f"time budget of {self.opt.budget:.0f}s used up: stopping after {rnd - 1} rounds")
                    break
                self.chaos_round(rnd)
                self.restart()
                self.rounds_done = rnd
                if rnd % self.opt.drain_every == 0 or rnd == self.opt.rounds:
                    self.drain()
            if self.rounds_done % self.opt.drain_every != 0 and self.rounds_done != self.opt.rounds:
                self.drain()  # stopped early by the budget: check what was done
            # Everything is ACK-receipted now: one more crash and restart must bring nothing back.
            self.broker.kill9()
            self.broker.start()
            self.drain()
            self.broker.stop()
        except BrokerFailure as e:
            log(f"FAIL: the broker did not come back after a crash: {e}")
            self.summary(time.monotonic() - start)
            return 1
        except HarnessError as e:
            log(f"HARNESS ERROR: {e}")
            if self.broker.alive():
                log(f"broker log (life {self.broker.life}):\n{self.broker.tail()}")
            self.summary(time.monotonic() - start)
            return 2
        except KeyboardInterrupt:
            log("interrupted")
            return 130
        finally:
            try:
                self.broker.kill9()
            except HarnessError:
                pass
        return self.summary(time.monotonic() - start)

    def summary(self, took: float) -> int:
        led = self.ledger
        st = led.stats()
        c = led.counts
        for kind in PROBLEM_KINDS:
            if c[kind]:
                log(f"{c[kind]} {kind}; first ones:")
                for line in led.problems[kind]:
                    log(f"  {line}")
        log(
            f"seed {self.opt.seed}; {self.broker.kills} SIGKILLs ({self.startup_kills} during start-up), "
            f"{self.drains} drains, {st['sent']} ids sent, {st['acked']} ACK-receipted; "
            f"without RECEIPT at a kill: {st['unreceipted']} SENDs ({st['unreceipted_kept']} delivered after it), "
            f"{led.ack_lost} ACKs undone (message came back)"
            + (
                f"; {led.nacks} NACKs, {led.dlq_deliveries} deliveries from a DLQ, "
                f"{led.nack_back} NACKed messages back in their queue after a kill "
                f"({led.move_undone} of them after their DLQ had delivered them)"
                if self.opt.nack_rate else ""
            )
            + f"; {took:.1f}s"
        )
        print(
            f"crash: {self.rounds_done} rounds, {st['receipted']} receipted, {c['lost']} lost, "
            f"{c['resurrected']} resurrected, {led.redelivered} redelivered"
            + (f", {led.nacks} NACKed, {led.dlq_deliveries} from a DLQ" if self.opt.nack_rate else "")
            + (f", {c['unknown']} unknown" if c["unknown"] else "")
            + (f", {c['protocol']} protocol errors" if c["protocol"] else "")
            + "".join(f", {c[k]} {k}" for k in PROBLEM_KINDS[4:] if c[k]),
            flush=True,
        )
        return 1 if any(c.values()) else 0


# ---------------------------------------------------------------------------------------------
# Self-test of the ledger's classification (no broker).


def self_test() -> int:
    led = Ledger()
    q = "/queue/x"
    for mid in ("ok", "lost", "res", "dup", "inflight", "ackgone", "ackundone", "gone-back", "kept"):
        led.register(mid, q, 0)
    for mid in ("ok", "lost", "res", "dup", "ackgone", "ackundone", "gone-back"):
        led.send_receipted(mid)
    # life 0: deliveries; "ok" and "res" ACK-receipted, "ackgone"/"ackundone" ACK in flight
    for mid in ("ok", "res", "dup", "ackgone", "ackundone", "kept"):
        led.delivered(mid, 0, q)
    for mid in ("ok", "res", "ackgone", "ackundone"):
        led.ack_sent(mid, 0)
    led.ack_receipted("ok", 0)
    led.ack_receipted("res", 0)
    # (kill) life 1, drain: "res" comes back (bad), "dup" again (fine), "ackundone" again (fine),
    # "gone-back" delivered (fine, receipted, never ACKed) and "kept" (unreceipted, survived);
    # "lost" never shows up (bad), "inflight" (unreceipted) and "ackgone" may stay away
    for mid in ("res", "dup", "ackundone", "gone-back", "kept"):
        led.delivered(mid, 1, q)
        led.ack_sent(mid, 1)
        led.ack_receipted(mid, 1)
    led.delivered("stranger", 1, q)
    lost, unacked = led.check_after_drain(1)
    checks = [
        (lost, 1),
        (unacked, []),
        (led.counts["lost"], 1),
        (led.counts["resurrected"], 1),
        (led.counts["unknown"], 1),
        (led.redelivered, 4),  # res, dup, ackundone, kept
        (led.ack_lost, 1),  # ackundone
        (led.stats()["unreceipted"], 2),  # inflight, kept
        (led.stats()["unreceipted_kept"], 1),  # kept
        (led.msgs["ackgone"].gone, True),
    ]
    # life 2: "ackgone" reappearing after the drain showed it gone is a resurrection; a second
    # check finds nothing new
    led.delivered("ackgone", 2, q)
    led.ack_sent("ackgone", 2)
    led.ack_receipted("ackgone", 2)
    checks += [(led.counts["resurrected"], 2), (led.check_after_drain(2), (0, []))]
    checks += dlq_self_test()
    bad = [(i, got, want) for i, (got, want) in enumerate(checks) if got != want]
    for i, got, want in bad:
        log(f"self-test check {i}: got {got!r}, want {want!r}")
    print(f"crash self-test: {len(checks) - len(bad)}/{len(checks)} checks passed")
    return 1 if bad else 0


def dlq_self_test() -> list[tuple[object, object]]:
    """--nack-rate events: deliveries from the DLQ count for the same id; the DLQ-specific
    problem kinds. Returns (got, want) pairs."""
    led = Ledger()
    q, other = "/queue/x", "/queue/y"
    d = dlq_of(q)

    def deliver(mid: str, life: int, dest: str, original: str | None = None, message_id: str | None = None) -> None:
        led.delivered(mid, life, dest, message_id or f"ID:{mid}", original)

    def ack(mid: str, life: int) -> None:
        led.ack_sent(mid, life)
        led.ack_receipted(mid, life)

    ids = ("moved", "nack-lost", "move-undone", "nack-undone", "dup-same", "dup-later", "hdr", "no-nack", "newid", "dlq-res", "wrong-dlq", "drained", "dup-rev")
    for mid in ids:
        led.register(mid, q, 0)
        led.send_receipted(mid)
    # life 0: every id delivered from its queue; all but "no-nack" and "newid" NACKed
    for mid in ids:
        deliver(mid, 0, q)
        if mid not in ("no-nack", "newid"):
            led.nack_sent(mid, 0)
    # ... "moved" and "dlq-res" reach the DLQ and are ACK-receipted there (fine); "move-undone",
    # "dup-same", "hdr" are delivered from it unACKed; "no-nack" comes from the DLQ although
    # never NACKed (bad); "hdr" without original-destination (bad)
    for mid in ("moved", "dlq-res", "move-undone", "dup-same"):
        deliver(mid, 0, d, q)
    deliver("hdr", 0, d, None)
    deliver("no-nack", 0, d, q)
    ack("moved", 0)
    ack("dlq-res", 0)
    # "dup-same" then comes from its queue too in the same life (bad: in both at once)
    deliver("dup-same", 0, q)
    # (kill) life 1, drain of queue and DLQ: "move-undone" back in its queue (its move was not
    # yet durable: fine), "nack-undone" back in its queue (NACK not applied: fine), "dup-later"
    # read back from the DLQ (its move is durable now), "newid" with another message-id (bad),
    # "wrong-dlq" from another queue's DLQ (bad), "dlq-res" again (bad: ACK-receipted);
    # "nack-lost" in neither (bad); "drained" (NACKed in life 0, unresolved until now) from the DLQ
    deliver("move-undone", 1, q)
    deliver("nack-undone", 1, q)
    deliver("dup-later", 1, d, q)
    deliver("hdr", 1, d, q)
    deliver("dup-same", 1, d, q)
    deliver("no-nack", 1, d, q)
    deliver("newid", 1, q, message_id="ID:other")
    deliver("wrong-dlq", 1, dlq_of(other), q)
    deliver("dlq-res", 1, d, q)
    deliver("drained", 1, d, q)
    # "dup-rev" (its life-0 NACK undone: fine) comes from its queue, then from its DLQ without a
    # new NACK (bad: the store held it in both)
    deliver("dup-rev", 1, q)
    deliver("dup-rev", 1, d, q)
    for mid in ("move-undone", "nack-undone", "dup-later", "hdr", "dup-same", "no-nack", "newid", "wrong-dlq", "dlq-res", "drained", "dup-rev"):
        ack(mid, 1)
    lost, unacked = led.check_after_drain(1)
    checks: list[tuple[object, object]] = [
        (lost, 1),  # nack-lost
        (unacked, []),
        (led.counts["lost"], 1),
        (led.counts["resurrected"], 1),  # dlq-res
        (led.counts["duplicated"], 2),  # dup-same, dup-rev
        (led.counts["dlq-header"], 1),  # hdr
        (led.counts["dlq-without-nack"], 2),  # no-nack, twice
        (led.counts["id-changed"], 1),  # newid
        (led.counts["protocol"], 1),  # wrong-dlq
        (led.nacks, 11),
        (led.nack_back, 3),  # move-undone, nack-undone, dup-rev
        (led.move_undone, 1),  # move-undone
        (led.dlq_deliveries, 13),
        (led.msgs["dup-later"].in_dlq, True),
        (led.msgs["move-undone"].in_dlq, False),
    ]
    # life 2: "dup-later" (durably in its DLQ since life 1) delivered from its queue: duplicated
    # (and resurrected, as its ACK was receipted in life 1); "drained" was resolved by the drain
    led.delivered("dup-later", 2, q, "ID:dup-later")
    checks += [(led.counts["duplicated"], 3), (led.counts["resurrected"], 2), (led.msgs["drained"].ack, ACK_DONE)]
    return checks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="the ferromq binary")
    ap.add_argument("--reference", action="store_true", help="test Debian's ActiveMQ 5.17 (KahaDB) instead of ferromq")
    ap.add_argument("--broker-config", help="pass --config FILE to ferromq (e.g. sync = \"periodic\", a small memory_limit_mb)")
    ap.add_argument("--work", help="work directory (data dir and broker logs); must be empty or new")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: time-based, printed)")
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--queues", type=int, default=3)
    ap.add_argument("--kill-min-ms", type=int, default=50)
    ap.add_argument("--kill-max-ms", type=int, default=800)
    ap.add_argument("--drain-every", type=int, default=1, help="drain and check every N rounds (and after the last)")
    ap.add_argument("--skip-ack", type=float, default=0.1, help="fraction of deliveries left un-ACKed during a round")
    ap.add_argument("--startup-kill", type=float, default=0.2, help="probability of an extra SIGKILL during start-up")
    ap.add_argument(
        "--nack-rate", type=float, default=0.0,
        help="fraction of deliveries from the queues the round's consumer NACKs (no receipt) instead of ACKing; "
        "the broker then dead-letters at the first NACK (queue X to DLQ.X) and the DLQs are consumed and drained too "
        "(default 0: no NACKs, no DLQs)",
    )
    ap.add_argument("--budget", type=float, default=0.0, help="start no new round after this many seconds (0: no limit)")
    ap.add_argument("--self-test", action="store_true", help="only check the ledger logic, no broker")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not (a.bin or a.reference) or not a.work:
        ap.error("--bin (or --reference) and --work are required")
    if a.rounds < 1 or a.drain_every < 1 or a.producers < 1 or a.queues < 1 or not 0 < a.kill_min_ms <= a.kill_max_ms:
        ap.error("bad --rounds/--drain-every/--producers/--queues/--kill-*-ms")
    if not (0 <= a.skip_ack <= 1 and 0 <= a.nack_rate <= 1 and a.skip_ack + a.nack_rate <= 1):
        ap.error("--skip-ack and --nack-rate must be in [0, 1] with a sum of at most 1")
    seed = a.seed if a.seed is not None else int(time.time() * 1000) % 1_000_000
    os.makedirs(a.work, exist_ok=True)
    if os.listdir(a.work):
        ap.error(f"--work {a.work} is not empty")
    opt = Options(
        binary=a.bin, work=a.work, rounds=a.rounds, seed=seed, producers=a.producers, queues=a.queues,
        kill_min=a.kill_min_ms / 1000, kill_max=a.kill_max_ms / 1000, drain_every=a.drain_every,
        budget=a.budget, skip_ack=a.skip_ack, startup_kill=a.startup_kill, reference=a.reference,
        broker_config=os.path.abspath(a.broker_config) if a.broker_config else None, nack_rate=a.nack_rate,
    )
    log(
        f"seed {seed} (re-run with --seed {seed}); {a.rounds} rounds, {a.producers} producers, {a.queues} queues"
        + (f", NACK rate {a.nack_rate} (dead-letter to {DLQ_PREFIX}<queue> at the first NACK)" if a.nack_rate else "")
    )

    def on_term(signum, _frame):  # e.g. run.sh's timeout: unwind so the broker gets killed
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    return CrashTest(opt).run()


if __name__ == "__main__":
    sys.exit(main())
