"""Kafka adapters: topic administration and the publisher used by the outbox relay.

Works on the embedded broker (no transactions, no idempotent producer) and on Apache Kafka:
the producer waits for all in-sync replicas and relies on the outbox and the consumers'
inboxes, not on Kafka's exactly-once machinery. The producer is fenced (``fence.py``): it
opens connections only in a session the relay opens to check the broker, so it never
publishes to a restarted broker the relay has not checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner

from shared.messaging.fence import ConnectionFence, Session
from shared.messaging.read_back import Readback, read_back_offsets

__all__ = [
    "Delivery", "KafkaPublisher", "Readback", "Record", "Session", "ensure_topics",
    "kafka_reachable", "read_back_offsets",
]  # fmt: skip

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
        self._fence = ConnectionFence(self._producer.client)
        self._started = False
        self._producer_started = False  # a start that failed on the offsets reader
        self._stopped = False
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._key_partitions: dict[tuple[str, bytes], int] = {}

    async def start(self) -> None:
        """Start the producer, then the offsets reader; after a failed start (the relay
        tries again), only what has not started yet is started."""
        if self._stopped:  # aiokafka's clients are not restarted: a stop() would close none
            raise RuntimeError("a stopped publisher is not started again (review 258)")
        if self._started:
            return
        if not self._producer_started:
            await self._producer.start()
            self._producer_started = True
        await self._offsets.start()
        self._started = True

    async def stop(self) -> None:
        """Close both clients, started or not: a start that failed half-way (the broker
        down) leaves connections to close (review 254). Not started again after."""
        self._started = self._producer_started = False
        self._stopped = True
        await asyncio.gather(self._producer.stop(), self._offsets.stop(), return_exceptions=True)

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

    async def open_session(self) -> Session:
        """Let the producer connect to the brokers, before the relay checks what they hold.

        A batch left from a failed publish is waited for first (it is delivered over a
        trusted connection, or expires): it must not go out over the new connections,
        ahead of the events the check may find lost."""
        await self._producer.flush()
        return await self._fence.open_session()

    def trust(self, session: Session) -> None:
        """The broker was checked after ``session`` opened: publish over its connections."""
        self._fence.trust(session)

    def trusted(self) -> bool:
        """The producer can only reach the broker the relay last checked."""
        return self._fence.trusted()

    def forget_partitions(self) -> None:
        """Re-read partition counts (after topics were re-created)."""
        self._partitions.clear()
        self._key_partitions.clear()

    async def read_back(
        self, positions: dict[tuple[str, int], int], timeout: float = 2.0
    ) -> dict[tuple[str, int], Readback]:
        """What each (topic, partition) holds at the offset given, to tell whether the
        broker still has what we published (see ``read_back_offsets``). A partition that
        does not exist (nor its topic) holds nothing: it is not asked for offsets, which
        would time out and so stall the check."""
        found = {tp: Readback() for tp in positions}
        cluster = await self._offsets._client.fetch_all_metadata()
        wanted = {
            TopicPartition(t, p): offset
            for (t, p), offset in positions.items()
            if p in (cluster.partitions_for_topic(t) or ())
        }
        if wanted:
            found.update(await read_back_offsets(self._offsets, wanted, timeout))
        return found

    async def topics(self) -> set[str]:
        await self._offsets._client.force_metadata_update()
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
