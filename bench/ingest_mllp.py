"""Benchmark: MLLP ingestion with durable ACKs against a bare parse-and-ACK server.

SPEC section 5: >= 1,500 ORU messages/s over 8 concurrent connections with ACK only after
the durable commit, and >= 60 % of a bare server on the same MLLP and HL7 libraries (same
client, same run). Starts embedded PostgreSQL and the broker, runs lab-ingestion as its own
process (so its RSS is its own), enrols the subjects, then pushes N messages through each
server with the same asyncio client and prints messages/s, ACK latency p50/p99 and RSS.

    PYTHONPATH=. .venv/bin/python bench/ingest_mllp.py [N] [ROUNDS]

N messages go to each server, in ROUNDS (default 5) alternating rounds, so that a change in
the machine's speed during the run (other tenants of the host) affects both alike; the
figures are over all rounds, with each round's ratio shown too.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path

import asyncpg

from bench.infra import (
    BENCH_SUBJECT_HMAC_KEY,
    cpu_of,
    cpu_seconds,
    embedded_infrastructure,
    free_port,
    postgres_pids,
    rss_mb,
    schedstats,
    scheduling_since,
)
from bench.mllp_report import (
    BARE,
    DURABLE,
    SERVICE,
    Pushed,
    Tally,
    stalled_seconds,
    summarise,
)
from cachexia.platform import create_topics, migrate_all
from services.lab_ingestion.adapters.sources import add_source
from shared.contracts.identity import hospital_id_hmac
from shared.embedded.tansu import port_open
from shared.secrets import subject_hmac_key
from shared.settings import PlatformSettings

CONNECTIONS = 8
SUBJECTS = 200
ROOT = Path(__file__).resolve().parents[1]


def oru(i: int) -> bytes:
    mrn = f"MRN{i % SUBJECTS:05d}"
    segments = [
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|BENCH-{i}|P|2.5.1",
        f"PID|1||{mrn}^^^HOSP^MR||DOE^JOHN||19580214|M",
        f"OBR|1|PLC{i}|ORD{i}|LAB^Lab panel|||20261120081500+0100",
        f"OBX|1|NM|1988-5^CRP^LN||{20 + i % 50}|mg/L|0-5|H|||F|||20261120081500+0100",
    ]
    return b"\x0b" + "\r".join(segments).encode() + b"\r\x1c\r"


def sendable(n: int) -> int:
    """How many of ``n`` messages ``push`` sends: as many over each of the CONNECTIONS."""
    return n // CONNECTIONS * CONNECTIONS


async def push(port: int, first: int, n: int) -> Pushed:
    """``sendable(n)`` messages over CONNECTIONS connections, as many over each."""
    latencies: list[float] = []
    acked_at: list[float] = []
    errors = 0

    async def connection(indices: range) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in indices:
            started = time.perf_counter()
            writer.write(oru(i))
            await writer.drain()
            ack = await reader.readuntil(b"\x1c\r")
            acked_at.append(time.perf_counter())
            latencies.append(acked_at[-1] - started)
            if b"MSA|AA|" not in ack:
                errors += 1
        writer.close()

    per = n // CONNECTIONS
    started = time.perf_counter()
    await asyncio.gather(
        *(connection(range(first + c * per, first + (c + 1) * per)) for c in range(CONNECTIONS))
    )
    elapsed = time.perf_counter() - started
    return Pushed(
        elapsed, latencies, errors, stalled_seconds([started, *acked_at]), per * CONNECTIONS
    )


async def prepare(settings: PlatformSettings) -> None:
    await create_topics(settings)
    await migrate_all(settings)
    key = subject_hmac_key(settings)
    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        await add_source(conn, "LIS", "HOSP")
        await conn.executemany(
            """INSERT INTO lab_ingestion.enrolled_subjects
                   (subject_id, site_id, site_timezone, hospital_id_hmac, day1, enrolled_at)
               VALUES ($1, 'CH-01', 'Europe/Zurich', $2, '2026-11-02', now())""",
            [(f"S-{i:05d}", hospital_id_hmac(key, f"MRN{i:05d}")) for i in range(SUBJECTS)],
        )
    finally:
        await conn.close()


def service_env(settings: PlatformSettings) -> dict[str, str]:
    """The environment of a lab-ingestion process on the benchmark's infrastructure."""
    return {
        **os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": settings.postgres_dsn,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_servers,
        "CACHEXIA_DATA_DIR": str(settings.data_dir), "CACHEXIA_LOG_LEVEL": "WARNING",
        "CACHEXIA_INGEST_BATCH_SIZE": os.environ.get("CACHEXIA_INGEST_BATCH_SIZE", "256"),
        "CACHEXIA_LAB_INGESTION_HTTP_PORT": str(settings.lab_ingestion_http_port),
        "CACHEXIA_LAB_INGESTION_MLLP_PORT": str(settings.lab_ingestion_mllp_port),
        "CACHEXIA_SUBJECT_HMAC_KEY": settings.subject_hmac_key.get_secret_value(),
    }  # fmt: skip


