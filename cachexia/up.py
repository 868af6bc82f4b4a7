"""`cachexia up`: embedded PostgreSQL and broker, topics, migrations, the five services.

One platform per data folder: a second `cachexia up` on it stops at once, in one line,
touching nothing (``PlatformLock``). Everything runs in one terminal; Ctrl-C (SIGINT) or
SIGTERM stops every process, at any point (also while waiting for PostgreSQL or Kafka), and
leaves none behind: the services get their shutdown deadline plus a second, then their
process groups are killed; the broker and the embedded PostgreSQL (unless it was found
running: not ours) then stop together. About 10 s with the default 8 s deadline; see
``Platform._stop_everything`` for the one step that can take longer. Data and logs live
under the data folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time

from cachexia.embedded import PlatformLock, spawn_broker, start_postgres, stop_servers
from cachexia.infra_watch import InfrastructureWatch
from cachexia.platform import (
    StopRequested,
    check_subject_key,
    create_topics,
    migrate_all,
    unless_stopped,
    wait_for_kafka,
    wait_for_postgres,
)
from cachexia.service_check import ServiceState, check_ports_free, service_state
from cachexia.service_processes import ServiceProcess
from cachexia.supervision import supervised_env
from shared.addresses import host_port, masked_url
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.tansu import EmbeddedTansu
from shared.secrets import subject_hmac_key
from shared.settings import SERVICE_NAMES, PlatformSettings
from shared.waiting import wait_event

# A service's stop ends within its shutdown deadline (each step bounded, shared/shutdown.py);
# this long past the deadline it is killed, before its own watchdog (deadline + 2 s) would
SERVICE_EXIT_SLACK_SECONDS = 1.0
# how long the banner waits for the services to be up (or to exit) before it is shown
ANNOUNCE_WAIT_SECONDS = 60.0


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Platform:
    def __init__(self, settings: PlatformSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.logs = self.data_dir / "logs"
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedTansu | None = None
        self.services = [ServiceProcess(n, self.logs / f"{n}.log") for n in SERVICE_NAMES]
        self.stopping = asyncio.Event()
        self.subject_key: bytes | None = None

    async def run(self) -> int:
        with PlatformLock.hold(self.data_dir):  # released once everything has stopped
            return await self._run_holding_the_lock()

    async def _run_holding_the_lock(self) -> int:
        # a service port in use: one line, nothing started (not a service restarted forever)
        check_ports_free(self.settings, [s.name for s in self.services])
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        try:
            with contextlib.suppress(StopRequested):  # Ctrl-C while starting: said below
                await self._start_infrastructure()
            if self.stopping.is_set():
                say("asked to stop before the platform was up")
                return 0
            self._start_services()
            await self._announce()
            await self._supervise()
            return 0
        finally:
            await asyncio.to_thread(self._stop_everything)  # a second Ctrl-C changes nothing
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    async def _start_infrastructure(self) -> None:
        if self.settings.uses_embedded_postgres:
            self.postgres = EmbeddedPostgres(
                self.data_dir / "postgres", self.settings.embedded_postgres_port
            )
            say(f"starting embedded PostgreSQL on 127.0.0.1:{self.postgres.port} ...")
            # not cut short (a thread, and a server left half-started would outlive us):
            # pg_ctl bounds it; a stop request is honoured right after
            await asyncio.to_thread(start_postgres, self.postgres)
            if self.postgres.found_running:  # left by a `cachexia up` that was killed, say
                say(f"  already running on {self.postgres.data_dir}: used, and not stopped")
            await asyncio.to_thread(self.postgres.create_database)
        if self.settings.uses_embedded_kafka:
            self._check_stopping()
            self.broker = EmbeddedTansu(
                self.settings.embedded_kafka_port, self.logs / "tansu.log", end_with_starter=True
            )
            say(
                "starting embedded broker (Tansu, memory storage) on "
                f"{self.broker.bootstrap_servers} ..."
            )
            # spawned from this, the main, thread: the broker ends with it, even when
            # `cachexia up` is killed (a thread of the pool may end before the process does)
            spawn_broker(self.broker)
            await asyncio.to_thread(self.broker.wait_listening)
        await wait_for_postgres(self.postgres_dsn, stopping=self.stopping)
        await wait_for_kafka(self.settings.kafka_servers, stopping=self.stopping)
        created = await unless_stopped(lambda: create_topics(self.settings), self.stopping)
        say(
            f"topics ready ({len(created)} created, "
            f"{self.settings.topic_partitions} partitions each)"
        )
        # created once, before the services share it (_child_env); only now, the ports found
        # free and the servers started: a start that fails on a port leaves no key (review 156)
        key = self.subject_key = subject_hmac_key(self.settings, create=True)
        # cut short, a service's migration rolls back (one transaction each)
        applied = await unless_stopped(lambda: migrate_all(self.settings), self.stopping)
        say(f"migrations applied: {sum(len(v) for v in applied.values())}")
        # the key the data was hashed with, or SubjectKeyMismatch: nothing starts with another
        if await unless_stopped(lambda: check_subject_key(self.settings, key), self.stopping):
            say("patient-matching key: its fingerprint recorded in the database")

    def _check_stopping(self) -> None:
        if self.stopping.is_set():
            raise StopRequested

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
        if self.subject_key is not None:
            # the services see DATABASE_URL set, as with external infrastructure, where they
            # would refuse to use a key of the data directory: they are given ours
            env["CACHEXIA_SUBJECT_HMAC_KEY"] = self.subject_key.decode()
        return supervised_env(env)

    def _start_services(self) -> None:
        env = self._child_env()  # the services end with this process (supervision.py)
        for service in self.services:
            service.start(env)

    async def _announce(self) -> None:
        """The banner, once every service is up or has exited, or at the latest after
        ANNOUNCE_WAIT_SECONDS: a service not up is shown so, with why (service_check)."""
        host = self.settings.bind_host
        deadline = time.monotonic() + ANNOUNCE_WAIT_SECONDS
        pending = {s.name: s for s in self.services}
        state = dict.fromkeys(pending, ServiceState(False, "not started"))
        while pending and not self.stopping.is_set():
            for name, service in list(pending.items()):
                state[name] = await asyncio.to_thread(service_state, service, self.settings)
                if state[name].up or state[name].final:  # an exit: the supervisor restarts it
                    del pending[name]
            if not pending or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
        not_up = [name for name, seen in state.items() if not seen.up]
        say("")
        if not_up:
            say(
                f"LENA-CCS platform is NOT up: {len(not_up)} of {len(state)} services are not "
                "(see below, and their logs)"
            )
        else:
            say("LENA-CCS platform is up")
        say(f"  PostgreSQL      {masked_url(self.postgres_dsn)}")
        say(f"  Kafka           {self.settings.kafka_servers}")
        say(f"  lab-ingestion   MLLP {host_port(host, self.settings.lab_ingestion_mllp_port)}")
        for service in self.services:
            http_at = host_port(host, self.settings.http_port(service.name))
            say(
                f"  {service.name:<15} http://{http_at}  (/healthz /readyz /metrics) "
                f"{state[service.name].shown()}"
            )
        say(f"  logs            {self.logs}")
        say("Press Ctrl-C to stop.")

    async def _supervise(self) -> None:
        """Restart a service or embedded server that died, with back-off, until we are asked
        to stop (``cachexia.infra_watch`` for the servers)."""
        env = self._child_env()
        watch = InfrastructureWatch(
            self.broker, self.postgres, say=say, create_topics=lambda: create_topics(self.settings)
        )
        while not self.stopping.is_set():
            await wait_event(self.stopping, 0.5)
            with contextlib.suppress(StopRequested):
                await unless_stopped(watch.check, self.stopping)
            now = time.monotonic()
            for service in self.services:
                if self.stopping.is_set() or service.process is None:
                    continue
                code = service.process.poll()
                if code is None:
                    service.restarts.note_running(now)
                    continue
                if service.next_start == 0.0:
                    service.kill_group()  # what it left behind (would hold its ports)
                    delay = service.restarts.schedule(now)
                    service.next_start = now + delay
                    reason = service.exit_reason()
                    say(
                        f"{service.name} exited with {code}{f': {reason}' if reason else ''}; "
                        f"restarting in {delay:.0f} s (see {service.log_file})"
                    )
                elif now >= service.next_start:
                    service.next_start = 0.0
                    service.start(env)
        await watch.settle()  # a server being started again is stopped with the others

    def _stop_everything(self) -> None:
        """Stop everything: services first (they still use both), then the infrastructure.

        The services get their shutdown deadline plus SERVICE_EXIT_SLACK_SECONDS, all at
        once; then their process groups are killed (stragglers too). The broker (SIGTERM,
        SIGKILL after BROKER_STOP_GRACE_SECONDS) and the embedded PostgreSQL then stop
        together. PostgreSQL's fast shutdown is the one step not cut short: it writes a
        checkpoint, normally well under a second, and pg_ctl waits up to 20 s for it; a
        server killed in its checkpoint would need crash recovery at the next start, and
        one left running would be found "already running" by the next ``cachexia up``.
        Only servers this process started are stopped: a PostgreSQL found running is not.
        """
        say("stopping ...")
        for service in self.services:
            service.signal_group(signal.SIGTERM)
        deadline = (
            time.monotonic() + self.settings.shutdown_deadline_seconds + SERVICE_EXIT_SLACK_SECONDS
        )
        for service in self.services:
            service.stop_by(deadline)
        stop_servers(self.broker, self.postgres)
        say("stopped")


def run_platform(settings: PlatformSettings) -> int:
    return asyncio.run(Platform(settings).run())
