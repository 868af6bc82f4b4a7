"""`cachexia up`'s watch on the real embedded servers: a broker or PostgreSQL killed under
the platform is started again; the broker gets its topics back at once (with their partition
count), PostgreSQL keeps what was committed."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from bench.infra import free_port
from cachexia.infra_watch import InfrastructureWatch, postgres_alive
from shared.contracts.topics import all_topic_names
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.tansu import EmbeddedTansu
from shared.messaging.kafka import ensure_topics

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_killed_broker_is_started_again_with_every_topic(broker: EmbeddedTansu) -> None:
    said: list[str] = []
    clock = Clock()
    watch = InfrastructureWatch(
        broker, None, say=said.append, clock=clock,
        create_topics=lambda: ensure_topics(broker.bootstrap_servers, all_topic_names(), 12),
    )  # fmt: skip
    broker.kill()
    await watch.check()
    clock.now += 1
    await watch.check()
    assert said[-1] == "embedded broker started again"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(all_topic_names())
    finally:
        await admin.close()
    assert {t["topic"]: len(t["partitions"]) for t in described} == dict.fromkeys(
        all_topic_names(), 12
    )


async def test_a_killed_postgresql_is_started_again_with_what_it_had_committed(
    server_folder: Path,
) -> None:
    server = EmbeddedPostgres(server_folder / "pg" / "data", free_port())
    server.start()
    try:
        conn = await asyncpg.connect(server.dsn("postgres"))
        await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
        await conn.close()
        pid = int((server.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, signal.SIGKILL)  # a crash: no checkpoint, postmaster.pid left behind
        said: list[str] = []
        clock = Clock()

        async def no_topics() -> None:
            raise AssertionError("only the broker gets topics")

        watch = InfrastructureWatch(
            None, server, say=said.append, create_topics=no_topics, clock=clock
        )
        await _until_dead(server)
        await watch.check()
        assert said == ["embedded PostgreSQL is not running; starting it again in 1 s"]
        clock.now += 1
        await watch.check()
        assert said[-1] == "embedded PostgreSQL started again"
        conn = await asyncpg.connect(server.dsn("postgres"))
        try:
            assert await conn.fetchval("SELECT n FROM kept") == 42
        finally:
            await conn.close()
    finally:
        server.stop()


async def _until_dead(server: EmbeddedPostgres) -> None:
    """SIGKILL is delivered at once; the process is then reaped by its parent (until then a
    zombie, which pg_ctl counts as running: tests/unit/test_infra_watch.py has that case)."""
    for _ in range(100):
        if not postgres_alive(server) and not server.is_running():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the killed postmaster still runs")
