"""A service `cachexia up` started ends with it, even when `cachexia up` is killed
(review 87: its services ran on unsupervised, still acknowledging lab messages, and held
their ports against the next `make run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cachexia.supervision import SUPERVISOR_PID_VARIABLE, end_with_supervisor, supervised_env

ROOT = Path(__file__).resolve().parents[2]
SERVICE = (
    "import sys, time; from cachexia.supervision import end_with_supervisor; "
    "print(end_with_supervisor(), flush=True); time.sleep(60)"
)
SUPERVISOR = (
    "import os, subprocess, sys, time; from cachexia.supervision import supervised_env; "
    f"child = subprocess.Popen([sys.executable, '-c', {SERVICE!r}], "
    "env=supervised_env(dict(os.environ)), start_new_session=True); "
    "print(child.pid, flush=True); time.sleep(60)"
)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; whoever inherited it reaps it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's parent-death signal")
def test_a_service_ends_when_its_supervisor_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR], env=env, stdout=subprocess.PIPE, text=True
    )
    assert supervisor.stdout is not None
    service = int(supervisor.stdout.readline())
    try:
        assert supervisor.stdout.readline().strip() == "True"  # the service set it up
        supervisor.kill()  # SIGKILL: it can stop nothing itself
        supervisor.wait()
        deadline = time.monotonic() + 10
        while running(service) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(service)
    finally:
        if running(service):
            os.kill(service, signal.SIGKILL)


def test_a_service_whose_supervisor_ended_before_it_asked_stops_at_once() -> None:
    """Its parent is not the supervisor named (it ended, and the service was reparented)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux's parent-death signal")
    env = {**os.environ, "PYTHONPATH": str(ROOT), SUPERVISOR_PID_VARIABLE: "1"}
    done = subprocess.run([sys.executable, "-c", SERVICE], env=env, timeout=30, check=False)
    assert done.returncode == -signal.SIGTERM


def test_a_service_started_by_hand_is_not_tied_to_its_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SUPERVISOR_PID_VARIABLE, raising=False)
    assert end_with_supervisor() is False
    assert supervised_env({})[SUPERVISOR_PID_VARIABLE] == str(os.getpid())
