"""`cachexia up`: embedded PostgreSQL and broker, topics, migrations, the five services.

Everything runs in one terminal; Ctrl-C (SIGINT) or SIGTERM stops every process within
about 10 s and leaves none behind. Data and logs live under the data folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cachexia.platform import create_topics, migrate_all, wait_for_kafka, wait_for_postgres
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.tansu import EmbeddedTansu
from shared.secrets import subject_hmac_key
from shared.settings import SERVICE_NAMES, PlatformSettings
from shared.shutdown import WATCHDOG_MARGIN_SECONDS

# past a service's own shutdown deadline: its watchdog ends it first (shared/shutdown.py)
SERVICE_STOP_GRACE_BEYOND_DEADLINE = WATCHDOG_MARGIN_SECONDS + 1.0
RESTART_BACKOFF_MAX = 30.0


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@dataclass
class ServiceProcess:
    name: str
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)

    def start(self, env: dict[str, str]) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cachexia.cli", "service", self.name],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )  # fmt: skip
        self.started_at = time.monotonic()

    def signal_group(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)


class Platform:
    def __init__(self, settings: PlatformSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.logs = self.data_dir / "logs"
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedTansu | None = None
        self.services = [ServiceProcess(n, self.logs / f"{n}.log") for n in SERVICE_NAMES]
        self.stopping = asyncio.Event()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        try:
            await self._start_infrastructure()
            if self.stopping.is_set():
                return 0
            self._start_services()
            await self._announce()
            await self._supervise()
            return 0
        finally:
            await asyncio.to_thread(self._stop_everything)

    async def _start_infrastructure(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.settings.uses_embedded_postgres:
            self.postgres = EmbeddedPostgres(
                self.data_dir / "postgres", self.settings.embedded_postgres_port
            )
            say(f"starting embedded PostgreSQL on 127.0.0.1:{self.postgres.port} ...")
            await asyncio.to_thread(self.postgres.start)
            await asyncio.to_thread(self.postgres.create_database)
        if self.settings.uses_embedded_kafka:
            self.broker = EmbeddedTansu(self.settings.embedded_kafka_port, self.logs / "tansu.log")
            say(
                "starting embedded broker (Tansu, memory storage) on "
                f"{self.broker.bootstrap_servers} ..."
            )
            await asyncio.to_thread(self.broker.start)
        await wait_for_postgres(self.postgres_dsn)
        await wait_for_kafka(self.settings.kafka_servers)
        created = await create_topics(self.settings)
        say(
            f"topics ready ({len(created)} created, "
            f"{self.settings.topic_partitions} partitions each)"
        )
        subject_hmac_key(self.settings)  # created once, before the services share it
        applied = await migrate_all(self.settings)
        say(f"migrations applied: {sum(len(v) for v in applied.values())}")

    @property
    def postgres_dsn(self) -> str:
        """The embedded server's Unix socket when it runs here, else the configured URL."""
        if self.postgres is not None:
            return self.postgres.dsn()
        return self.settings.postgres_dsn

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DATABASE_URL"] = self.postgres_dsn
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.settings.kafka_servers
        env["CACHEXIA_DATA_DIR"] = str(self.data_dir)
        return env

    def _start_services(self) -> None:
        env = self._child_env()
        for service in self.services:
            service.start(env)

    async def _announce(self) -> None:
        host = self.settings.bind_host
        deadline = time.monotonic() + 60
        pending = {s.name for s in self.services}
        while pending and time.monotonic() < deadline and not self.stopping.is_set():
            for name in list(pending):
                if await asyncio.to_thread(
                    _answers, f"http://{host}:{self.settings.http_port(name)}/healthz"
                ):
                    pending.discard(name)
            await asyncio.sleep(0.2)
        say("")
        say("LENA-CCS platform is up")
        say(f"  PostgreSQL      {self.postgres_dsn}")
        say(f"  Kafka           {self.settings.kafka_servers}")
        say(f"  lab-ingestion   MLLP {host}:{self.settings.lab_ingestion_mllp_port}")
        for service in self.services:
            port = self.settings.http_port(service.name)
            state = "starting" if service.name in pending else "up"
            say(f"  {service.name:<15} http://{host}:{port}  (/healthz /readyz /metrics) [{state}]")
        say(f"  logs            {self.logs}")
        say("Press Ctrl-C to stop.")

    async def _supervise(self) -> None:
        """Restart a service that died, with back-off, until we are asked to stop."""
        env = self._child_env()
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 0.5)
            now = time.monotonic()
            for service in self.services:
                if self.stopping.is_set() or service.process is None:
                    continue
                code = service.process.poll()
                if code is None:
                    continue
                if service.next_start == 0.0:
                    service.restarts += 1
                    delay = min(2.0**service.restarts, RESTART_BACKOFF_MAX)
                    service.next_start = now + delay
                    say(
                        f"{service.name} exited with {code}; restarting in {delay:.0f} s "
                        f"(see {service.log_file})"
                    )
                elif now >= service.next_start:
                    service.next_start = 0.0
                    service.start(env)

    def _stop_everything(self) -> None:
        say("stopping ...")
        for service in self.services:
            service.signal_group(signal.SIGTERM)
        grace = self.settings.shutdown_deadline_seconds + SERVICE_STOP_GRACE_BEYOND_DEADLINE
        deadline = time.monotonic() + grace
        for service in self.services:
            if service.process is None:
                continue
            try:
                service.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                service.signal_group(signal.SIGKILL)
                service.process.wait(2)
            service.signal_group(signal.SIGKILL)  # any straggler left in the group
        if self.broker is not None:
            self.broker.stop(grace=1.0)
        if self.postgres is not None:
            self.postgres.stop()
        say("stopped")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except OSError:
        return False


def run_platform(settings: PlatformSettings) -> int:
    return asyncio.run(Platform(settings).run())
