"""pytest wiring for the policy conformance suite: each test module gets ferromq started by
the suite itself (so it can be restarted mid-test) with a given config file.

* ``FERROMQ_BIN``: the ferromq binary (run.sh builds it).
* The ``xml_broker`` fixture runs it with ``activemq.xml`` (ActiveMQ's format), the
  ``toml_broker`` fixture with ``ferromq.toml``. Both use free ports and a fresh data
  directory, and point ``support.PORT`` at their STOMP port.
* Reference mode (``STOMP_TARGET=activemq``, ``run.sh --reference``): ``xml_broker`` is
  Debian's ActiveMQ 5.17 started with the same ``activemq.xml`` by
  ``conformance/reference/activemq.sh``; ``toml_broker`` tests and tests marked
  ``ferromq_only("reason")`` are skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "stomp"))

import support  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, log: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ferromq exited with {proc.returncode}:\n{open(log).read()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"ferromq did not listen on {port} within {timeout}s")


class Broker:
    """One ferromq process over one data directory; restartable."""

    def __init__(self, config: str):
        self.bin = os.environ.get("FERROMQ_BIN") or "ferromq"
        self.config = config
        self.work = tempfile.mkdtemp(prefix="ferromq-policy-")
        self.data = os.path.join(self.work, "data")
        self.log = os.path.join(self.work, "broker.log")
        self.stomp_port = _free_port()
        self.admin_port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def admin(self) -> str:
        return f"127.0.0.1:{self.admin_port}"

    def start(self):
        args = [self.bin, "--config", self.config, "--data-dir", self.data, "--bind", "127.0.0.1",
                "--stomp-port", str(self.stomp_port), "--admin-port", str(self.admin_port), "run"]
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        _wait_listening(self.stomp_port, self.proc, self.log)
        _wait_listening(self.admin_port, self.proc, self.log)
        support.PORT = self.stomp_port

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.bin, *args], capture_output=True, text=True, timeout=60)


class ActiveMQ:
    """Reference mode: ActiveMQ run by activemq.sh on the same config file (its STOMP port and
    data directory rewritten); restart keeps KahaDB and the scheduler store, as a ferromq
    restart keeps its data directory."""

    SCRIPT = os.path.join(HERE, "..", "reference", "activemq.sh")

    def __init__(self, config: str):
        self.config = config
        # POLICY_WORK (run.sh) lets run.sh stop a broker left behind by a killed pytest.
        self.work = tempfile.mkdtemp(prefix="ferromq-policy-amq-", dir=os.environ.get("POLICY_WORK"))
        self.dir = os.path.join(self.work, "activemq")
        self.started = False

    def _script(self, action: str, **env: str) -> str:
        base = {k: v for k, v in os.environ.items() if k not in ("AMQ_KEEP_DATA", "KEEP_AMQ_DIR")}
        return subprocess.run(["bash", self.SCRIPT, action, self.dir], env={**base, **env},
                              stdout=subprocess.PIPE, text=True, check=True, timeout=180).stdout

    def start(self):
        env = {"AMQ_CONFIG": self.config}
        if self.started:
            env["AMQ_KEEP_DATA"] = "1"
        self.stomp_port = int(self._script("start", **env).strip())
        self.started = True
        support.PORT = self.stomp_port

    def stop(self, keep_data: bool = False):
        keep = keep_data or os.environ.get("KEEP_LOGS") is not None  # KEEP_LOGS: for a post-mortem
        self._script("stop", **({"KEEP_AMQ_DIR": "1"} if keep else {}))
        if not keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def restart(self):
        self.stop(keep_data=True)
        self.start()


def _broker(config_name: str):
    cls = ActiveMQ if support.TARGET == "activemq" else Broker
    b = cls(os.path.join(HERE, config_name))
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="module")
def xml_broker():
    yield from _broker("activemq.xml")


@pytest.fixture(scope="module")
def toml_broker():
    if support.TARGET == "activemq":
        pytest.skip("ferromq.toml is ferromq's native config (priority lanes, TOML virtual "
                    "destinations): ActiveMQ cannot read it")
    yield from _broker("ferromq.toml")


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("ferromq_only")
        if marker is not None and support.TARGET == "activemq":
            item.add_marker(pytest.mark.skip(reason=f"ferromq only: {marker.args[0]}"))


@pytest.fixture
def clients():
    made: list[support.Client] = []

    def make(version: str = "1.2", **kw) -> support.Client:
        c = support.Client(version, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.disconnect(timeout=2)
        except Exception:  # noqa: BLE001 - cleanup must not mask the test's own failure
            c.kill()
