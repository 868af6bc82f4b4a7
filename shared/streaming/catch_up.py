"""Whether a consumer has applied what its topics held when the service started.

A service that answers from a consumer's copy of another service's data (lab-ingestion's
subject directory, fed from `trial.subjects.v1`) must not take a gap in that copy for an
absence while the copy catches up at start-up: the service listens at once, but its consumer
joins its group, is assigned its partitions (after a crash, once the broker gave up on the old
member: the session timeout) and applies what was published meanwhile, seconds later.

So, as the service starts, the watcher marks where each partition of the consumer's topics
ends (its high-water mark), then polls the consumer group's committed offsets until every
partition's has reached its mark, and then tells the service, once (``on_caught_up``). An
offset is committed only after the batch up to it was applied and its transaction committed
(at-least-once: ``shared.streaming.faust_app``), so a committed offset at the mark means the
copy holds everything the topic held at start, whichever instance of the group applied it.
A partition empty at start (its end at its log start) has nothing to wait for.

Committed offsets are read as a consumer of the group that never joins it (OffsetFetch), end
offsets with ListOffsets: the admin API's group offsets fail on the embedded broker, these
work there and on Apache Kafka. The embedded broker reports as a partition's end the base
offset of its last record batch + 1 (``shared.messaging.read_back``), short of the true end
when that batch holds several records; so the mark is where a fetch from the reported end - 1
leaves the position, past the last batch (on Apache Kafka, the reported end itself; a fetch
that brings nothing in time leaves the reported end).

The broker out of reach, the watcher tries again (the service keeps answering as not caught
up), logging the first failure and then at most one a minute. A log that ends before its
mark on a later poll is a new one (the embedded broker restarted empty, and the group's
offsets went with it): the marks are taken again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.errors import error_kind
from shared.waiting import wait_event

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # between two reads of the committed offsets, until caught up
MAX_BACKOFF_SECONDS = 5.0  # between attempts while the broker cannot be reached
LOG_EVERY_SECONDS = 60.0  # a broker out of reach is logged at most this often
FETCH_SECONDS = 2.0  # for the last batch of each partition, at each marking
ATTEMPT_SECONDS = 15.0  # a marking or a poll not answered by then has failed


@dataclass(frozen=True)
class Mark:
    """A partition as it was when marked: its log start, its end as the broker reported it,
    and its true end (the offset after its last record)."""

    start: int
    reported_end: int
    end: int

    def reached_by(self, committed: int | None) -> bool:
        return self.end <= self.start or (committed is not None and committed >= self.end)


def caught_up(
    marks: Mapping[TopicPartition, Mark], committed: Mapping[TopicPartition, int | None]
) -> bool:
    """Every partition's committed offset has reached its mark (or it was empty)."""
    return all(mark.reached_by(committed.get(tp)) for tp, mark in marks.items())


def log_renewed(
    marks: Mapping[TopicPartition, Mark], reported_ends: Mapping[TopicPartition, int]
) -> bool:
    """A partition now ends before the end it had when marked: its log is a new one."""
    return any(reported_ends.get(tp, mark.reported_end) < mark.reported_end
               for tp, mark in marks.items())  # fmt: skip


class Offsets(Protocol):
    """What the watcher asks the broker (``KafkaOffsets``)."""

    async def mark(self) -> dict[TopicPartition, Mark]: ...

    async def reported_ends(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]: ...

    async def committed(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int | None]: ...

    async def close(self) -> None: ...


