"""Reading back what a partition holds at the offsets the outbox relay once published to.

Three answers, never two: the event is there (or retention deleted it: no loss), something
else or nothing is there (the broker lost it), or the broker did not answer in time. A slow
answer is "unknown, ask again later", never "lost": taking it for a loss would republish
every retained event (up to the retention period) to every consumer.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import OffsetOutOfRangeError


@dataclass(frozen=True)
class Readback:
    """What a partition holds at an offset we published to (see ``read_back_offsets``)."""

    event_id: str | None = None  # the event found there; None: nothing (readable) is there
    expired: bool = False  # below the partition's log start: retention deleted it
    unknown: bool = False  # the broker did not answer in time: neither kept nor lost

    def confirms(self, event_id: str) -> bool:
        """The broker still holds ``event_id`` here, or deleted it by retention: an event
        published that long ago was consumed long ago, so the broker lost nothing."""
        return not self.unknown and (self.expired or self.event_id == event_id)

    def loses(self, event_id: str) -> bool:
        """The broker answered, and no longer holds ``event_id`` here."""
        return not self.unknown and not self.confirms(event_id)


async def read_back_offsets(
    consumer: AIOKafkaConsumer, wanted: dict[TopicPartition, int], timeout: float
) -> dict[tuple[str, int], Readback]:
    """What each partition holds at the offset we once published there.

    Below the partition's log start, retention deleted the event: it was published (and
    consumed) long ago and the broker lost nothing, so it reads as ``expired``. An empty
    partition holds nothing. Anything else is fetched. Below the end offset the fetch starts
    at the offset itself. At or past it, the fetch starts at the end offset - 1, which is
    inside the log on both brokers: the last event on Apache Kafka, the base offset of the
    last batch on the embedded broker (which reports that + 1 as the end, so there the end
    cannot tell that an offset is not there). The answer then runs to the end of the log,
    and an answer that ends before the offset means nothing is there, without waiting for
    a timeout. A fetch refused as out of range reads as nothing there, unless retention has
    meanwhile moved the log start past it. A partition that does not answer within
    ``timeout`` reads as ``unknown``.
    """
    partitions = list(wanted)
    starts = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)
    found: dict[TopicPartition, Readback] = {}
    seek_to: dict[TopicPartition, int] = {}
    for tp, offset in wanted.items():
        if offset < starts[tp]:
            found[tp] = Readback(expired=True)
        elif ends[tp] <= starts[tp]:
            found[tp] = Readback()  # an empty partition: nothing to fetch
        else:
            seek_to[tp] = offset if offset < ends[tp] else max(starts[tp], ends[tp] - 1)
    if seek_to:
        found.update(await _fetch_at(consumer, wanted, seek_to, timeout))
    return {(tp.topic, tp.partition): readback for tp, readback in found.items()}


async def _fetch_at(
    consumer: AIOKafkaConsumer,
    wanted: dict[TopicPartition, int],
    seek_to: dict[TopicPartition, int],
    timeout: float,
) -> dict[TopicPartition, Readback]:
    """The event at each wanted offset, fetching from ``seek_to``; ``unknown`` where no
    answer arrives within ``timeout``."""
    found: dict[TopicPartition, Readback] = {}
    consumer.assign(list(seek_to))
    try:
        for tp, offset in seek_to.items():
            consumer.seek(tp, offset)
        pending = set(seek_to)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while pending and loop.time() < deadline:
            try:
                batches = await consumer.getmany(*pending, timeout_ms=200)
            except OffsetOutOfRangeError as error:
                gone = _out_of_range(error, seek_to) & pending
                pending -= gone
                found.update(await _expired_or_missing(consumer, {tp: wanted[tp] for tp in gone}))
                continue
            for tp, messages in batches.items():
                if tp not in pending or not messages:
                    continue
                pending.discard(tp)
                at = [m for m in messages if m.offset == wanted[tp]]
                found[tp] = Readback(_event_id(at[0].value) if at and at[0].value else None)
        found.update({tp: Readback(unknown=True) for tp in pending})
    finally:
        consumer.assign([])
    return found


def _out_of_range(
    error: OffsetOutOfRangeError, seek_to: dict[TopicPartition, int]
) -> set[TopicPartition]:
    """The partitions an out-of-range fetch error names at the offsets we sought. aiokafka
    raises it with ``{partition: fetch offset}``; a partition named at another offset is a
    stale answer to an earlier read, and an error of another form is not ours to interpret."""
    named = error.args[0] if error.args and isinstance(error.args[0], dict) else None
    if named is None:
        raise error
    return {tp for tp, offset in named.items() if seek_to.get(tp) == offset}


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
