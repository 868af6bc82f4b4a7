"""A commit that straddles a rebalance never writes the new assignment's commit bookkeeping
(see guarded_consumer): faust records the offsets of a commit after it returns, refused or
not, and would then ignore every acknowledgement of the new log below them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import UnknownMemberIdError

from tests.unit.guarded_consumer_fakes import LEADER, TP0, Faked, faked_consumer, record


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

    consumer.app.producer = SimpleNamespace(flush=slow_flush)  # type: ignore[assignment, misc]  # a fake producer
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


async def recording_commits(tmp_path: Path) -> tuple[Faked, list[Any]]:
    """A consumer assigned TP0 whose coordinator records the commit requests it sends."""
    faked = await faked_consumer(tmp_path)
    sent: list[Any] = []

    async def do_commit_offsets(assignment: Any, offsets: Any) -> None:
        sent.append(offsets)

    faked.kafka._coordinator._do_commit_offsets = do_commit_offsets  # type: ignore[method-assign]  # the broker's side, faked
    await faked.kafka._client._get_conn(LEADER)
    await faked.consumer.on_partitions_assigned({TP0}, 1)
    await faked.consumer.perform_seek()
    return faked, sent


async def test_no_commit_request_is_sent_while_the_log_may_be_new(
    tmp_path: Path,
) -> None:
    """aiokafka retries a commit begun before the broker died (faust's commit timer) until the
    broker answers: the restarted one, which holds no group. The consumer still holds its
    generation and member id (Tansu even accepts them: tested against the real broker in
    test_stale_commit_after_restart.py), so the membership check lets the old log's offset
    through."""
    faked, sent = await recording_commits(tmp_path)
    client, coordinator = faked.kafka._client, faked.kafka._coordinator
    client.broker_restarts()
    await client._get_conn(LEADER)  # the fetcher reconnects: the log may be new
    assert faked.consumer.log_may_be_new
    with pytest.raises(UnknownMemberIdError):  # aiokafka: CommitFailedError, faust: False
        await coordinator._do_commit_offsets(None, {TP0: 511})  # the commit's retry
    assert sent == []


async def test_a_seek_begun_before_a_rebalance_leaves_no_old_committed_offset(
    tmp_path: Path,
) -> None:
    """faust's getmany, finding its flow stopped by the revocation, seeks to the committed
    offsets: the old broker answers 500, and faust records it after the revocation cleared
    its bookkeeping. The broker restarts before the assignment; the new log has nothing
    committed, and the stale 500 makes faust ignore every acknowledgement of the new log
    below it: nothing of the new log is ever committed (and the lag gauge reads 10 - 500)."""
    faked = await faked_consumer(tmp_path)
    consumer = faked.consumer
    faked.committed = 500  # the old log
    await consumer.on_partitions_assigned({TP0}, 1)
    await consumer.perform_seek()

    async def fetch_while_the_partitions_are_revoked(active: Any, timeout: float) -> Any:
        await consumer.on_partitions_revoked({TP0})  # a rebalance begins meanwhile
        consumer.stop_flow()  # what faust's app does as the partitions are revoked
        return {}

    thread: Any = consumer._thread
    thread.getmany = fetch_while_the_partitions_are_revoked
    assert await faked.delivered() == []  # faust: "getmany called while flow not active"
    # the broker restarts before the assignment: the new log, nothing committed
    faked.committed = None
    faked.kafka._coordinator.sync_group()
    await consumer.on_partitions_assigned({TP0}, 1)
    await consumer.perform_seek()
    consumer.resume_flow()
    for offset in range(10):  # the new log: offsets 0-9 read and applied
        consumer.ack(consumer._to_message(TP0, record(offset)))
    await consumer.commit()
    assert faked.sent == [{TP0: 10}], consumer._committed_offset
