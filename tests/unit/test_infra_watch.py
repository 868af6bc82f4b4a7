"""`cachexia up` starts again an embedded server that exited, with back-off, and says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cachexia.infra_watch import InfrastructureWatch, postgres_alive
from shared.embedded.postgres import SYSTEM_USER, EmbeddedPostgres


class FakeProcess:
    def __init__(self, code: int | None = None) -> None:
        self.code = code

    def poll(self) -> int | None:
        return self.code


class FakeBroker:
    """Stands for EmbeddedTansu: each ``spawn`` starts it; ``wait_listening`` fails as many
    times as asked (the broker stopped), then it runs."""

    def __init__(self, failures: int = 0) -> None:
        self.process: FakeProcess | None = FakeProcess(code=-9)  # exited (killed)
        self.failures = failures
        self.starts = 0

    def spawn(self) -> None:
        self.starts += 1
        self.process = FakeProcess()

    def wait_listening(self) -> None:
        if self.failures:
            self.failures -= 1
            self.process = FakeProcess(code=1)
            raise RuntimeError("tansu did not listen on 9092 within 20 s")


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
        assert not postgres_alive(SimpleNamespace(data_dir=tmp_path))  # type: ignore[arg-type]  # only the field it reads
    finally:
        killed.wait()


async def no_topics() -> list[str]:
    return []


def _zombie_of(user: str | None) -> subprocess.Popen[bytes]:
    """A child that exits at once and is not reaped: what a killed postmaster stays while its
    parent (a PID 1 that does not reap, e.g. `docker run <image> up`) never waits for it."""
    child = subprocess.Popen(["/bin/true"], user=user)
    for _ in range(200):
        stat = Path(f"/proc/{child.pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return child
        time.sleep(0.01)
    raise AssertionError("no zombie")


async def test_a_killed_postmaster_not_reaped_is_not_said_started_again_nor_made_not_ours(
    tmp_path: Path,
) -> None:
    """The watch counts the zombie postmaster gone (postgres_alive), then EmbeddedPostgres.start
    asks pg_ctl status, which counts it running (kill(pid, 0) succeeds on a zombie): start
    sets found_running and returns, the watch says "started again" though nothing runs, and
    our own server is from then on "not ours": never stopped at Ctrl-C."""
    user = SYSTEM_USER if os.geteuid() == 0 else None
    postgres = EmbeddedPostgres(tmp_path / "pg" / "data", 1)  # the port is never used here
    postgres.data_dir.mkdir(parents=True)
    (postgres.data_dir / "PG_VERSION").write_text("17\n")
    zombie = _zombie_of(user)
    try:
        pid_file = postgres.data_dir / "postmaster.pid"
        pid_file.write_text(f"{zombie.pid}\n{postgres.data_dir}\n")
        if user:
            shutil.chown(pid_file, user=user, group=user)
        assert not postgres_alive(postgres)  # the watch: gone
        said: list[str] = []
        clock = Clock()
        watch = InfrastructureWatch(
            None, postgres, say=said.append, create_topics=no_topics, clock=clock
        )
        await watch.check()
        clock.now += 1
        await watch.check()  # its back-off is over: started again?
        assert not postgres_alive(postgres)  # nothing runs
        assert "embedded PostgreSQL started again" not in said, said
        assert not postgres.found_running  # ours: stopped at Ctrl-C once it runs again
    finally:
        zombie.wait()
