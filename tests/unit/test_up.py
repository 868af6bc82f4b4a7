"""`cachexia up`: a stop request is honoured while it waits for infrastructure, and its stop
is bounded: services killed (stragglers too) past their deadline, then the broker and
PostgreSQL stopped together. No infrastructure: a listener that never answers, fakes for
the embedded servers, and small real processes for the services."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import cachexia.platform as platform
from cachexia.platform import StopRequested, wait_for_kafka, wait_for_postgres
from cachexia.service_processes import ServiceProcess
from cachexia.up import SERVICE_EXIT_SLACK_SECONDS, Platform
from shared.settings import PlatformSettings


async def stop_after(stopping: asyncio.Event, seconds: float) -> None:
    await asyncio.sleep(seconds)
    stopping.set()


async def test_waiting_for_postgres_ends_when_asked_to_stop(silent_port: int) -> None:
    stopping = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stopping.set)
    started = time.monotonic()
    with pytest.raises(StopRequested):  # in the middle of a connection attempt
        await wait_for_postgres(f"postgresql://u:p@127.0.0.1:{silent_port}/db", stopping=stopping)
    assert time.monotonic() - started < 1.0


async def test_waiting_for_kafka_ends_when_asked_to_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = 0

    async def unreachable(servers: str) -> bool:
        nonlocal attempts
        attempts += 1
        return False

    monkeypatch.setattr(platform, "kafka_reachable", unreachable)
    stopping = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, stopping.set)
    started = time.monotonic()
    with pytest.raises(StopRequested):  # between attempts
        await wait_for_kafka("127.0.0.1:1", stopping=stopping)
    assert time.monotonic() - started < 1.0
    assert attempts >= 2


@pytest.mark.usefixtures("own_service_ports")
async def test_a_stop_while_waiting_for_infrastructure_stops_the_platform(
    silent_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = PlatformSettings(
        database_url=f"postgresql://u:p@127.0.0.1:{silent_port}/db",
        kafka_bootstrap_servers="127.0.0.1:1",
        data_dir=tmp_path,
    )
    up = Platform(settings)
    asyncio.get_running_loop().call_later(0.5, up.stopping.set)  # Ctrl-C
    started = time.monotonic()
    assert await asyncio.wait_for(up.run(), 10) == 0
    assert time.monotonic() - started < 2.0
    assert capsys.readouterr().out.splitlines() == [
        "asked to stop before the platform was up",
        "stopping ...",
        "stopped",
    ]
    assert all(s.process is None for s in up.services)


def is_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # ended, not yet reaped
    except FileNotFoundError:
        return True


def wait_for_file(path: Path) -> str:
    for _ in range(200):
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} never written")


def start_service(tmp_path: Path, name: str, script: str) -> ServiceProcess:
    service = ServiceProcess(name, tmp_path / f"{name}.log")
    service.process = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    return service


def test_a_straggler_left_in_a_stopped_services_group_is_killed(tmp_path: Path) -> None:
    """The service exits at SIGTERM, a process it started ignores it and stays behind."""
    pid_file = tmp_path / "straggler.pid"
    service = start_service(
        tmp_path,
        "straggles",
        f"(trap '' TERM; exec sleep 600) & echo $! > {pid_file}; exec sleep 600",
    )
    straggler = int(wait_for_file(pid_file))
    up = Platform(PlatformSettings(data_dir=tmp_path, shutdown_deadline_seconds=2))
    up.services = [service]
    try:
        started = time.monotonic()
        up._stop_everything()
        assert time.monotonic() - started < 1.5  # the service itself did not wait for it
        assert service.process is not None and service.process.returncode == -signal.SIGTERM
        for _ in range(100):
            if is_gone(straggler):
                break
            time.sleep(0.02)
        assert is_gone(straggler)
    finally:
        if not is_gone(straggler):
            os.kill(straggler, signal.SIGKILL)


class SlowStop:
    """An embedded server whose stop takes a while."""

    def __init__(self, seconds: float, stops: list[tuple[str, float, float]], name: str) -> None:
        self.seconds, self.stops, self.name = seconds, stops, name

    def stop(self, grace: float = 0.0) -> None:
        begun = time.monotonic()
        time.sleep(self.seconds)
        self.stops.append((self.name, begun, time.monotonic()))


def test_the_whole_stop_is_the_deadline_plus_a_second_plus_the_infrastructure(
    tmp_path: Path,
) -> None:
    """Services that ignore SIGTERM are killed at deadline + 1 s (not left to their own
    watchdog, deadline + 2 s, and more); broker and PostgreSQL then stop together."""
    deadline = 0.5
    ignores = "trap '' TERM; sleep 600 & wait"
    up = Platform(PlatformSettings(data_dir=tmp_path, shutdown_deadline_seconds=deadline))
    up.services = [start_service(tmp_path, f"svc{i}", ignores) for i in range(3)]
    stops: list[tuple[str, float, float]] = []
    up.broker = SlowStop(0.6, stops, "broker")  # type: ignore[assignment]  # stops, slowly
    up.postgres = SlowStop(0.6, stops, "postgres")  # type: ignore[assignment]  # likewise
    time.sleep(0.2)  # the shells have set their trap
    started = time.monotonic()
    up._stop_everything()
    elapsed = time.monotonic() - started
    assert all(
        s.process is not None and s.process.returncode == -signal.SIGKILL for s in up.services
    )
    services_took = min(begun for _, begun, _ in stops) - started
    assert deadline + SERVICE_EXIT_SLACK_SECONDS - 0.05 <= services_took < deadline + 1.5
    assert elapsed < deadline + SERVICE_EXIT_SLACK_SECONDS + 0.6 + 0.5  # not 0.6 + 0.6
    assert sorted(name for name, _, _ in stops) == ["broker", "postgres"]


def test_a_service_that_stops_in_time_is_not_waited_for_longer(tmp_path: Path) -> None:
    up = Platform(PlatformSettings(data_dir=tmp_path, shutdown_deadline_seconds=5))
    up.services = [start_service(tmp_path, f"svc{i}", "exec sleep 600") for i in range(5)]
    started = time.monotonic()
    up._stop_everything()
    assert time.monotonic() - started < 1.0
    assert all(
        s.process is not None and s.process.returncode == -signal.SIGTERM for s in up.services
    )


class ExitedBroker:
    """Stands for the embedded broker: exited; ``spawn`` runs it again, and it listens."""

    bootstrap_servers = "127.0.0.1:1"

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        self.process = subprocess.Popen(["sleep", "30"])

    def wait_listening(self) -> None:
        pass

    def stop(self, grace: float = 2.0) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


async def test_the_supervisor_starts_an_embedded_broker_that_exited_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    monkeypatch.setattr("cachexia.up.say", said.append)
    up = Platform(PlatformSettings(kafka_bootstrap_servers="127.0.0.1:1", data_dir=tmp_path))
    broker = ExitedBroker()
    up.broker = broker  # type: ignore[assignment]  # a hand-written fake
    supervising = asyncio.create_task(up._supervise())
    try:
        for _ in range(200):  # its 1 s back-off, then the start and the topics (unreachable)
            if "embedded broker started again" in said:
                break
            await asyncio.sleep(0.05)
    finally:
        up.stopping.set()
        await asyncio.wait_for(supervising, 10)
        broker.stop()
    assert said[0] == "embedded broker is not running; starting it again in 1 s"
    assert "embedded broker started again" in said


class BrokerStartingSlowly:
    """Stands for EmbeddedTansu: exited; ``spawn`` runs its process at once (on the loop's
    thread, as `cachexia up` spawns it, so that it ends with the process), and
    ``wait_listening`` takes a moment (the broker not yet listening, in a thread the stop
    does not wait for). ``stop`` is EmbeddedTansu.stop's: it ends the process it sees."""

    bootstrap_servers = "127.0.0.1:1"

    def __init__(self) -> None:
        exited = subprocess.Popen(["true"])
        exited.wait()
        self.process: subprocess.Popen[bytes] | None = exited
        self.starting = threading.Event()
        self.go_on = threading.Event()
        self.started = threading.Event()

    def spawn(self) -> None:
        self.process = subprocess.Popen(["sleep", "30"])
        self.started.set()

    def wait_listening(self) -> None:
        self.starting.set()
        self.go_on.wait(10)

    def stop(self, grace: float = 2.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        process.wait(grace)


async def test_a_stop_during_a_restart_of_the_broker_leaves_no_broker_behind(
    tmp_path: Path,
) -> None:
    """README: Ctrl-C "leaves no process behind". A restart's wait for the broker to listen
    runs in a thread that the stop does not wait for; its process was spawned before, on the
    loop's thread (once, the whole start ran in that thread: the stop saw the exited process,
    stopped nothing, and the broker the thread then started outlived `cachexia up`)."""
    up = Platform(PlatformSettings(kafka_bootstrap_servers="127.0.0.1:1", data_dir=tmp_path))
    broker = BrokerStartingSlowly()
    up.broker = broker  # type: ignore[assignment]  # a hand-written fake
    supervising = asyncio.create_task(up._supervise())
    try:
        assert await asyncio.to_thread(broker.starting.wait, 10)  # after its 1 s back-off
        up.stopping.set()  # Ctrl-C while the broker is being started again
        # the start goes on a moment later; the services were already gone: a quick stop
        asyncio.get_running_loop().call_later(0.3, broker.go_on.set)
        await asyncio.wait_for(supervising, 5)
        await asyncio.to_thread(up._stop_everything)
        assert await asyncio.to_thread(broker.started.wait, 5)
        assert broker.process is not None
        assert broker.process.poll() is not None, "a broker left running after the stop"
    finally:
        broker.go_on.set()
        if broker.process is not None and broker.process.poll() is None:
            broker.process.kill()
            broker.process.wait()
