"""A platform faust consumer (``GuardedConsumer``) whose aiokafka side is faked by hand.

The faust side is real: ``create_faust_app``'s consumer, its commit bookkeeping, its getmany
loop. faust's consumer thread is kept but its aiokafka consumer, client and group coordinator
are the fakes below, and the thread's calls into them (commit, seek, fetch) are replaced.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiokafka.client import ConnectionGroup
from faust.transport.conductor import Conductor
from faust.types import TP

from shared.streaming.faust_app import create_faust_app
from shared.streaming.guarded_consumer import GuardedConsumer

TOPIC = "lab.results.v1"
TP0 = TP(TOPIC, 0)
LEADER = 1  # the broker that leads TP0


def record(offset: int, value: bytes = b"{}") -> Any:
    return SimpleNamespace(
        topic=TOPIC, partition=0, offset=offset, timestamp=None, timestamp_type=0,
        headers=[], key=b"S-1", value=value, checksum=None, serialized_key_size=3,
        serialized_value_size=len(value),
    )  # fmt: skip


class FakeConnection:
    def __init__(self) -> None:
        self.open = True

    def connected(self) -> bool:
        return self.open


class FakeClient:
    """aiokafka's client: one connection per (node, group), opened again once closed."""

    def __init__(self) -> None:
        self._conns: dict[Any, FakeConnection] = {}
        self.cluster = SimpleNamespace(
            leader_for_partition=lambda tp: LEADER if tp == TP0 else None
        )

    async def _get_conn(
        self, node_id: Any, *, group: Any = ConnectionGroup.DEFAULT, no_hint: bool = False
    ) -> FakeConnection:
        conn = self._conns.get((node_id, group))
        if conn is None or not conn.connected():
            conn = self._conns[(node_id, group)] = FakeConnection()
        return conn

    def broker_restarts(self) -> None:
        for conn in self._conns.values():
            conn.open = False


class FakeCoordinator:
    group_id = "crp-monitor"
    generation = 1
    member_id = "m-1"

    def __init__(self) -> None:
        self._rejoin_needed_fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.rejoins_requested = 0

    def request_rejoin(self) -> None:
        self.rejoins_requested += 1
        if not self._rejoin_needed_fut.done():
            self._rejoin_needed_fut.set_result(None)

    def sync_group(self) -> None:
        """What aiokafka does as it sends SyncGroup: the rejoin request is served."""
        self._rejoin_needed_fut = asyncio.get_running_loop().create_future()

    async def _do_commit_offsets(self, assignment: Any, offsets: Any) -> None:
        pass


class FakeKafkaConsumer:
    def __init__(self) -> None:
        self._client = FakeClient()
        self._coordinator = FakeCoordinator()
        self.assigned = {TP0}

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    def highwater(self, tp: TP) -> int:
        return 0


@dataclass
class Faked:
    consumer: GuardedConsumer
    kafka: FakeKafkaConsumer
    sent: list[dict[TP, int]] = field(default_factory=list)
    fetches: list[dict[TP, list[Any]]] = field(default_factory=list)
    commit_gate: asyncio.Event | None = None
    committed: int | None = None  # what the broker holds for TP0

    async def rebalance(self) -> None:
        """The partitions are revoked and assigned again; the assignment's seek follows."""
        await self.consumer.on_partitions_revoked({TP0})
        self.kafka._coordinator.sync_group()
        await self.consumer.on_partitions_assigned({TP0}, 1)
        await self.consumer.perform_seek()

    async def delivered(self) -> list[int]:
        """The offsets the consumer's getmany yields for the next fetch."""
        return [message.offset async for _, message in self.consumer.getmany(timeout=0.1)]


async def _noop(*args: Any, **kwargs: Any) -> None:
    return None


async def faked_consumer(tmp_path: Path) -> Faked:
    app = create_faust_app("unit-test", "127.0.0.1:1", tmp_path)
    topics = app.topics
    assert isinstance(topics, Conductor)
    topics.add(app.topic(TOPIC))
    await topics._update_indices()
    consumer = app.consumer
    assert isinstance(consumer, GuardedConsumer)
    app.producer = SimpleNamespace(flush=_noop)  # type: ignore[assignment]  # a fake producer
    consumer._on_partitions_revoked = _noop  # the app's rebalance callbacks: not under test
    consumer._on_partitions_assigned = _noop
    thread: Any = consumer._thread
    faked = Faked(consumer, FakeKafkaConsumer())
    thread._consumer = faked.kafka

    async def commit(offsets: dict[TP, int]) -> bool:
        if faked.commit_gate is not None:  # a commit in flight while the broker restarts
            await faked.commit_gate.wait()
            return False  # refused (not a member), as the guard does
        faked.sent.append(dict(offsets))
        return True

    async def seek_to_committed() -> dict[TP, int | None]:
        return {TP0: faked.committed}

    async def getmany(active_partitions: Any, timeout: float) -> dict[TP, list[Any]]:
        return faked.fetches.pop(0) if faked.fetches else {}

    thread.commit = commit
    thread.seek_to_committed = seek_to_committed
    thread.seek_to_beginning = _noop
    thread.getmany = getmany
    return faked
