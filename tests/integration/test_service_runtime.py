"""crp-monitor run in-process against real PostgreSQL and the broker, driven through Kafka
and HTTP: dead letters, authentication, readiness, recovery from a broker restart, the stop
of a service whose background task crashed, and stops requested during start-up (in-process,
and of the `cachexia service` and `cachexia up` processes)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from bench.infra import free_port
from cachexia.services import service_definition
from shared.auth import Role, create_token
from shared.contracts.envelope import Envelope
from shared.contracts.topics import LAB_RESULTS, TRIAL_SUBJECTS, all_topic_names, dead_letter_topic
from shared.embedded.tansu import EmbeddedTansu
from shared.messaging.kafka import KafkaPublisher
from shared.runtime import BackgroundTaskFailed, ServiceRuntime
from shared.service import ServiceContext, ServiceParts
from shared.settings import PlatformSettings
from tests.factories import crp_result, subject_enrolled
from tests.integration.messaging_fixtures import (
    ends_within,
    make_relay,
    migrated_pool,
    read_topic,
    record,
    wait_until,
)

pytestmark = pytest.mark.integration


@dataclass
class Running:
    runtime: ServiceRuntime
    producer_pool: asyncpg.Pool
    base_url: str

    async def crp_count(self, subject_id: str) -> int:
        assert self.runtime.pool is not None
        return int(
            await self.runtime.pool.fetchval(
                "SELECT count(*) FROM crp_results WHERE subject_id = $1", subject_id
            )
        )


@pytest.fixture
async def crp_monitor(settings: PlatformSettings, database: str) -> AsyncIterator[Running]:
    """crp-monitor as a real service, plus a producer relaying lab results to it."""
    runtime = ServiceRuntime(service_definition("crp-monitor"), settings)
    service_task = asyncio.create_task(runtime.run(install_signal_handlers=False))
    await asyncio.wait_for(runtime.started.wait(), 60)
    producer_pool = await migrated_pool(database, "producer")
    stopping = asyncio.Event()
    relay_task = asyncio.create_task(
        make_relay(producer_pool, settings.kafka_servers, "producer").run(stopping)
    )
    try:
        yield Running(runtime, producer_pool, f"http://127.0.0.1:{settings.crp_monitor_http_port}")
    finally:
        stopping.set()
        runtime.stopping.set()
        try:
            await ends_within(30, relay_task, service_task)
        finally:
            await producer_pool.close()


async def test_poison_message_is_dead_lettered_and_the_partition_keeps_flowing(
    crp_monitor: Running, settings: PlatformSettings
) -> None:
    before, after = crp_result("S-1", 80.0), crp_result("S-1", 60.0)
    await record(crp_monitor.producer_pool, TRIAL_SUBJECTS, [subject_enrolled("S-1")], commit=True)
    await record(crp_monitor.producer_pool, LAB_RESULTS, [before], commit=True)
    await wait_until(lambda: _has(crp_monitor, "S-1", 1))

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_servers)
    await producer.start()
    await producer.send_and_wait(LAB_RESULTS, b"{not json", key=b"S-1")  # same partition
    await producer.stop()
    await record(crp_monitor.producer_pool, LAB_RESULTS, [after], commit=True)

    await wait_until(lambda: _has(crp_monitor, "S-1", 2))
    pool = crp_monitor.runtime.pool
    assert pool is not None
    dead = await pool.fetch("SELECT topic, reason_code, reason, value FROM dead_letters")
    assert [(d["topic"], d["reason_code"], bytes(d["value"])) for d in dead] == [
        (LAB_RESULTS, "invalid-envelope", b"{not json")
    ]
    announced = await read_topic(settings.kafka_servers, dead_letter_topic("crp-monitor"), 1)
    payload = Envelope.from_bytes(announced[0]).payload
    assert payload["reason_code"] == "invalid-envelope"
    assert payload["topic"] == LAB_RESULTS
    assert payload["reason"]


async def test_crp_series_needs_a_token_with_a_reading_role(crp_monitor: Running) -> None:
    await record(crp_monitor.producer_pool, TRIAL_SUBJECTS, [subject_enrolled("S-2")], commit=True)
    first = crp_result("S-2", 90.0)
    await record(crp_monitor.producer_pool, LAB_RESULTS, [first], commit=True)
    await wait_until(lambda: _has(crp_monitor, "S-2", 1))
    pool = crp_monitor.runtime.pool
    assert pool is not None
    async with pool.acquire() as conn:
        site = await create_token(conn, "site-1", Role.SITE, site="CH-01")
        lab = await create_token(conn, "lab-1", Role.LAB)
    url = f"{crp_monitor.base_url}/v1/subjects/S-2/crp"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as anonymous:
            assert anonymous.status == 401
        async with http.get(url, headers={"Authorization": "Bearer cx_unknown"}) as unknown:
            assert unknown.status == 401
        async with http.get(url, headers={"Authorization": f"Bearer {lab}"}) as wrong_role:
            assert wrong_role.status == 403
        async with http.get(url, headers={"Authorization": f"Bearer {site}"}) as allowed:
            assert allowed.status == 200
            body = await allowed.json()
        assert [p["crp_mg_l"] for p in body["series"]] == [90.0]
        async with http.get(f"{crp_monitor.base_url}/metrics") as metrics:
            text = await metrics.text()
        assert (
            'cachexia_events_consumed_total{service="crp-monitor",topic="lab.results.v1"}' in text
        )
        assert "cachexia_consumer_lag_messages" in text
        assert "process_resident_memory_bytes" in text
        async with http.get(f"{crp_monitor.base_url}/openapi.json") as openapi:
            assert "/v1/subjects/{subject_id}/crp" in (await openapi.json())["paths"]


async def test_after_a_broker_restart_services_recover_and_nothing_is_lost_or_applied_twice(
    crp_monitor: Running, broker: EmbeddedTansu, settings: PlatformSettings
) -> None:
    await record(crp_monitor.producer_pool, TRIAL_SUBJECTS, [subject_enrolled("S-3")], commit=True)
    first = [crp_result("S-3", 100.0 + i) for i in range(20)]
    await record(crp_monitor.producer_pool, LAB_RESULTS, first, commit=True)
    await wait_until(lambda: _has(crp_monitor, "S-3", 20))

    broker.kill()  # memory storage: everything on the broker is gone
    await wait_until(lambda: _ready_status(crp_monitor, 503), timeout=15)
    broker.start()

    second = [crp_result("S-3", 200.0 + i) for i in range(10)]
    await record(crp_monitor.producer_pool, LAB_RESULTS, second, commit=True)
    await wait_until(lambda: _has(crp_monitor, "S-3", 30), timeout=60)
    await wait_until(lambda: _ready_status(crp_monitor, 200), timeout=15)

    publisher = KafkaPublisher(settings.kafka_servers, "check")
    await publisher.start()
    try:
        assert set(all_topic_names()) <= await publisher.topics()
    finally:
        await publisher.stop()
    await asyncio.sleep(2)  # let any late redelivery arrive: it must change nothing
    pool = crp_monitor.runtime.pool
    assert pool is not None
    values = await pool.fetch("SELECT value_mg_l FROM crp_results WHERE subject_id = 'S-3'")
    assert sorted(v["value_mg_l"] for v in values) == sorted(
        [100.0 + i for i in range(20)] + [200.0 + i for i in range(10)]
    )
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0


async def _has(running: Running, subject_id: str, n: int) -> bool:
    return await running.crp_count(subject_id) >= n


async def _ready_status(running: Running, status: int) -> bool:
    with contextlib.suppress(aiohttp.ClientError):
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{running.base_url}/readyz") as response,
        ):
            return response.status == status
    return False


async def test_readyz_is_503_while_postgres_is_unreachable_and_healthz_still_answers(
    settings: PlatformSettings,
) -> None:
    unreachable = settings.model_copy(
        update={"database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"}
    )
    runtime = ServiceRuntime(service_definition("crp-monitor"), unreachable)
    task = asyncio.create_task(runtime.run(install_signal_handlers=False))
    base = f"http://127.0.0.1:{unreachable.crp_monitor_http_port}"
    try:
        running = Running(runtime, None, base)  # no producer needed
        await wait_until(lambda: _ready_status(running, 503), timeout=20)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/readyz") as ready:
                body = await ready.json()
            async with http.get(f"{base}/healthz") as health:
                assert health.status == 200
        assert body["checks"] == {"postgres": False, "kafka": True}
    finally:
        runtime.stopping.set()
        await asyncio.wait_for(task, 20)


async def test_a_background_task_that_crashes_stops_the_service_with_a_failure(
    settings: PlatformSettings,
) -> None:
    """Not a service that stays up, ready, silently doing less: it stops, and ``run`` raises
    (``cachexia service`` then exits non-zero and is restarted)."""
    crp_monitor = service_definition("crp-monitor")

    async def crashes(stopping: asyncio.Event) -> None:
        del stopping
        await asyncio.sleep(0.5)
        raise asyncpg.exceptions.CrashShutdownError("terminating connection for S-4711")

    def build(context: ServiceContext) -> ServiceParts:
        parts = crp_monitor.build(context)
        parts.background.append(crashes)
        return parts

    runtime = ServiceRuntime(dataclasses.replace(crp_monitor, build=build), settings)
    task = asyncio.create_task(runtime.run(install_signal_handlers=False))
    await asyncio.wait_for(runtime.started.wait(), 60)
    with pytest.raises(BackgroundTaskFailed, match=r"crashes \(CrashShutdownError\)") as failed:
        await asyncio.wait_for(task, 30)
    assert "S-4711" not in str(failed.value)
    base = f"http://127.0.0.1:{settings.crp_monitor_http_port}"
    with pytest.raises(aiohttp.ClientConnectionError):  # nobody is told it is ready
        async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz"):
            pass


async def test_a_service_is_ready_only_once_its_listeners_listen(
    settings: PlatformSettings,
) -> None:
    """A listener a background task opens (lab-ingestion's MLLP port): until it takes
    connections, /readyz says not started, so nobody is sent before it listens."""
    crp_monitor = service_definition("crp-monitor")
    opened = asyncio.Event()

    async def opens_late(stopping: asyncio.Event) -> None:
        await asyncio.sleep(1.0)  # binding a port, say
        opened.set()
        await stopping.wait()

    async def listening() -> None:
        await opened.wait()

    def build(context: ServiceContext) -> ServiceParts:
        parts = crp_monitor.build(context)
        parts.background.append(opens_late)
        parts.listening.append(listening)
        return parts

    runtime = ServiceRuntime(dataclasses.replace(crp_monitor, build=build), settings)
    task = asyncio.create_task(runtime.run(install_signal_handlers=False))
    base = f"http://127.0.0.1:{settings.crp_monitor_http_port}"
    running = Running(runtime, None, base)  # no producer needed
    try:
        await wait_until(lambda: _ready_status(running, 503))
        while not opened.is_set():  # every answer until then: not started
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{running.base_url}/readyz") as ready,
            ):
                body = await ready.json()
            assert opened.is_set() or (ready.status, body["started"]) == (503, False)
            await asyncio.sleep(0.05)
        await wait_until(lambda: _ready_status(running, 200))
        assert runtime.started.is_set()
    finally:
        runtime.stopping.set()
        await asyncio.wait_for(task, 20)


async def test_a_stop_while_a_migration_waits_for_its_lock_ends_within_the_deadline(
    settings: PlatformSettings, database: str
) -> None:
    """Another instance holds the migration lock: /readyz says not started (its dependencies
    answer), and a stop request cancels the waiting migration instead of waiting with it."""
    crp_monitor = service_definition("crp-monitor")
    holder = await asyncpg.connect(database)
    lock = holder.transaction()
    await lock.start()
    await holder.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{crp_monitor.schema}"
    )
    runtime = ServiceRuntime(crp_monitor, settings)
    task = asyncio.create_task(runtime.run(install_signal_handlers=False))
    base = f"http://127.0.0.1:{settings.crp_monitor_http_port}"
    try:
        running = Running(runtime, None, base)  # no producer needed
        await wait_until(lambda: _ready_status(running, 503))
        await asyncio.sleep(1.5)  # past the checks' cache: both dependencies answer by now
        async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as ready:
            body = await ready.json()
        assert (ready.status, body["started"], body["stopping"]) == (503, False, False)
        assert body["checks"] == {"postgres": True, "kafka": True}
        waiting = await holder.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        assert waiting == 1  # the service's migration, waiting on the lock

        runtime.stopping.set()
        started = time.monotonic()
        await asyncio.wait_for(task, settings.shutdown_deadline_seconds + 1)
        assert time.monotonic() - started <= settings.shutdown_deadline_seconds + 0.5
        assert not runtime.started.is_set()
    finally:
        runtime.stopping.set()
        await lock.rollback()
        await holder.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)


def _handles_sigterm(pid: int) -> bool:
    """Whether the process catches SIGTERM yet (asyncio's handlers for SIGINT and SIGTERM are
    installed together): its status line SigCgt is the mask of caught signals."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


async def _command(args: list[str], env: dict[str, str], sig: signal.Signals, after: float,
                   limit: float) -> tuple[int, float, str]:  # fmt: skip
    """Run ``cachexia ARGS``, send ``sig`` ``after`` seconds after it handles signals (a slow
    machine imports for seconds first); exit status, seconds from the signal to the exit,
    output. Killed (and the test failed) if it outlives ``limit``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cachexia.cli", *args,
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    output = asyncio.ensure_future(process.communicate())
    handling = time.monotonic() + 60
    while process.returncode is None and not _handles_sigterm(process.pid):
        assert time.monotonic() < handling, "no signal handler after 60 s"
        await asyncio.sleep(0.05)
    await asyncio.sleep(after)
    assert process.returncode is None, "ended before the signal"
    process.send_signal(sig)
    signalled = time.monotonic()
    try:
        done, _ = await asyncio.wait({output}, timeout=limit)
        elapsed = time.monotonic() - signalled
        assert done, f"still running {limit} s after {sig.name}"
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await output
    stdout, _ = output.result()
    assert process.returncode is not None
    return process.returncode, elapsed, stdout.decode(errors="replace")


async def test_sigterm_while_a_service_connects_to_a_silent_database_ends_it_in_time(
    silent_port: int, tmp_path: Path
) -> None:
    """The connection attempt would wait 60 s for an answer: the stop does not."""
    deadline = 2
    status, elapsed, output = await _command(
        ["service", "crp-monitor"],
        {
            "DATABASE_URL": f"postgresql://u:p@127.0.0.1:{silent_port}/db",
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "CACHEXIA_DATA_DIR": str(tmp_path),
            "CACHEXIA_SHUTDOWN_DEADLINE_SECONDS": str(deadline),
            "CACHEXIA_CRP_MONITOR_HTTP_PORT": str(free_port()),
        },
        signal.SIGTERM,
        after=1.5,  # connecting to the silent database by then
        limit=deadline + 2 + 3,
    )
    assert elapsed < deadline + 2, output
    assert status in (0, 70), output
    assert "stopped before start-up completed" in output


@pytest.mark.usefixtures("own_service_ports")  # `cachexia up` checks them free first
async def test_ctrl_c_while_up_waits_for_infrastructure_stops_it_without_a_traceback(
    silent_port: int, tmp_path: Path
) -> None:
    status, elapsed, output = await _command(
        ["up"],
        {
            "DATABASE_URL": f"postgresql://u:p@127.0.0.1:{silent_port}/db",
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "CACHEXIA_DATA_DIR": str(tmp_path),
            "CACHEXIA_SUBJECT_HMAC_KEY": secrets.token_hex(32),
        },
        signal.SIGINT,
        after=1.0,  # waiting for the silent database by then
        limit=15,
    )
    assert elapsed < 10, output
    assert status == 0, output
    assert "Traceback" not in output
    assert output.splitlines()[-3:] == [
        "asked to stop before the platform was up",
        "stopping ...",
        "stopped",
    ]
