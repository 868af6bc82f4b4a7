"""A commit that straddles a rebalance never writes the new assignment's commit bookkeeping
(see guarded_consumer): faust records the offsets of a commit after it returns, refused or
not, and would then ignore every acknowledgement of the new log below them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from tests.unit.guarded_consumer_fakes import TP0, faked_consumer, record


async def test_a_commit_in_flight_across_the_restart_does_not_stop_the_new_log_from_committing(
    tmp_path: Path,
) -> None:
    faked = await faked_consumer(tmp_path)
    consumer = faked.consumer
    await consumer.on_partitions_assigned({TP0}, 1)
    await consumer.perform_seek()
    # the old log: offsets 500-510 done; faust's commit timer sends 511 as the broker dies
    for offset in range(500, 511):
        message = consumer._to_message(TP0, record(offset))
        assert consumer.ack(message)
    faked.commit_gate = asyncio.Event()
    in_flight = asyncio.ensure_future(consumer.commit())
    await asyncio.sleep(0.01)
    # the broker is back: the member is forgotten, the partitions are revoked...
    await consumer.on_partitions_revoked({TP0})
    faked.commit_gate.set()  # ...and the commit in flight comes back refused
    assert await in_flight is False
    faked.commit_gate = None
    # the new log is assigned; the re-created group has no committed offset
    await consumer.on_partitions_assigned({TP0}, 1)
    await consumer.perform_seek()
    for offset in range(10):  # the new log: offsets 0-9 read and applied
        consumer.ack(consumer._to_message(TP0, record(offset)))
    await consumer.commit()
    # what the new log applied is committed (as a consumer never restarted with it would
    # otherwise read the whole new log again, and the lag gauge reads what faust recorded)
    assert consumer._committed_offset.get(TP0) == 10, consumer._committed_offset
    assert faked.sent == [{TP0: 10}]


async def test_offsets_computed_before_a_rebalance_are_not_sent_after_it(tmp_path: Path) -> None:
    """faust computes the offsets, then waits for its producer before it commits them; the
    partition is revoked and assigned again meanwhile (after a broker restart: the new log)."""
    faked = await faked_consumer(tmp_path)
    consumer = faked.consumer
    await consumer.on_partitions_assigned({TP0}, 1)
    await consumer.perform_seek()
    for offset in range(500, 511):
        consumer.ack(consumer._to_message(TP0, record(offset)))
    flushed = asyncio.Event()

    async def slow_flush() -> None:
        await flushed.wait()

    consumer.app.producer = SimpleNamespace(flush=slow_flush)  # type: ignore[assignment]  # a fake producer
    in_flight = asyncio.ensure_future(consumer.commit())
    await asyncio.sleep(0.01)
    await faked.rebalance()  # the new membership: a commit now would be accepted
    flushed.set()
    assert await in_flight is False
    assert faked.sent == []  # 511 is an offset of the old log
    assert consumer._committed_offset.get(TP0) is None


async def test_a_commit_begun_in_the_current_assignment_is_recorded(tmp_path: Path) -> None:
    faked = await faked_consumer(tmp_path)
    faked.committed = 3
    consumer = faked.consumer
    await consumer.on_partitions_assigned({TP0}, 1)
    await consumer.perform_seek()
    for offset in range(3, 8):
        consumer.ack(consumer._to_message(TP0, record(offset)))
    assert await consumer.commit() is True
    assert faked.sent == [{TP0: 8}]
    assert consumer._committed_offset[TP0] == 8


async def test_checked_a_retained_partition_commits_after_a_normal_rebalance(
    tmp_path: Path,
) -> None:
    """Apache Kafka, several members: the partition stays with this member; the batch in
    flight is dropped and read again from the committed offset, and commits go on."""
    faked = await faked_consumer(tmp_path)
    faked.committed = 100
    consumer = faked.consumer
    await consumer.on_partitions_assigned({TP0}, 1)
    await consumer.perform_seek()
    in_flight = [consumer._to_message(TP0, record(o)) for o in range(100, 110)]
    await faked.rebalance()
    assert not any(consumer.ack(m) for m in in_flight)  # old assignment: dropped
    for offset in range(100, 105):  # read again
        assert consumer.ack(consumer._to_message(TP0, record(offset)))
    await consumer.commit()
    assert faked.sent == [{TP0: 105}]
