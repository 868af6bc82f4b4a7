"""Stopping the embedded cluster: pg_ctl's wait and mode as asked, and the test session's
stop, which falls back to an immediate one when a fast stop does not end in time."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.embedded import postgres
from tests.conftest import SESSION_STOP_SECONDS, stop_session_server


class Cluster(postgres.EmbeddedPostgres):
    """A cluster that is running, whose pg_ctl calls are recorded (and fail while told to)."""

    def __init__(self, tmp_path: Path, failing: int = 0) -> None:
        self.data_dir = tmp_path
        self.found_running = False
        self.calls: list[tuple[str, ...]] = []
        self.failing = failing

    def is_running(self) -> bool:
        return True

    def _run(self, program: str, *args: str) -> None:
        self.calls.append((program, *args))
        if self.failing:
            self.failing -= 1
            raise RuntimeError("pg_ctl failed (1): server does not shut down")


def option(call: tuple[str, ...], flag: str) -> str:
    return call[call.index(flag) + 1]


def test_a_stop_is_fast_and_waits_20_s_unless_told(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    cluster.stop()
    cluster.stop(timeout_seconds=120, mode="immediate")
    (first, second) = cluster.calls
    assert (option(first, "-m"), option(first, "-t"), first[-1]) == ("fast", "20", "stop")
    assert (option(second, "-m"), option(second, "-t")) == ("immediate", "120")


def test_the_session_stop_waits_long_then_stops_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = Cluster(tmp_path, failing=1)
    stop_session_server(cluster)
    assert [(option(c, "-m"), option(c, "-t")) for c in cluster.calls] == [
        ("fast", str(SESSION_STOP_SECONDS)),
        ("immediate", str(SESSION_STOP_SECONDS)),
    ]
    assert "did not stop in time" in caplog.text


def test_a_session_stop_in_time_is_one_fast_stop(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    stop_session_server(cluster)
    assert [option(c, "-m") for c in cluster.calls] == ["fast"]
