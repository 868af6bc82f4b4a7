"""Crash test: kill -9 services and the broker during a run of N lab results.

SPEC section 5: kill -9 any service or the broker during a 10,000-result run; 0 results
lost, 0 applied twice. Results go in over MLLP (the client resends a message whose ACK it
did not get, as an HL7 sender does); lab-ingestion stores and publishes them; crp-monitor
applies them. Meanwhile crp-monitor, lab-ingestion and the broker are each killed with
SIGKILL and restarted. At the end every acknowledged result must be stored once by
lab-ingestion and applied once by crp-monitor.

    PYTHONPATH=. .venv/bin/python bench/crash_test.py [N]

With ``CRASH_TEST_LOG_DIR`` set, each service process's stderr (its JSON log) is appended to
``<dir>/<service>.log`` there, to tell why a result was lost; otherwise it is discarded.
``CRASH_TEST_PLAN=harsh`` kills the broker three times and crp-monitor three times.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import asyncpg

from bench.infra import BENCH_SUBJECT_HMAC_KEY, embedded_infrastructure, free_port
from bench.ingest_mllp import oru, prepare, service_env, wait_for, wait_ready
from shared.embedded.tansu import EmbeddedTansu
from shared.settings import PlatformSettings

# what is killed when (the fraction of results acknowledged); "harsh" restarts the broker
# three times, twice within a rebalance of crp-monitor, which is killed three times
PLANS = {
    "default": [
        (0.2, "crp-monitor"), (0.4, "lab-ingestion"), (0.6, "broker"), (0.8, "crp-monitor"),
    ],
    "harsh": [
        (0.2, "crp-monitor"), (0.4, "lab-ingestion"), (0.6, "broker"), (0.66, "broker"),
        (0.7, "crp-monitor"), (0.72, "broker"), (0.8, "crp-monitor"),
    ],
}  # fmt: skip


class Services:
    def __init__(self, settings: PlatformSettings) -> None:
        self.env = service_env(settings)
        self.env["CACHEXIA_CRP_MONITOR_HTTP_PORT"] = str(settings.crp_monitor_http_port)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        command = [sys.executable, "-m", "cachexia.cli", "service", name]
        log_dir = os.environ.get("CRASH_TEST_LOG_DIR")
        if log_dir is None:
            self.processes[name] = subprocess.Popen(
                command, env=self.env, stderr=subprocess.DEVNULL
            )
            return
        with open(f"{log_dir}/{name}.log", "ab") as stderr:  # the child keeps its own copy
            self.processes[name] = subprocess.Popen(command, env=self.env, stderr=stderr)

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


async def send_all(port: int, n: int, progress: list[int]) -> int:
    """Send N messages, each until it is acknowledged AA; return how many were resent."""
    resent = 0
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    for i in range(n):
        while True:
            try:
                if connection is None:
                    connection = await asyncio.open_connection("127.0.0.1", port)
                reader, writer = connection
                writer.write(oru(i))
                await writer.drain()
                ack = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 15)
                if b"MSA|AA|" in ack:
                    break
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                connection = None
            resent += 1
            await asyncio.sleep(0.2)
        progress[0] = i + 1
    return resent


async def chaos(
    services: Services, broker: EmbeddedTansu, n: int, progress: list[int]
) -> list[str]:
    plan = PLANS[os.environ.get("CRASH_TEST_PLAN", "default")]
    done = []
    for fraction, target in plan:
        while progress[0] < fraction * n:
            await asyncio.sleep(0.05)
        if target == "broker":
            broker.kill()
            await asyncio.sleep(1)
            broker.start()
        else:
            services.kill(target)
            await asyncio.sleep(1)
            services.start(target)
        done.append(f"kill -9 {target} at {progress[0]}")
    return done


async def main(n: int) -> None:
    with embedded_infrastructure() as infra:
        settings = PlatformSettings(
            subject_hmac_key=BENCH_SUBJECT_HMAC_KEY,
            database_url=infra.postgres.dsn(),
            kafka_bootstrap_servers=infra.broker.bootstrap_servers,
            data_dir=infra.data / "state",
            lab_ingestion_http_port=free_port(),
            lab_ingestion_mllp_port=free_port(),
            crp_monitor_http_port=free_port(),
        )
        await prepare(settings)
        services = Services(settings)
        try:
            for name in ("lab-ingestion", "crp-monitor"):
                services.start(name)
            wait_for(settings.lab_ingestion_mllp_port)
            for port in (settings.lab_ingestion_http_port, settings.crp_monitor_http_port):
                await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{port}/readyz")
            progress = [0]
            started = time.perf_counter()
            resent, kills = await asyncio.gather(
                send_all(settings.lab_ingestion_mllp_port, n, progress),
                chaos(services, infra.broker, n, progress),
            )
            sent_in = time.perf_counter() - started
            stored, applied, distinct = await wait_for_consumers(settings.postgres_dsn, n)
            waited = time.perf_counter() - started - sent_in
            if distinct < n:
                print(await where_missing(settings.postgres_dsn))
        finally:
            services.stop_all()
    print(f"{n} results sent over MLLP in {sent_in:.1f} s; {resent} resends after failures")
    print("; ".join(kills))
    print(f"stored once by lab-ingestion: {stored}; applied by crp-monitor: {applied} "
          f"({distinct} distinct) {waited:.1f} s after the last ACK")  # fmt: skip
    lost = n - distinct
    twice = (stored - n) + (applied - distinct)  # a result stored twice, or applied twice
    print(f"lost: {lost}; stored or applied twice: {twice}  (bar: 0 and 0)")


async def wait_for_consumers(dsn: str, n: int, timeout: float = 180) -> tuple[int, int, int]:
    conn = await asyncpg.connect(dsn)
    deadline = time.monotonic() + timeout
    try:
        while True:
            stored = await conn.fetchval("SELECT count(*) FROM lab_ingestion.results")
            applied = await conn.fetchval("SELECT count(*) FROM crp_monitor.crp_results")
            distinct = await conn.fetchval(
                """SELECT count(DISTINCT c.result_id) FROM crp_monitor.crp_results c
                   JOIN lab_ingestion.results r ON r.result_id = c.result_id"""
            )
            if distinct >= n or time.monotonic() > deadline:
                return int(stored), int(applied), int(distinct)
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def where_missing(dsn: str) -> str:
    """Where results stored by lab-ingestion but not applied by crp-monitor stand: its outbox
    (not yet published), crp-monitor's dead letters, or neither (published, never consumed)."""
    conn = await asyncpg.connect(dsn)
    try:
        unpublished = await conn.fetchval(
            "SELECT count(*) FROM lab_ingestion.outbox WHERE published_at IS NULL"
        )
        dead = await conn.fetch(
            """SELECT reason_code, count(*) AS n FROM crp_monitor.dead_letters
               GROUP BY reason_code ORDER BY reason_code"""
        )
        partitions = await conn.fetch(
            """SELECT o.kafka_partition AS partition, count(*) AS n,
                      min(o.kafka_offset) AS first, max(o.kafka_offset) AS last
               FROM lab_ingestion.outbox o
               WHERE o.topic = 'lab.results.v1' AND NOT EXISTS (
                   SELECT 1 FROM crp_monitor.crp_results c WHERE c.source_event_id = o.event_id)
               GROUP BY o.kafka_partition ORDER BY o.kafka_partition"""
        )
    finally:
        await conn.close()
    dead_text = ", ".join(f"{r['reason_code']} {r['n']}" for r in dead) or "none"
    missing = (
        ", ".join(
            f"p{r['partition']}: {r['n']} (offsets {r['first']}-{r['last']})" for r in partitions
        )
        or "none"
    )
    return (
        f"missing results: lab-ingestion outbox unpublished {unpublished}; crp-monitor dead "
        f"letters: {dead_text}; unapplied events by partition: {missing}"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
