"""A connection the server ended between statements (review 125): asyncpg's next statement on
it fails with its own ``InternalClientError`` ("cannot switch to state 12; another operation
(2) is in progress") before the socket's end is read. That is the connection's failure, not
the work's: the units of work report it as ``BrokenConnectionError`` (transient: retried,
answered resend) and end the connection; an InternalClientError on a connection that stays
open is left a permanent failure, so that a fault of the driver is not retried for ever."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from shared.auth import TOKEN_PREFIX, TokenStore
from shared.db import pool as db_pool
from shared.db.pool import TRANSIENT_DB_ERRORS, BrokenConnectionError, broken_connection
from shared.db.unit_of_work import PostgresUnitOfWork
from tests.integration.lab_fixtures import STORED_ID

OUT_OF_STEP = "cannot switch to state 12; another operation (2) is in progress"


@dataclass
class FakeTransaction:
    conn: FakeConnection

    async def start(self) -> None:
        self.conn.check()

    async def rollback(self) -> None:
        self.conn.check()

    async def commit(self) -> None:
        self.conn.check()


@dataclass
class FakeConnection:
    """Ended by the server ``ends_after`` seconds after its first failed statement (None:
    it stays open, the driver's own fault)."""

    ends_after: float | None = 0.01
    closed: bool = False
    terminated: bool = False
    failed: bool = False
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    def check(self) -> None:
        if self.closed:
            raise asyncpg.InterfaceError("connection is closed")
        if self.failed:
            raise asyncpg.InternalClientError(OUT_OF_STEP)

    def fail(self) -> asyncpg.InternalClientError:
        """The server's FATAL message has been read, its end of the socket not yet."""
        self.failed = True
        if self.ends_after is not None:
            loop = asyncio.get_running_loop()
            self.timers.append(loop.call_later(self.ends_after, self._end))
        return asyncpg.InternalClientError(OUT_OF_STEP)

    listeners: list[Any] = field(default_factory=list)

    def _end(self) -> None:
        self.closed = True
        for listener in self.listeners:
            listener(self)

    def add_termination_listener(self, callback: Any) -> None:
        self.listeners.append(callback)

    def remove_termination_listener(self, callback: Any) -> None:
        self.listeners.remove(callback)

    def is_closed(self) -> bool:
        return self.closed

    def is_in_transaction(self) -> bool:
        return False

    def terminate(self) -> None:
        self.terminated = True
        self._end()

    def transaction(self) -> FakeTransaction:
        return FakeTransaction(self)


@dataclass
class FakePool:
    conn: FakeConnection
    released: list[FakeConnection] = field(default_factory=list)

    async def acquire(self, timeout: float | None = None) -> FakeConnection:
        return self.conn

    async def release(self, conn: FakeConnection) -> None:
        self.released.append(conn)

    def get_max_size(self) -> int:
        return 4


async def test_an_internal_error_on_a_connection_the_server_ends_is_a_broken_connection() -> None:
    conn = FakeConnection(ends_after=0.02)
    error = await broken_connection(conn, conn.fail())
    assert isinstance(error, BrokenConnectionError) and isinstance(error, TRANSIENT_DB_ERRORS)
    assert isinstance(error.__cause__, asyncpg.InternalClientError)
    assert conn.terminated  # never reused


async def test_an_internal_error_on_a_connection_that_stays_open_is_left_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fault of the driver or of its use: permanent, not retried for ever; the connection
    is ended all the same (its protocol state is out of step)."""
    monkeypatch.setattr(db_pool, "BROKEN_WAIT_SECONDS", 0.05)
    conn = FakeConnection(ends_after=None)
    assert await broken_connection(conn, conn.fail()) is None
    assert conn.terminated
    assert not isinstance(asyncpg.InternalClientError(OUT_OF_STEP), TRANSIENT_DB_ERRORS)


@pytest.mark.parametrize("error", [None, ValueError("bad data"), asyncpg.InterfaceError("x")])
async def test_other_errors_are_not_looked_at(error: BaseException | None) -> None:
    conn = FakeConnection()
    assert await broken_connection(conn, error) is None
    assert not conn.terminated
    assert await broken_connection(None, asyncpg.InternalClientError(OUT_OF_STEP)) is None


async def test_a_consumer_unit_of_work_reports_a_broken_connection() -> None:
    conn = FakeConnection()
    pool = FakePool(conn)
    with pytest.raises(BrokenConnectionError):
        async with PostgresUnitOfWork(pool, "svc") as uow:
            assert uow.connection is conn
            raise conn.fail()
    assert pool.released == [conn] and conn.terminated


async def test_a_consumer_unit_of_work_whose_begin_fails_reports_a_broken_connection() -> None:
    conn = FakeConnection()
    conn.fail()
    pool = FakePool(conn)
    with pytest.raises(BrokenConnectionError):
        async with PostgresUnitOfWork(pool, "svc"):
            pass
    assert pool.released == [conn] and conn.terminated


async def test_a_consumer_unit_of_work_ends_a_connection_whose_rollback_is_out_of_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The body's own error stands (a bug of ours: permanent); the connection, whose
    transaction could not be rolled back, is ended, never reused."""
    monkeypatch.setattr(db_pool, "BROKEN_WAIT_SECONDS", 0.02)
    conn = FakeConnection(ends_after=None)
    pool = FakePool(conn)
    with pytest.raises(asyncpg.InternalClientError):
        async with PostgresUnitOfWork(pool, "svc"):
            raise conn.fail()
    assert pool.released == [conn] and conn.terminated


class FakeReserved:
    def __init__(self, conn: FakeConnection) -> None:
        self.pool: Any = FakePool(conn)
        self.conn = conn
        self.released: list[tuple[FakeConnection, bool]] = []

    async def acquire(self) -> FakeConnection:
        return self.conn

    async def release(self, conn: FakeConnection, *, failed: bool = False) -> None:
        self.released.append((conn, failed))


def lab_unit_of_work(connections: Any) -> LabIngestionUnitOfWork:
    return LabIngestionUnitOfWork(connections, "lab-ingestion", STORED_ID)


async def test_the_lab_unit_of_work_reports_a_broken_connection() -> None:
    """What the group committer retries (and answers resend once given up), instead of
    keeping the message as processing-failed."""
    conn = FakeConnection()
    connections = FakeReserved(conn)
    with pytest.raises(BrokenConnectionError) as raised:
        async with lab_unit_of_work(connections):
            raise conn.fail()
    assert isinstance(raised.value, TRANSIENT_DB_ERRORS)
    assert connections.released == [(conn, True)] and conn.terminated


async def test_the_lab_unit_of_work_leaves_a_healthy_connection_alone() -> None:
    conn = FakeConnection()
    connections = FakeReserved(conn)
    with pytest.raises(ValueError):
        async with lab_unit_of_work(connections):
            raise ValueError("bad data")
    assert connections.released == [(conn, True)] and not conn.terminated


async def test_a_token_check_on_a_connection_the_server_ended_is_answered_resend() -> None:
    """Transient: the route answers 503 (send again), not 500."""
    conn = FakeConnection()

    async def fetchrow(*args: object) -> None:
        raise conn.fail()

    conn.fetchrow = fetchrow  # type: ignore[attr-defined]
    pool = FakePool(conn)
    tokens = TokenStore(pool)
    with pytest.raises(BrokenConnectionError):
        await tokens.authenticate(TOKEN_PREFIX + "x" * 40)
    assert pool.released == [conn] and conn.terminated
