"""Consumer lag, computed on a timer for every assigned partition.

Lag is the partition's high-water mark (end offset, asked of the broker) minus the group's
committed offset as the consumer knows it (faust records what it committed, and what it
found committed when the partition was assigned); a partition without a committed offset is
read from its beginning, so its earliest offset stands in. Computed this way, and on a timer
rather than after each applied batch, the gauge grows while a consumer is stuck retrying a
batch or exits and restarts on one (its committed offset stays behind) instead of keeping
its last value. A revoked partition's series is removed. The admin API's group offsets are
not used: they fail on the embedded broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from faust.types import TP

from shared.metrics import ConsumerMetrics

log = logging.getLogger(__name__)

LAG_INTERVAL_SECONDS = 5.0


class LagSource(Protocol):
    """The part of a faust consumer the monitor reads."""

    def assignment(self) -> set[TP]: ...

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]: ...

    async def earliest_offsets(self, *partitions: TP) -> Mapping[TP, int]: ...


def committed_offsets(consumer: Any) -> Mapping[TP, int | None]:
    """What faust committed (or found committed on assignment); it keeps no public accessor."""
    committed = getattr(consumer, "_committed_offset", None)
    return committed if isinstance(committed, Mapping) else {}


class LagMonitor:
    """Sets ``cachexia_consumer_lag_messages`` for the assigned partitions of ``topics``."""

    def __init__(
        self,
        topics: Iterable[str],
        metrics: ConsumerMetrics,
        consumer: Callable[[], LagSource],
        *,
        timeout_seconds: float = LAG_INTERVAL_SECONDS,
    ) -> None:
        self._topics = frozenset(topics)
        self._metrics = metrics
        self._consumer = consumer
        self._timeout = timeout_seconds
        self._reported: set[TP] = set()
        self._failures = 0

    @property
    def reported(self) -> frozenset[TP]:
        return frozenset(self._reported)

    async def refresh(self) -> None:
        """Compute every assigned partition's lag; never raises (telemetry only)."""
        try:
            async with asyncio.timeout(self._timeout):  # not wait_for: see shared.waiting
                await self._refresh()
        except Exception as exc:
            self._failures += 1
            # not while the consumer starts, then one in 60: a broker that is down is
            # reported elsewhere (readiness)
            level = logging.WARNING if self._failures % 60 == 3 else logging.DEBUG
            log.log(level, "consumer lag not computed", extra={"error": type(exc).__name__})
        else:
            self._failures = 0

    def forget(self, partitions: Iterable[TP]) -> None:
        """Remove the series of partitions this consumer no longer reads."""
        for tp in partitions:
            if tp.topic in self._topics:
                self._metrics.remove_lag(tp.topic, tp.partition)
                self._reported.discard(tp)

    async def _refresh(self) -> None:
        consumer = self._consumer()
        assigned = {tp for tp in consumer.assignment() if tp.topic in self._topics}
        self.forget(self._reported - assigned)
        if not assigned:
            return
        committed = committed_offsets(consumer)
        positions = {tp: committed.get(tp) for tp in assigned}
        unknown = [tp for tp, offset in positions.items() if offset is None]
        # each call waits for faust's consumer thread (about 1.5 s on the embedded broker)
        highwaters, earliest = await asyncio.gather(
            consumer.highwaters(*assigned), _earliest(consumer, unknown)
        )
        positions.update({tp: earliest.get(tp) for tp in unknown})
        for tp in sorted(assigned):
            highwater, position = highwaters.get(tp), positions[tp]
            if highwater is None or position is None:
                continue
            self._metrics.set_lag(tp.topic, tp.partition, int(highwater) - int(position))
            self._reported.add(tp)


async def _earliest(consumer: LagSource, partitions: list[TP]) -> Mapping[TP, int]:
    return await consumer.earliest_offsets(*partitions) if partitions else {}
