"""crp-monitor shows how many CRP cancellations wait for their result, and for how long
(service_layer.reporting.watch_pending_cancellations, with a fake read)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from services.crp_monitor.adapters.metrics import CrpMonitorMetrics
from services.crp_monitor.domain.model import PendingCancellations
from services.crp_monitor.service_layer.reporting import watch_pending_cancellations


def test_the_oldest_age_counts_from_its_arrival_and_is_0_when_none_waits() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert PendingCancellations(2, now - timedelta(hours=2)).oldest_age_seconds(now) == 7200
    assert PendingCancellations(0, None).oldest_age_seconds(now) == 0
    # a database clock a moment ahead is no negative age
    assert PendingCancellations(1, now + timedelta(seconds=1)).oldest_age_seconds(now) == 0


async def test_the_gauges_follow_each_read_and_a_failed_read_keeps_the_last() -> None:
    registry = CollectorRegistry()
    metrics = CrpMonitorMetrics(registry)
    stopping = asyncio.Event()
    arrived = datetime.now(UTC) - timedelta(minutes=10)
    reads: list[PendingCancellations | Exception] = [
        PendingCancellations(3, arrived),
        ConnectionRefusedError("database away"),
    ]
    shown: list[float | None] = []
    both_read = asyncio.Event()

    async def read() -> PendingCancellations:
        answer = reads.pop(0)
        if not reads:
            both_read.set()
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def stop_after_two_reads() -> None:
        await both_read.wait()
        await asyncio.sleep(0.01)  # the failed read has been handled
        shown.append(registry.get_sample_value("crp_pending_cancellations_events"))
        stopping.set()

    await asyncio.wait_for(
        asyncio.gather(
            watch_pending_cancellations(read, metrics.show_pending, stopping, every_seconds=0.001),
            stop_after_two_reads(),
        ),
        5,
    )
    assert shown == [3.0]  # the failed read left the figure read before
    age = registry.get_sample_value("crp_oldest_pending_cancellation_age_seconds")
    assert age is not None and 590 < age < 700