class KafkaOffsets:
    """The marks and the group's committed offsets, read by two consumers that never join
    the group: one without a group (offsets, the last batches' fetch), one of ``group``
    (OffsetFetch only: it subscribes to nothing, commits nothing)."""

    def __init__(self, bootstrap_servers: str, group: str, topics: Iterable[str]) -> None:
        self._topics = list(topics)
        common = {"bootstrap_servers": bootstrap_servers, "request_timeout_ms": 10_000,
                  "enable_auto_commit": False}  # fmt: skip
        self._reader = AIOKafkaConsumer(**common, client_id=f"{group}-catch-up")
        self._group = AIOKafkaConsumer(
            **common, group_id=group, client_id=f"{group}-catch-up-offsets"
        )
        self._started = False

    async def _start(self) -> None:
        if not self._started:
            self._started = True
            await self._reader.start()
            await self._group.start()

    async def mark(self) -> dict[TopicPartition, Mark]:
        await self._start()
        await self._reader.topics()  # a metadata request: the partitions as they are now
        partitions = [
            TopicPartition(topic, p)
            for topic in self._topics
            for p in sorted(self._reader.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            raise LookupError("the consumer's topics have no partitions (yet)")
        starts = await self._reader.beginning_offsets(partitions)
        ends = await self._reader.end_offsets(partitions)
        true_ends = await self._last_batch_ends(
            {tp: ends[tp] for tp in partitions if ends[tp] > starts[tp]}
        )
        return {
            tp: Mark(starts[tp], ends[tp], max(ends[tp], true_ends.get(tp, ends[tp])))
            for tp in partitions
        }

    async def _last_batch_ends(self, ends: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Where a fetch from each reported end - 1 leaves the position (see the module)."""
        if not ends:
            return {}
        self._reader.assign(list(ends))
        try:
            for tp, end in ends.items():
                self._reader.seek(tp, end - 1)
            pending = set(ends)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + FETCH_SECONDS
            while pending and loop.time() < deadline:
                await self._reader.getmany(*pending, timeout_ms=200)
                pending = {tp for tp in pending if await self._reader.position(tp) < ends[tp]}
            return {tp: await self._reader.position(tp) for tp in ends}
        finally:
            self._reader.assign([])

    async def reported_ends(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = await self._reader.end_offsets(list(partitions))
        return ends

    async def committed(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        offsets = await asyncio.gather(*(self._group.committed(tp) for tp in partitions))
        return dict(zip(partitions, offsets, strict=True))

    async def close(self) -> None:
        if self._started:
            self._started = False
            await asyncio.gather(self._reader.stop(), self._group.stop(), return_exceptions=True)


class _Failures:
    """A broker out of reach, logged the first time and then at most once a minute."""

    def __init__(self, consumer: str, clock: Callable[[], float]) -> None:
        self._consumer = consumer
        self._clock = clock
        self._logged_at: float | None = None
        self._since_logged = 0

    def note(self, error: Exception) -> None:
        self._since_logged += 1
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < LOG_EVERY_SECONDS:
            return
        log.warning(
            "cannot tell whether the consumer has caught up with its topics; still waiting",
            extra={"consumer": self._consumer, "error": error_kind(error),
                   "failures": self._since_logged},
        )  # fmt: skip
        self._logged_at, self._since_logged = now, 0


async def watch_catch_up(
    consumer: str,
    offsets: Callable[[], Offsets],
    on_caught_up: Callable[[], None],
    stopping: asyncio.Event,
    *,
    poll_seconds: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    tried: asyncio.Event | None = None,
) -> None:
    """Mark the topics' ends, then wait until the group's committed offsets reach them, and
    call ``on_caught_up`` (once); then wait for ``stopping`` (a runtime's background task
    runs as long as the service). ``tried`` is set once the first attempt is over, whatever
    it found (the runtime waits for it, briefly, before it listens: topics empty at start
    are caught up before anything is answered). Never raises but a cancellation."""
    began = clock()
    failures = _Failures(consumer, clock)
    reader = offsets()
    marks: dict[TopicPartition, Mark] | None = None
    backoff = poll_seconds
    done = False
    try:
        while not done and not stopping.is_set():
            try:
                async with asyncio.timeout(ATTEMPT_SECONDS):  # not wait_for: shared.waiting
                    if marks is None:
                        marks = await reader.mark()
                    partitions = list(marks)
                    done = caught_up(marks, await reader.committed(partitions))
                    renewed = not done and log_renewed(
                        marks, await reader.reported_ends(partitions)
                    )
                if renewed:
                    log.warning("a topic's log is new (the broker restarted); marking it again",
                                extra={"consumer": consumer})  # fmt: skip
                    marks = None
                backoff = poll_seconds
            except Exception as error:  # the broker, or an unexpected answer: try again
                failures.note(error)
                with contextlib.suppress(Exception):
                    await reader.close()
                reader = offsets()
                backoff = min(max(backoff * 2, poll_seconds), MAX_BACKOFF_SECONDS)
            if tried is not None:
                tried.set()
            if not done and await wait_event(stopping, backoff):
                return
    finally:
        with contextlib.suppress(Exception):
            await reader.close()
    if not done:
        return
    log.info("the consumer has caught up with what its topics held at start",
             extra={"consumer": consumer, "seconds": round(clock() - began, 2)})  # fmt: skip
    on_caught_up()
    await stopping.wait()


def caught_up_watcher(
    bootstrap_servers: str, consumer: str, topics: Sequence[str]
) -> Callable[[Callable[[], None], asyncio.Event, asyncio.Event], Awaitable[None]]:
    """``watch_catch_up`` for ``consumer`` (its group) on the real broker."""

    async def watch(
        on_caught_up: Callable[[], None], stopping: asyncio.Event, tried: asyncio.Event
    ) -> None:
        await watch_catch_up(
            consumer, lambda: KafkaOffsets(bootstrap_servers, consumer, topics),
            on_caught_up, stopping, tried=tried,
        )  # fmt: skip

    return watch
