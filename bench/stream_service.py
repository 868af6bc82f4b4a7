"""Benchmark: a stream-processing service against a no-op faust agent, same broker, same run.

SPEC section 5: each stream-processing service (consume, apply with inbox, commit, emit via
outbox) >= 5,000 events/s and >= 40 % of a no-op consumer on the same framework. This
pre-loads N CRP results on `lab.results.v1`, then measures
  1. a faust agent that only counts (reference), and
  2. crp-monitor, the real service (batch agent, inbox, PostgreSQL commit per batch),
and prints events/s, the ratio and the process RSS.

    .venv/bin/python bench/stream_service.py [N]
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path

import faust
from aiokafka import AIOKafkaProducer

from bench.infra import BENCH_SUBJECT_HMAC_KEY, embedded_infrastructure, free_port
from cachexia.platform import create_topics
from cachexia.services import service_definition
from shared.contracts.topics import LAB_RESULTS
from shared.runtime import ServiceRuntime
from shared.settings import PlatformSettings
from tests.factories import crp_result


async def preload(servers: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=5)
    await producer.start()
    futures = []
    for i in range(n):
        subject = f"S-{i % 200:03d}"
        envelope = crp_result(subject, 30.0 + i % 50)
        futures.append(await producer.send(LAB_RESULTS, envelope.to_bytes(), key=subject.encode()))
    await asyncio.gather(*futures)
    await producer.stop()


async def noop_faust(servers: str, n: int, data: Path) -> float:
    app = faust.App(
        "bench-noop", broker=f"kafka://{servers}", web_enabled=False, autodiscover=False,
        datadir=str(data / "noop"), consumer_auto_offset_reset="earliest",
        topic_allow_declare=False, topic_disable_leader=True, store="memory://",
    )  # fmt: skip
    seen = 0
    first: float | None = None
    all_seen = asyncio.Event()

    @app.agent(app.topic(LAB_RESULTS, key_serializer="raw", value_serializer="raw"))
    async def count(stream: faust.StreamT[bytes]) -> None:
        nonlocal seen, first
        async for _ in stream:
            first = first or time.perf_counter()
            seen += 1
            if seen >= n:
                all_seen.set()

    await app.start()
    await all_seen.wait()
    elapsed = time.perf_counter() - (first or time.perf_counter())
    await asyncio.wait_for(app.stop(), 10)
    return n / elapsed


async def service(settings: PlatformSettings, n: int) -> float:
    runtime = ServiceRuntime(service_definition("crp-monitor"), settings)
    task = asyncio.create_task(runtime.run(install_signal_handlers=False))
    await runtime.started.wait()
    assert runtime.pool is not None
    first: float | None = None
    while True:
        done = int(await runtime.pool.fetchval("SELECT count(*) FROM crp_results"))
        if done and first is None:
            first = time.perf_counter()
            start_count = done
        if done >= n:
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - (first or time.perf_counter())
    runtime.stopping.set()
    await asyncio.wait_for(task, 30)
    return (n - start_count) / elapsed


async def main(n: int) -> None:
    with embedded_infrastructure() as infra:
        settings = PlatformSettings(
            subject_hmac_key=BENCH_SUBJECT_HMAC_KEY,
            database_url=infra.postgres.dsn(),
            kafka_bootstrap_servers=infra.broker.bootstrap_servers,
            data_dir=infra.data / "state",
            crp_monitor_http_port=free_port(),
        )
        await create_topics(settings)
        await preload(settings.kafka_servers, n)
        reference = await noop_faust(settings.kafka_servers, n, infra.data)
        measured = await service(settings, n)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"events: {n}")
    print(f"no-op faust agent:        {reference:10.0f} events/s")
    print(f"crp-monitor (inbox+commit): {measured:8.0f} events/s")
    print(f"ratio: {measured / reference:.0%}  (bars: >= 5,000 events/s and >= 40 %)")
    print(f"peak RSS of this process (both consumers + load): {rss_mb:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
