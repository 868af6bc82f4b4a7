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
from aiokafka.errors import KafkaError, OffsetOutOfRangeError, TopicAlreadyExistsError
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


@dataclass(frozen=True)
class Readback:
    """What a partition holds at an offset we published to (see ``read_back``)."""

    event_id: str | None = None  # the event found there; None: nothing (readable) is there
    expired: bool = False  # below the partition's log start: retention deleted it

    def confirms(self, event_id: str) -> bool:
        """The broker still holds ``event_id`` here, or deleted it by retention: an event
        published that long ago was consumed long ago, so the broker lost nothing."""
        return self.expired or self.event_id == event_id


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


async def read_back_offsets(
    consumer: AIOKafkaConsumer, wanted: dict[TopicPartition, int], timeout: float
) -> dict[tuple[str, int], Readback]:
    """What each partition holds at the offset we once published there.

    Below the partition's log start, retention deleted the event: it was published (and
    consumed) long ago and the broker lost nothing, so it reads as ``expired``. An empty
    partition holds nothing. Anything else is fetched, even at or past the end offset: the
    embedded broker reports its last batch's base offset + 1 as the end, so on it the end
    cannot tell that an offset is not there. A fetch refused as out of range (Apache Kafka,
    past the end: the log was truncated or the topic re-created) reads as nothing there,
    unless retention has meanwhile moved the log start past it.
    """
    partitions = list(wanted)
    starts = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)
    found: dict[TopicPartition, Readback] = {}
    to_fetch: dict[TopicPartition, int] = {}
    for tp, offset in wanted.items():
        if offset < starts[tp]:
            found[tp] = Readback(expired=True)
        elif ends[tp] <= starts[tp]:
            found[tp] = Readback()  # an empty partition: nothing to fetch
        else:
            to_fetch[tp] = offset
    if to_fetch:
        found.update(await _fetch_at(consumer, to_fetch, timeout))
    return {(tp.topic, tp.partition): readback for tp, readback in found.items()}


async def _fetch_at(
    consumer: AIOKafkaConsumer, wanted: dict[TopicPartition, int], timeout: float
) -> dict[TopicPartition, Readback]:
    """The event at each offset; nothing where none arrives within ``timeout``."""
    found = {tp: Readback() for tp in wanted}
    consumer.assign(list(wanted))
    try:
        for tp, offset in wanted.items():
            consumer.seek(tp, offset)
        pending = set(wanted)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while pending and loop.time() < deadline:
            try:
                batches = await consumer.getmany(*pending, timeout_ms=200, max_records=1)
            except OffsetOutOfRangeError as error:
                gone = _out_of_range(error, wanted) & pending
                pending -= gone
                found.update(await _expired_or_missing(consumer, {tp: wanted[tp] for tp in gone}))
                continue
            for tp, messages in batches.items():
                pending.discard(tp)
                first = messages[0] if messages else None
                if first is not None and first.offset == wanted[tp] and first.value:
                    found[tp] = Readback(_event_id(first.value))
    finally:
        consumer.assign([])
    return found


def _out_of_range(
    error: OffsetOutOfRangeError, wanted: dict[TopicPartition, int]
) -> set[TopicPartition]:
    """The partitions an out-of-range fetch error names at the offsets we sought. aiokafka
    raises it with ``{partition: fetch offset}``; a partition named at another offset is a
    stale answer to an earlier read, and an error of another form is not ours to interpret."""
    named = error.args[0] if error.args and isinstance(error.args[0], dict) else None
    if named is None:
        raise error
    return {tp for tp, offset in named.items() if wanted.get(tp) == offset}


async def _expired_or_missing(
    consumer: AIOKafkaConsumer, gone: dict[TopicPartition, int]
) -> dict[TopicPartition, Readback]:
    """Retention may have removed the offset since we read the log start: ask again."""
    if not gone:
        return {}
    starts = await consumer.beginning_offsets(list(gone))
    return {tp: Readback(expired=offset < starts[tp]) for tp, offset in gone.items()}


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
