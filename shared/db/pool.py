"""asyncpg connection pools bound to one service schema."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from shared.db import faults
from shared.db.migrations import quote_schema

log = logging.getLogger(__name__)

# The errors after which the same work may succeed later, the storage's faults rather than
# the work's (``shared.db.faults``); most callers import them from here.
TRANSIENT_DB_ERRORS = faults.TRANSIENT_DB_ERRORS

# A database that accepts connections but never answers (a hung server, a host whose packets
# are dropped) would hold a caller for asyncpg's connect timeout of 60 s; these bound opening
# a connection and, for ReservedConnections' caller, waiting for one from the pool.
CONNECT_TIMEOUT_SECONDS = 5.0
ACQUIRE_TIMEOUT_SECONDS = 5.0
# How long a cut-off statement's server process is waited for to end (``ReservedConnections``):
# a database that answers ends it in milliseconds; a silent one is not waited for long
END_BACKEND_WAIT_MS = 400
END_BACKEND_TIMEOUT_SECONDS = 0.5
# true once the process is gone (ended now, or it had noticed its client was gone itself)
_END_BACKEND = """
SELECT pg_terminate_backend($1, $2) OR NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)
"""

# How long a connection whose statement failed with asyncpg's InternalClientError is watched
# for its end (``broken_connection``): the server's end of the session follows its last
# message at once, so a connection still open after this is taken to be healthy
BROKEN_WAIT_SECONDS = 0.25


class BrokenConnectionError(asyncpg.InterfaceError):  # type: ignore[misc]
    """The connection broke under a statement, reported by asyncpg as its own protocol error
    (``broken_connection``): nothing about the work, which a fresh connection may do."""


async def broken_connection(
    conn: asyncpg.Connection | None, error: BaseException | None
) -> BrokenConnectionError | None:
    """What to raise instead of ``error`` if it is asyncpg's report of a connection that the
    server ended; None otherwise. Await it before the connection is released.

    PostgreSQL ends a session (``pg_terminate_backend``, a restart or fail-over, an idle
    timeout) with a FATAL error message and then closes the socket. When that message reaches
    a connection that is between statements, asyncpg takes it for a protocol error and
    puts the connection into a state waiting for a sync point that never comes; the next
    statement, sent before the socket's end has been read, fails with ``InternalClientError:
    cannot switch to state N; another operation (2) is in progress`` (before it is sent).
    Taken for the work's own error, it would be kept as a permanent failure; it is the
    connection's: reported as ``BrokenConnectionError`` (transient), once the connection has
    closed. (A caller that cannot tell where it broke still treats a commit under way as
    possibly landed, as after any other lost connection.) An InternalClientError on a
    connection that stays open is a fault of the driver or of its use (two tasks on one
    connection): left as it is, a permanent failure, so that it is not retried for ever.
    Either way the connection is terminated, never reused: its protocol state is out of
    step."""
    if conn is None or not isinstance(error, asyncpg.InternalClientError):
        return None
    closed = await _ends_within(conn, BROKEN_WAIT_SECONDS)
    with contextlib.suppress(asyncpg.InterfaceError):  # the pool took it back already
        conn.terminate()
    if not closed:
        return None
    broken = BrokenConnectionError("the connection was closed in the middle of an operation")
    broken.__cause__ = error
    return broken


async def _ends_within(conn: asyncpg.Connection, seconds: float) -> bool:
    """Whether ``conn`` is closed, or closes within ``seconds`` (its socket's end read)."""
    ended = asyncio.Event()

    def on_end(_: object) -> None:
        ended.set()

    try:
        conn.add_termination_listener(on_end)
    except asyncpg.InterfaceError:  # a broken one that the pool took back already
        return True
    try:
        if not conn.is_closed():
            async with asyncio.timeout(seconds):
                await ended.wait()
    except TimeoutError:
        return False
    except asyncpg.InterfaceError:  # taken back by the pool meanwhile: it closed
        return True
    finally:
        with contextlib.suppress(asyncpg.InterfaceError):
            conn.remove_termination_listener(on_end)
    return True


async def create_pool(
    dsn: str,
    schema: str,
    application_name: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> asyncpg.Pool:
    quote_schema(schema)  # validates the identifier
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=connect_timeout,  # of each new connection
        command_timeout=30,
        server_settings={"search_path": f"{schema},public", "application_name": application_name},
        reset=_keep_session,
    )
    if pool is None:  # pragma: no cover - asyncpg returns None only for a closed pool
        raise RuntimeError("could not create the connection pool")
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Return a connection to the pool without asyncpg's reset query.

    The default reset (unlock advisory locks, close cursors, UNLISTEN, RESET ALL) costs a
    round trip per release, on every unit of work. Nothing here leaves session state behind:
    transactions end with their unit of work, settings come from the connection's start-up
    parameters, and the outbox relay, the one user of LISTEN and advisory locks, undoes both
    itself before releasing its connection.
    """
    del conn


class ReservedConnections:
    """A few connections taken from the pool once and lent again and again.

    For one hot caller (lab-ingestion's group commit: a transaction every few milliseconds),
    lending a connection then costs a list operation instead of asyncpg's pool round trip of
    holder bookkeeping and an inactivity timer per release. A connection whose work failed,
    or that is closed or inside a transaction, goes back to the pool, which checks or
    replaces it; ``close`` returns the others (call it before the pool closes). It keeps at
    most half the pool, so that the service's other users (relay, consumers, HTTP) always
    find connections. A connection released while its task is being cancelled (a timeout
    cut its statement short) is terminated, and so is its server process (``_end``).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        keep: int = 1,
        acquire_timeout: float = ACQUIRE_TIMEOUT_SECONDS,
    ) -> None:
        self.pool = pool
        self._keep = min(keep, pool.get_max_size() // 2)
        self._acquire_timeout = acquire_timeout
        self._idle: list[asyncpg.Connection] = []

    async def acquire(self) -> asyncpg.Connection:
        while self._idle:
            idle = self._idle.pop()
            if _usable(idle):
                return idle
            await self.pool.release(idle)  # a no-op for one the pool took back already
        conn: asyncpg.Connection = await self.pool.acquire(timeout=self._acquire_timeout)
        return conn

    async def release(self, conn: asyncpg.Connection, *, failed: bool = False) -> None:
        if _being_cancelled():
            # a statement may still be running, or its cancel request pending: the pool
            # would wait for that (up to the 30 s command timeout, from a database that does
            # not answer) before it resets the connection; a new one costs a connect
            await self._end(conn)
        if not failed and _usable(conn) and len(self._idle) < self._keep:
            self._idle.append(conn)
        else:
            await self.pool.release(conn)

    async def _end(self, conn: asyncpg.Connection) -> None:
        """Close a connection whose statement was cut off, and end its server process.

        PostgreSQL does not notice a vanished client while a statement waits (for a lock, a
        stalled disk): the statement would run later and, outside a transaction block,
        commit, after its caller had been told that nothing was stored. Once the process
        is gone, only a commit already under way when the statement was cut off can have
        stored it (a resend of that is answered as a duplicate)."""
        try:
            pid = conn.get_server_pid()
            conn.terminate()
        except asyncpg.InterfaceError:  # the pool took it back already: it ended it
            return
        try:
            async with asyncio.timeout(END_BACKEND_TIMEOUT_SECONDS):
                ended = await self._end_backend(pid)
        except (*TRANSIENT_DB_ERRORS, asyncpg.PostgresError) as exc:
            # unreachable, or not allowed to signal it: its statement may still commit (a
            # resend is then a duplicate); said, never raised (its caller is answering)
            log.warning("could not end the server process of a cut-off statement",
                        extra={"error": type(exc).__name__})  # fmt: skip
        else:
            if not ended:
                log.warning("the server process of a cut-off statement has not ended yet")

    async def _end_backend(self, pid: int) -> bool:
        """Ask the server to end ``pid``. Not ``pool.fetchval``: its connection, cut off by
        a server that does not answer, would be released only once asyncpg's cancel request
        was answered, or after the 30 s command timeout; it is terminated instead."""
        conn: asyncpg.Connection = await self.pool.acquire()
        try:
            ended: bool = await conn.fetchval(_END_BACKEND, pid, END_BACKEND_WAIT_MS)
        except BaseException:
            conn.terminate()  # its statement's state is unknown: never reused
            raise
        finally:
            await self.pool.release(conn)
        return ended

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await self.pool.release(conn)


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _usable(conn: asyncpg.Connection) -> bool:
    """Open and outside a transaction. A connection that broke has been taken back by the
    pool, and asking it anything raises InterfaceError."""
    try:
        return not (conn.is_closed() or conn.is_in_transaction())
    except asyncpg.InterfaceError:
        return False


async def postgres_reachable(pool: asyncpg.Pool, timeout: float = 1.0) -> bool:
    try:
        async with asyncio.timeout(timeout):
            await pool.fetchval("SELECT 1")
    except Exception:
        return False
    return True
