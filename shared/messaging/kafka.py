"""Kafka adapters: topic administration and the publisher used by the outbox relay.

Works on the embedded broker (no transactions, no idempotent producer) and on Apache Kafka:
the producer waits for all in-sync replicas and relies on the outbox and the consumers'
inboxes, not on Kafka's exactly-once machinery.
"""

from __future__ import annotations

import asyncio
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
            try:
                await admin.create_topics(
                    [NewTopic(n, partitions, replication_factor) for n in missing]
                )
            except TopicAlreadyExistsError:
                pass  # another process created them between our two calls
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
            await asyncio.gather(self._producer.stop(), self._offsets.stop(), return_exceptions=True)

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

    async def end_offsets(self, topic_partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Next offset of each partition; a partition that does not exist is left out."""
        known = {}
        for topic in {t for t, _ in topic_partitions}:
            partitions = self._offsets.partitions_for_topic(topic)
            if partitions is None:
                await self._offsets._client.force_metadata_update()  # noqa: SLF001 - no public refresh
                partitions = self._offsets.partitions_for_topic(topic)
            known[topic] = partitions or set()
        wanted = [TopicPartition(t, p) for t, p in topic_partitions if p in known.get(t, set())]
        if not wanted:
            return {}
        offsets = await self._offsets.end_offsets(wanted)
        return {(tp.topic, tp.partition): offset for tp, offset in offsets.items()}

    async def topics(self) -> set[str]:
        await self._offsets._client.force_metadata_update()  # noqa: SLF001 - no public refresh
        return set(await self._offsets.topics())


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
