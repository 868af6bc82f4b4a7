"""`cachexia up` starts again an embedded server that exited, with back-off, and says so."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cachexia.infra_watch import InfrastructureWatch, postgres_alive


class FakeProcess:
    def __init__(self, code: int | None = None) -> None:
        self.code = code

    def poll(self) -> int | None:
        return self.code


class FakeBroker:
    """Stands for EmbeddedTansu: ``start`` fails as many times as asked, then runs."""

    def __init__(self, failures: int = 0) -> None:
        self.process: FakeProcess | None = FakeProcess(code=-9)  # exited (killed)
        self.failures = failures
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError("tansu did not listen on 9092 within 20 s")
        self.process = FakeProcess()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def watch_of(broker: Any, postgres: Any = None) -> tuple[InfrastructureWatch, list[str], Clock]:
    said: list[str] = []
    created: list[str] = []
    clock = Clock()

    async def create_topics() -> list[str]:
        created.append("topics")
        said.append("topics created")
        return []

    watch = InfrastructureWatch(
        broker, postgres, say=said.append, create_topics=create_topics, clock=clock
    )
    return watch, said, clock


async def test_a_broker_that_exited_is_started_again_after_its_back_off_and_gets_its_topics() -> (
    None
):
    broker = FakeBroker()
    watch, said, clock = watch_of(broker)
    await watch.check()
    assert said == ["embedded broker is not running; starting it again in 1 s"]
    assert broker.starts == 0
    clock.now += 0.5
    await watch.check()
    assert broker.starts == 0  # not before its time
    clock.now += 0.5
    await watch.check()
    assert broker.starts == 1
    assert said[1:] == ["topics created", "embedded broker started again"]
    await watch.check()
    assert broker.starts == 1  # running: left alone


async def test_a_start_that_fails_is_tried_again_later_and_later() -> None:
    broker = FakeBroker(failures=2)
    watch, said, clock = watch_of(broker)
    await watch.check()
    for _ in range(3):
        clock.now += 10
        await watch.check()
    assert broker.starts == 3
    assert said[1].startswith("embedded broker did not start (tansu did not listen")
    assert said[1].endswith("trying again in 2 s")
    assert said[2].endswith("trying again in 4 s")
    assert said[-1] == "embedded broker started again"


async def test_the_back_off_starts_anew_once_the_server_ran_a_minute() -> None:
    broker = FakeBroker()
    watch, said, clock = watch_of(broker)
    await watch.check()
    clock.now += 1
    await watch.check()  # started again
    clock.now += 61
    await watch.check()  # it ran a minute
    broker.process = FakeProcess(code=1)
    await watch.check()
    assert said[-1] == "embedded broker is not running; starting it again in 1 s"


async def test_a_postgresql_found_running_is_not_ours_to_watch(tmp_path: Path) -> None:
    postgres = SimpleNamespace(found_running=True, data_dir=tmp_path)  # no postmaster.pid
    watch, said, _ = watch_of(None, postgres)
    await watch.check()
    assert said == []


def test_postgres_is_alive_while_the_pid_of_its_postmaster_file_runs(tmp_path: Path) -> None:
    postgres: Any = SimpleNamespace(data_dir=tmp_path)
    assert not postgres_alive(postgres)  # no postmaster.pid: stopped cleanly
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n")
    assert postgres_alive(postgres)
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    (tmp_path / "postmaster.pid").write_text(f"{ended.pid}\n{tmp_path}\n")
    assert not postgres_alive(postgres)  # killed: the file stays, its process is gone
    (tmp_path / "postmaster.pid").write_text("garbage\n")
    assert not postgres_alive(postgres)


def test_a_killed_postmaster_not_reaped_yet_is_not_alive(tmp_path: Path) -> None:
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        killed.kill()
        for _ in range(100):  # our child: a zombie until we reap it
            if Path(f"/proc/{killed.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                break
            time.sleep(0.01)
        (tmp_path / "postmaster.pid").write_text(f"{killed.pid}\n")
        assert not postgres_alive(SimpleNamespace(data_dir=tmp_path))  # type: ignore[arg-type]
    finally:
        killed.wait()
