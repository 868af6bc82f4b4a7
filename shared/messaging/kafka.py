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
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner

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
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._key_partitions: dict[tuple[str, bytes], int] = {}

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
        """Send all records and wait for every acknowledgement; raise if any failed.

        Records are grouped into one producer batch per partition (keyed like the default
        partitioner: murmur2 of the key), which keeps their order within each partition
        and costs one future per batch instead of one per record.
        """
        keys = [r.key.encode() if r.key is not None else None for r in records]
        groups: dict[tuple[str, int], list[int]] = {}
        for index, record in enumerate(records):
            partition = await self._partition_of(record.topic, keys[index])
            groups.setdefault((record.topic, partition), []).append(index)
        sent: list[tuple[asyncio.Future[Any], list[tuple[int, int]], int]] = []
        for (topic, partition), indices in groups.items():
            batch = self._producer.create_batch()
            members: list[tuple[int, int]] = []
            for index in indices:
                appended = batch.append(key=keys[index], value=records[index].value, timestamp=None)
                if appended is None:  # the batch is full: send it and start another
                    sent.append((await self._send(batch, topic, partition), members, partition))
                    batch, members = self._producer.create_batch(), []
                    appended = batch.append(
                        key=keys[index], value=records[index].value, timestamp=None
                    )
                    if appended is None:
                        raise ValueError(f"a record for {topic} is larger than a producer batch")
                members.append((index, appended.offset))
            sent.append((await self._send(batch, topic, partition), members, partition))
        deliveries: list[Delivery] = [Delivery(-1, -1)] * len(records)
        for future, members, partition in sent:
            metadata = await future
            for index, relative_offset in members:
                deliveries[index] = Delivery(partition, metadata.offset + relative_offset)
        return deliveries

    async def _send(self, batch: Any, topic: str, partition: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self._producer.send_batch(
            batch, topic, partition=partition
        )
        return future

    async def _partition_of(self, topic: str, key: bytes | None) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = sorted(await self._producer.partitions_for(topic))
            self._partitions[topic] = partitions
            self._key_partitions.clear()
        if key is None:
            return int(self._partitioner(None, partitions, partitions))
        cached = self._key_partitions.get((topic, key))
        if cached is None:
            if len(self._key_partitions) > 100_000:
                self._key_partitions.clear()
            cached = int(self._partitioner(key, partitions, partitions))
            self._key_partitions[(topic, key)] = cached
        return cached

    def forget_partitions(self) -> None:
        """Re-read partition counts (after topics were re-created)."""
        self._partitions.clear()
        self._key_partitions.clear()

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
