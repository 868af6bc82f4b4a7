"""Operations on the whole platform: wait for infrastructure, create topics, migrate."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from cachexia.services import service_definition
from shared.contracts.topics import all_topic_names
from shared.db.migrations import migrate_service
from shared.messaging.kafka import ensure_topics, kafka_reachable
from shared.settings import SERVICE_NAMES, PlatformSettings


async def wait_for_postgres(dsn: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not answer within {timeout} s: {exc}") from exc
            await asyncio.sleep(0.2)
        else:
            await conn.close()
            return


async def wait_for_kafka(servers: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await kafka_reachable(servers):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kafka at {servers} did not answer within {timeout} s")
        await asyncio.sleep(0.2)


async def create_topics(settings: PlatformSettings) -> list[str]:
    return await ensure_topics(
        settings.kafka_servers,
        all_topic_names(),
        settings.topic_partitions,
        settings.topic_replication_factor,
    )


async def migrate_all(settings: PlatformSettings) -> dict[str, list[str]]:
    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        applied = {}
        for name in SERVICE_NAMES:
            definition = service_definition(name)
            applied[name] = await migrate_service(
                conn, definition.schema, definition.migrations, definition.shared_migrations
            )
        return applied
    finally:
        await conn.close()
