"""After a reconnection to the broker it reads from, a consumer delivers nothing until it is
assigned its partitions again (see guarded_consumer): the log may be a restarted broker's new
one, and the old positions would deliver its later events before its earlier ones."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka.client import ConnectionGroup
from aiokafka.errors import KafkaConnectionError, UnknownMemberIdError
from faust.types import TP

from shared.streaming.fetch_reconnects import sending_a_commit
from shared.streaming.guarded_consumer import refuse_commits_without_membership
from tests.unit.guarded_consumer_fakes import LEADER, TP0, Faked, faked_consumer, record


async def assigned_and_reading(tmp_path: Path) -> Faked:
    """A consumer assigned TP0, its client connected to TP0's leader, the old log read."""
    faked = await faked_consumer(tmp_path)
    await faked.kafka._client._get_conn(LEADER)
    await faked.consumer.on_partitions_assigned({TP0}, 1)
    await faked.consumer.perform_seek()
    faked.fetches.append({TP0: [record(o) for o in range(6)]})
    assert await faked.delivered() == [0, 1, 2, 3, 4, 5]
    return faked


async def test_after_a_reconnection_the_new_log_is_delivered_from_its_beginning_in_order(
    tmp_path: Path,
) -> None:
    faked = await assigned_and_reading(tmp_path)
    client, coordinator = faked.kafka._client, faked.kafka._coordinator
    client.broker_restarts()
    await client._get_conn(LEADER)  # the fetcher's next request opens a connection again
    assert faked.consumer.log_may_be_new
    assert coordinator.rejoins_requested == 1
    # fetched at the old position in the new log (reset to its beginning once out of range)
    faked.fetches.append({TP0: [record(o) for o in range(8)]})
    assert await faked.delivered() == []
    assert faked.consumer.records_withheld == 8
    await faked.rebalance()  # the rejoin: the new assignment reads from the committed offsets
    assert not faked.consumer.log_may_be_new
    faked.fetches.append({TP0: [record(o) for o in range(8)]})
    assert await faked.delivered() == list(range(8))


async def test_a_reconnection_after_the_assignment_was_asked_for_waits_for_the_next_one(
    tmp_path: Path,
) -> None:
    faked = await assigned_and_reading(tmp_path)
    client, coordinator, consumer = faked.kafka._client, faked.kafka._coordinator, faked.consumer
    await consumer.on_partitions_revoked({TP0})
    coordinator.sync_group()  # the rejoin's SyncGroup was answered by the broker that died...
    client.broker_restarts()
    await client._get_conn(LEADER)  # ...before the fetcher reconnected
    await consumer.on_partitions_assigned({TP0}, 1)
    await consumer.perform_seek()
    assert consumer.log_may_be_new  # aiokafka rejoins once more (the request is pending)
    faked.fetches.append({TP0: [record(7)]})
    assert await faked.delivered() == []
    await faked.rebalance()
    assert not consumer.log_may_be_new


async def test_connections_that_carry_no_record_cost_no_rebalance(tmp_path: Path) -> None:
    faked = await assigned_and_reading(tmp_path)
    client, coordinator = faked.kafka._client, faked.kafka._coordinator
    await client._get_conn(LEADER)  # open: used as it is
    await client._get_conn(2)  # first connection to another broker (metadata)
    client.broker_restarts()  # or closed when idle, on Apache Kafka
    await client._get_conn(2)  # opened again: this broker leads no assigned partition
    await client._get_conn("bootstrap")
    assert coordinator.rejoins_requested == 0
    assert not faked.consumer.log_may_be_new
    faked.fetches.append({TP0: [record(6)]})
    assert await faked.delivered() == [6]


async def test_records_fetched_before_a_rebalance_are_not_delivered_after_it(
    tmp_path: Path,
) -> None:
    faked = await assigned_and_reading(tmp_path)
    faked.fetches.append({TP0: [record(6), record(7), record(8)]})
    delivered = []
    async for _, message in faked.consumer.getmany(timeout=0.1):
        delivered.append(message.offset)
        if message.offset == 6:  # the partitions are revoked and assigned while 6 is applied
            await faked.rebalance()
    assert delivered == [6]  # 7 and 8 are read again from the new assignment's position


async def test_a_partition_without_a_committed_offset_is_read_again_from_its_beginning(
    tmp_path: Path,
) -> None:
    """faust seeks to the committed offsets to read again what it dropped while its flow was
    stopped; aiokafka's seek leaves a partition with nothing committed where it was."""
    faked = await faked_consumer(tmp_path)
    thread: Any = faked.consumer._thread
    sought: list[tuple[TP, ...]] = []

    async def seek_to_beginning(*partitions: TP) -> None:
        sought.append(partitions)

    thread.seek_to_beginning = seek_to_beginning
    faked.committed = None
    await faked.consumer.seek_to_committed()
    assert sought == [(TP0,)]
    faked.committed = 5
    await faked.consumer.seek_to_committed()
    assert sought == [(TP0,)]  # a committed offset is where faust's seek goes


async def test_the_coordination_connection_opened_again_is_suspect_and_carries_no_commit(
    tmp_path: Path,
) -> None:
    """A restarted broker takes a commit of the old membership for its re-created, empty
    group: a commit is never sent through a coordination connection opened again, nor
    while the consumer waits for its next assignment."""
    faked = await assigned_and_reading(tmp_path)
    client, coordinator = faked.kafka._client, faked.kafka._coordinator
    await client._get_conn(LEADER, group=ConnectionGroup.COORDINATION)
    client.broker_restarts()
    token = sending_a_commit().set(True)  # the commit's request asks for its connection
    try:
        with pytest.raises(KafkaConnectionError):
            await client._get_conn(LEADER, group=ConnectionGroup.COORDINATION)
    finally:
        sending_a_commit().reset(token)
    assert coordinator.rejoins_requested == 1
    assert faked.consumer.log_may_be_new
    refuse_commits_without_membership(coordinator)  # installed at the assignment already
    with pytest.raises(UnknownMemberIdError):  # aiokafka's retry of that commit
        await coordinator._do_commit_offsets(None, {TP0: 6})


async def test_a_seek_of_an_earlier_assignment_does_not_set_the_new_ones_offsets(
    tmp_path: Path,
) -> None:
    """A seek begun in an earlier assignment (the old log's committed offset, before a broker
    restart) answered after a rebalance must not overwrite the new assignment's offsets:
    faust would drop the new log's events below it (review 147)."""
    faked = await faked_consumer(tmp_path)
    consumer = faked.consumer
    await consumer.on_partitions_assigned({TP0}, 1)
    gate = asyncio.Event()
    calls = 0
    thread: Any = consumer._thread

    async def seek_to_committed() -> dict[Any, int | None]:
        nonlocal calls
        calls += 1
        if calls == 1:  # the old assignment's seek: answered late, with the old log's offset
            await gate.wait()
            return {TP0: 5}
        return {TP0: None}  # the restarted broker holds nothing committed

    thread.seek_to_committed = seek_to_committed
    old_seek = asyncio.create_task(consumer.perform_seek())
    await asyncio.sleep(0)
    await faked.rebalance()  # revoked and assigned again; the new assignment seeks
    gate.set()
    await old_seek
    assert consumer._read_offset.get(TP0) is None
    assert TP0 not in consumer._committed_offset