def wait_ready(url: str, timeout: float = 60) -> None:
    """Until ``url`` (a /readyz) answers 200: a service still starting answers 503 (its
    broker or database not yet confirmed), or does not listen yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:  # urllib's HTTPError (a 503) and URLError are OSErrors
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready within {timeout:.0f} s")
        time.sleep(0.2)


def wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on {port}")
        time.sleep(0.1)


async def measure(
    ports: dict[str, int],
    pids: dict[str, int],
    pg_pids: Callable[[], list[int]],
    n: int,
    rounds: int,
) -> dict[str, Tally]:
    """``rounds`` alternating pushes of n/rounds messages to each server: the machine's speed
    drifts (other tenants), and alternating exposes both servers to the same drift."""
    tallies = {name: Tally() for name in ports}
    per_round = n // rounds
    for r in range(rounds):
        for name, port in ports.items():
            before = cpu_of(pids[name])
            loop, client, pg = (
                schedstats([pids[name]]),
                schedstats([os.getpid()]),
                schedstats(pg_pids()),
            )
            pushed = await push(port, r * per_round, per_round)
            tallies[name].add(pushed, cpu_of(pids[name]) - before)
            tallies[name].add_scheduling(
                scheduling_since(loop), scheduling_since(client), scheduling_since(pg)
            )
    return tallies


async def main(n: int, rounds: int) -> None:
    with embedded_infrastructure() as infra:
        data, postgres, broker = infra.data, infra.postgres, infra.broker
        settings = PlatformSettings(
            subject_hmac_key=BENCH_SUBJECT_HMAC_KEY,
            database_url=postgres.dsn(), kafka_bootstrap_servers=broker.bootstrap_servers,
            data_dir=data / "state", lab_ingestion_http_port=free_port(),
            lab_ingestion_mllp_port=free_port(),
        )  # fmt: skip
        env = service_env(settings)
        bare_port, durable_port = free_port(), free_port()
        processes = []
        try:
            await prepare(settings)
            bare = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "bare_mllp_server.py"), str(bare_port)],
                env=env,
            )
            service = subprocess.Popen(
                [sys.executable, "-m", "cachexia.cli", "service", "lab-ingestion"],
                env=env, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            durable = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "durable_mllp_server.py"),
                 str(durable_port)],
                env={**env, "DATABASE_URL": postgres.dsn()},
            )  # fmt: skip
            processes = [bare, service, durable]
            wait_for(bare_port)
            wait_for(durable_port)
            wait_for(settings.lab_ingestion_mllp_port)
            url = f"http://127.0.0.1:{settings.lab_ingestion_http_port}/readyz"
            await asyncio.to_thread(wait_ready, url)
            await push(bare_port, 10_000_000, 800)  # warm-up
            await push(settings.lab_ingestion_mllp_port, 10_000_000, 800)
            await push(durable_port, 10_000_000, 800)
            sent = sendable(n // rounds) * rounds  # as many in each round, on each connection
            print(f"{sent} ORU^R01 messages per server (of {n} asked) in {rounds} alternating "
                  f"rounds, {CONNECTIONS} connections, one client process")  # fmt: skip
            before = cpu_seconds(service.pid, broker, postgres)
            tallies = await measure(
                {BARE: bare_port, SERVICE: settings.lab_ingestion_mllp_port, DURABLE: durable_port},
                {BARE: bare.pid, SERVICE: service.pid, DURABLE: durable.pid},
                partial(postgres_pids, postgres), n, rounds,
            )  # fmt: skip
            after = cpu_seconds(service.pid, broker, postgres)
            summarise(tallies, before, after)
            rss, peak = rss_mb(service.pid)
            print(f"lab-ingestion RSS {rss:.0f} MB (peak {peak:.0f} MB; bar < 150 MB)")
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 20_000,
            int(sys.argv[2]) if len(sys.argv) > 2 else 5,
        )
    )
