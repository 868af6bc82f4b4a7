"""The embedded broker that `cachexia up` starts ends with it even when `cachexia up` is
killed (SIGKILL, the OOM killer) and cannot stop it: left running, the broker held its port,
and the next `make run` failed with "address already in use"."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.infra import free_port
from shared.embedded.tansu import ending_with_starter, port_open

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# a starter like `cachexia up`: spawns the broker from its main thread, then is killed
STARTER = """
import sys, time
from pathlib import Path
from shared.embedded.tansu import EmbeddedTansu
broker = EmbeddedTansu(int(sys.argv[1]), Path(sys.argv[2]), end_with_starter=sys.argv[3] == "1")
broker.spawn()
broker.wait_listening()
print(broker.process.pid, flush=True)
time.sleep(120)
"""


def _broker_of_killed_starter(tmp_path: Path, port: int, *, end_with_starter: bool) -> int:
    """The broker's pid, after the starter that spawned it was killed with SIGKILL."""
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(port), str(tmp_path / "tansu.log"),
         "1" if end_with_starter else "0"],
        stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
    )  # fmt: skip
    assert starter.stdout is not None
    pid = int(starter.stdout.readline())
    assert port_open("127.0.0.1", port)
    starter.send_signal(signal.SIGKILL)
    starter.wait(10)
    return pid


def _closed_within(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not port_open("127.0.0.1", port):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not ending_with_starter(), reason="no setpriv (not Linux)")
def test_the_broker_ends_with_a_killed_starter(tmp_path: Path) -> None:
    port = free_port()
    pid = _broker_of_killed_starter(tmp_path, port, end_with_starter=True)
    try:
        assert _closed_within(port, 10), "the broker outlived its killed starter"
    finally:
        with_kill(pid)


def test_without_it_the_broker_outlives_its_starter(tmp_path: Path) -> None:
    """The control (and every test's and benchmark's broker): not bound to its starter."""
    port = free_port()
    pid = _broker_of_killed_starter(tmp_path, port, end_with_starter=False)
    try:
        assert not _closed_within(port, 2)
    finally:
        with_kill(pid)


def with_kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended, as it should have
        os.kill(pid, signal.SIGKILL)
