"""Kafka adapters: topic administration and the publisher used by the outbox relay.

Works on the embedded broker (no transactions, no idempotent producer) and on Apache Kafka:
the producer waits for all in-sync replicas and relies on the outbox and the consumers'
inboxes, not on Kafka's exactly-once machinery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    topic: str
    key: str | None
    value: bytes


@dataclass(frozen=True)
class Delivery:
    partition: int
    offset: int


async def ensure_topics(
    bootstrap_servers: str, names: Iterable[str], partitions: int, replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            # another process may create them between our two calls
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(n, partitions, replication_factor) for n in missing]
                )
        return missing
    finally:
        await admin.close()


class KafkaPublisher:
    """Publishes batches and reports where each record landed."""

    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=False,
            linger_ms=2,
            request_timeout_ms=10_000,
            retry_backoff_ms=200,
        )
        self._offsets = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            client_id=f"{client_id}-offsets",
            enable_auto_commit=False,
            request_timeout_ms=10_000,
            auto_offset_reset="none",
        )
        self._started = False

    async def start(self) -> None:
        if not self._started:
            await self._producer.start()
            await self._offsets.start()
            self._started = True

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await asyncio.gather(
                self._producer.stop(), self._offsets.stop(), return_exceptions=True
            )

    async def publish(self, records: Sequence[Record]) -> list[Delivery]:
        """Send all records and wait for every acknowledgement; raise if any failed."""
        futures = [
            await self._producer.send(
                r.topic, value=r.value, key=r.key.encode() if r.key is not None else None
            )
            for r in records
        ]
        metadata = await asyncio.gather(*futures)
        return [Delivery(m.partition, m.offset) for m in metadata]

    async def event_ids_at(
        self, positions: dict[tuple[str, int], int], timeout: float = 2.0
    ) -> dict[tuple[str, int], str | None]:
        """The ``event_id`` stored at each (topic, partition) offset, None where none is.

        Used to tell whether the broker still holds what we published: end offsets cannot
        be trusted for that (the embedded broker reports the last batch's base offset + 1).
        """
        wanted = {TopicPartition(t, p): offset for (t, p), offset in positions.items()}
        found: dict[tuple[str, int], str | None] = {tp: None for tp in positions}
        existing = await self.topics()
        wanted = {tp: o for tp, o in wanted.items() if tp.topic in existing}
        if not wanted:
            return found
        self._offsets.assign(list(wanted))
        for tp, offset in wanted.items():
            self._offsets.seek(tp, offset)
        pending = set(wanted)
        deadline = asyncio.get_running_loop().time() + timeout
        while pending and asyncio.get_running_loop().time() < deadline:
            batches = await self._offsets.getmany(*pending, timeout_ms=200, max_records=1)
            for tp, messages in batches.items():
                pending.discard(tp)
                first = messages[0] if messages else None
                if first is not None and first.offset == wanted[tp] and first.value:
                    found[(tp.topic, tp.partition)] = _event_id(first.value)
        self._offsets.assign([])
        return found

    async def topics(self) -> set[str]:
        await self._offsets._client.force_metadata_update()
        return set(await self._offsets.topics())


def _event_id(value: bytes) -> str | None:
    try:
        event_id = json.loads(value).get("event_id")
    except (ValueError, AttributeError):
        return None
    return str(event_id) if event_id is not None else None


async def kafka_reachable(bootstrap_servers: str, timeout: float = 2.0) -> bool:
    """One metadata round trip to the cluster."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2_000)
    try:
        async with asyncio.timeout(timeout):
            await admin.start()
            await admin.list_topics()
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()
    return True
