"""A relay publishes only while the session holding its leadership lock is open, and keeps
that session alive at a bounded cost (shared/messaging/relay_leadership.py). Hand-written
fakes of the pool's sessions; the relay's other fakes come from test_relay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from shared.messaging import relay as relay_module
from shared.messaging import relay_leadership
from shared.messaging.relay_leadership import Leadership, LeadershipLost
from tests.unit.test_relay import FakeConnection, FakePool, OutboxRow, harness, outbox


class LockSession(FakeConnection):
    """A pooled session; ``lock`` says whether the advisory lock is free for it."""

    def __init__(self, lock: dict[str, bool]) -> None:
        self.lock = lock
        self.closed = False
        self.terminated = False
        self.keepalives = 0
        self.hang = False

    async def fetchval(self, query: str, *args: object) -> bool:
        del query, args
        return self.lock["free"]

    async def execute(self, query: str, *args: object) -> str:
        if query == "SELECT 1":
            self.keepalives += 1
            if self.hang:
                await asyncio.Event().wait()  # a session cut off silently: no answer
        return await super().execute(query, *args)

    def is_closed(self) -> bool:
        return self.closed

    def terminate(self) -> None:
        self.terminated = self.closed = True


class SessionsPool(FakePool):
    """Hands out a new ``LockSession`` per acquire; ``close_on_fetch`` ends the current one
    while the next batch is being fetched."""

    def __init__(self, rows: list[OutboxRow]) -> None:
        super().__init__(rows)
        self.lock = {"free": True}
        self.sessions: list[LockSession] = []
        self.close_on_fetch = False

    def new_session(self) -> LockSession:
        self.sessions.append(LockSession(self.lock))
        return self.sessions[-1]

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        rows = await super().fetch(query, *args)
        if query == relay_module._FETCH and rows and self.close_on_fetch:
            self.close_on_fetch = False
            self.sessions[-1].closed = True
            self.lock["free"] = False  # another instance's relay takes the lock at once
        return rows


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_relay_whose_session_ended_publishes_nothing_until_it_leads_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = SessionsPool(outbox(2))
    h = harness(pool)
    stopping = asyncio.Event()
    task = asyncio.create_task(h.relay.run(stopping))
    try:
        await until(lambda: not pool.unpublished())
        with caplog.at_level(logging.WARNING, logger="shared.messaging.relay"):
            pool.lock["free"] = False  # the session ends; another relay takes the lock
            pool.sessions[0].closed = True
            pool.rows.extend([OutboxRow(3, "e-3"), OutboxRow(4, "e-4")])
            await until(lambda: len(pool.sessions) >= 2)
            await asyncio.sleep(0.3)
        assert len(h.publisher.published) == 2, "published without leading"
        assert [r.id for r in pool.unpublished()] == [3, 4]
        reported = [getattr(r, "error", None) for r in caplog.records]
        assert "LeadershipLost" in reported

        pool.lock["free"] = True  # the other relay gave up: this one leads again
        await until(lambda: not pool.unpublished())
        assert len(h.publisher.published) == 4
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)


async def test_a_batch_fetched_as_the_session_ended_is_not_published() -> None:
    pool = SessionsPool(outbox(3))
    pool.close_on_fetch = True
    h = harness(pool)
    stopping = asyncio.Event()
    task = asyncio.create_task(h.relay.run(stopping))
    try:
        await until(lambda: len(pool.sessions) >= 2)
        await asyncio.sleep(0.2)
        assert h.publisher.published == [], "a batch went out after the session had ended"
        assert len(pool.unpublished()) == 3
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)


async def test_a_keep_alive_without_an_answer_ends_the_session() -> None:
    session = LockSession({"free": True})
    leadership = Leadership(
        session,  # a hand-written fake of asyncpg.Connection
        "unit_outbox", lambda *_: None, keepalive_seconds=0.0, keepalive_timeout=0.05,
    )  # fmt: skip
    assert await leadership.acquire(asyncio.Event())
    session.hang = True
    with pytest.raises(LeadershipLost):
        await leadership.keep_alive()
    assert session.terminated, "a session that may still hold the lock was kept"


async def test_the_keep_alive_costs_one_round_trip_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the module's clock, not the wall's: on a loaded machine 35 sleeps of 10 ms took longer
    now = [0.0]
    monkeypatch.setattr(relay_leadership, "time", SimpleNamespace(monotonic=lambda: now[0]))
    session = LockSession({"free": True})
    leadership = Leadership(
        session,  # a hand-written fake of asyncpg.Connection
        "unit_outbox", lambda *_: None, keepalive_seconds=0.1,
    )  # fmt: skip
    assert await leadership.acquire(asyncio.Event())
    for tick in range(35):  # a batch every 10 ms for 0.35 s
        now[0] = tick * 0.01
        await leadership.keep_alive()
    assert session.keepalives == 3  # at 0.1, 0.2 and about 0.3 s


async def test_a_session_the_pool_took_back_is_not_leading() -> None:
    class TakenBack(LockSession):
        def is_closed(self) -> bool:
            raise asyncpg.InterfaceError("connection has been released back to the pool")

    leadership = Leadership(
        TakenBack({"free": True}),  # a fake asyncpg.Connection
        "unit_outbox", lambda *_: None,
    )  # fmt: skip
    with pytest.raises(LeadershipLost):
        leadership.confirm()
    await leadership.release()  # nothing to release: it must not raise


async def test_a_relay_stopped_while_waiting_for_leadership_publishes_nothing() -> None:
    pool = SessionsPool(outbox(1))
    pool.lock["free"] = False
    h = harness(pool)
    stopping = asyncio.Event()
    task = asyncio.create_task(h.relay.run(stopping))
    await until(lambda: len(pool.sessions) == 1)
    await asyncio.sleep(0.1)
    stopping.set()
    await asyncio.wait_for(task, 5)
    assert h.publisher.published == []
