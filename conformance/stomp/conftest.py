"""pytest wiring for the STOMP conformance suite.

* ``STOMP_HOST`` / ``STOMP_PORT``: the broker under test; ``STOMP_TARGET``: ``ferromq`` (default)
  or ``activemq``. Tests marked ``reference_skip("reason")`` are skipped when the target is
  ``activemq``: ActiveMQ has a defect there that ferromq does not copy.
* ``--results-json PATH`` writes ``{test id: outcome}`` (``passed``, ``failed``, ``error``,
  ``skipped: <reason>``), the normalised form ``compare.py`` diffs against ``expected.json``.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import support  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--results-json", default=None, help="write normalised per-test outcomes here")


def pytest_report_header(config):
    return f"STOMP target: {support.TARGET} at {support.HOST}:{support.PORT}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("reference_skip")
        if marker is None:
            continue
        reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: reference_skip needs a one-line reason")
        if support.TARGET == "activemq":
            item.add_marker(pytest.mark.skip(reason=f"ActiveMQ defect not copied: {reason}"))


class _Results:
    def __init__(self, path: str):
        self.path = path
        self.outcomes: dict[str, str] = {}
        self.reference_skips: list[str] = []

    @staticmethod
    def _skip_reason(report) -> str:
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            reason = longrepr[2]
        else:
            reason = str(longrepr)
        if reason.startswith("Skipped: "):
            reason = reason[len("Skipped: "):]
        return " ".join(reason.split())

    def pytest_runtest_logreport(self, report):
        nodeid = report.nodeid
        if report.when == "setup":
            if report.skipped:
                self.outcomes[nodeid] = "skipped: " + self._skip_reason(report)
            elif report.failed:
                self.outcomes[nodeid] = "error"
        elif report.when == "call":
            if report.skipped:
                self.outcomes[nodeid] = "skipped: " + self._skip_reason(report)
            else:
                self.outcomes[nodeid] = "passed" if report.passed else "failed"
        elif report.when == "teardown" and report.failed:
            if self.outcomes.get(nodeid) == "passed":
                self.outcomes[nodeid] = "error"

    def pytest_collection_modifyitems(self, items):
        self.reference_skips = sorted(i.nodeid for i in items if i.get_closest_marker("reference_skip"))

    def pytest_sessionfinish(self, session):
        data = {
            "target": support.TARGET,
            "outcomes": dict(sorted(self.outcomes.items())),
            "reference_skip": self.reference_skips,
        }
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=False)
            f.write("\n")


def pytest_configure(config):
    path = config.getoption("--results-json")
    if path:
        config.pluginmanager.register(_Results(path), "stomp-results-json")


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def clients():
    """Factory for stomp-py clients: ``clients("1.2", heartbeats=(0, 0), headers={})``.
    Every client is disconnected (or its socket dropped) at teardown."""
    made: list[support.Client] = []

    def make(version: str = "1.2", **kwargs) -> support.Client:
        c = support.Client(version, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        if not c.closed:
            try:
                c.disconnect(timeout=2)
            except Exception:  # noqa: BLE001 - teardown must not mask the test's result
                c.kill()


@pytest.fixture
def raws():
    """Factory for raw-socket connections: ``raws()`` (not connected) or ``raws("1.2")``
    (CONNECT sent and CONNECTED checked). Closed at teardown."""
    made = []

    def make(version: str | None = None, **extra):
        c = support.raw_connected(version, **extra) if version else support.raw()
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
