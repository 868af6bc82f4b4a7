"""The lab-ingestion unit of work: a batch written by one atomic statement.

Ingesting a batch reads (duplicates, subjects, earlier results) and then writes messages,
results, cancellations, rejections and outbox events. The reads need no transaction of their
own, and the writes go out as one statement with data-modifying CTEs, which PostgreSQL
applies atomically: the unit of work still owns the commit, but it costs one round trip
instead of BEGIN, several statements and COMMIT. A concurrent batch that stored the same
message first makes the statement fail on the unique key, and nothing of it is written.
A replay's mark on its rejection (``mark_replay``) is a second statement: the write and the
mark then go out in one transaction, committed together or not at all, which first locks the
rejection's row and checks it is still open (``lock_open``: an operator's close, or another
replay, landing since the replay read it; review 214).

A batch that corrects or cancels results first takes the chain lock (``serialise_chains``):
then its reads, write and commit form one transaction, which waits for any other instance
changing chains, so that it reads every chain as the last writer left it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Self

import asyncpg

from services.lab_ingestion.adapters.batch_statements import PRUNE_TOKENS
from services.lab_ingestion.adapters.rejections import RejectionStore
from services.lab_ingestion.adapters.repository import LabRepository
from services.lab_ingestion.adapters.stored_ids import StoredId
from shared.db.pool import ReservedConnections, broken_connection
from shared.db.unit_of_work import PostgresUnitOfWork
from shared.errors import error_kind
from shared.messaging.outbox import OutboxWriter

log = logging.getLogger(__name__)


class LabIngestionUnitOfWork(PostgresUnitOfWork):
    """Works on a connection lent by ``ReservedConnections`` (one batch every few
    milliseconds: asyncpg's pool round trip per batch showed in profiles)."""

    _open = False

    def __init__(
        self,
        connections: ReservedConnections,
        service: str,
        stored_id: StoredId,
        observe_commit: Callable[[float], None] = lambda seconds: None,
        outbox_written: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(connections.pool, service)
        self._connections = connections
        self._stored_id = stored_id  # control ids and result keys as stored: keyed hashes
        self._observe_commit = observe_commit  # seconds of each durable write
        self._outbox_written = outbox_written  # wakes the relay (migration 0004)

    def bind(self, conn: asyncpg.Connection) -> None:
        self.outbox = OutboxWriter(conn)
        self.labs = LabRepository(conn, self._stored_id)
        self.rejections = RejectionStore(conn)
        self._replay_marks: list[tuple[uuid.UUID, str, bool]] = []

    async def __aenter__(self) -> Self:
        self._conn = await self._connections.acquire()
        self.bind(self.connection)
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # a connection that the server ended, reported as asyncpg's own error: transient
        broken = None if exc is None else await broken_connection(self._conn, exc)
        rolled_back = False
        try:
            if exc_type is not asyncio.CancelledError:  # cut off (a timeout, a stop): the
                await self.rollback()  # connection is ended instead, and its transaction too
                rolled_back = True
        except Exception:
            if exc_type is None:
                raise
            # the batch failed already, on a connection that is broken too: the batch's own
            # error is the one to handle (a lost connection is transient: it is retried)
        finally:
            if self._conn is not None:  # a failed one is rolled back or closed by the pool,
                failed = exc_type is not None or not rolled_back  # ending the chain lock
                await self._connections.release(self._conn, failed=failed)
            self._conn = None
        if broken is not None:
            raise broken from exc

    async def serialise_chains(self) -> None:
        """Begin a transaction holding the chain lock (before the batch reads anything)."""
        if self._tx is None:
            self._tx = self.connection.transaction()
            await self._tx.start()
            await self.labs.lock_chains()

    def mark_replay(self, rejection_id: uuid.UUID, outcome: str, *, settled: bool) -> None:
        """Mark the rejection with how its replay (this batch) went, in the commit: the
        replay and its mark are committed together, or neither is."""
        self._replay_marks.append((rejection_id, outcome, settled))

    async def commit(self) -> None:
        if not self._open:
            raise RuntimeError("nothing to commit")
        self._open = False
        started = time.perf_counter()
        events = self.outbox.take_pending()
        marks, self._replay_marks = self._replay_marks, []
        if marks and self._tx is None:  # the write alone is one statement: no transaction
            self._tx = self.connection.transaction()
            await self._tx.start()
        for rejection_id, _, _ in marks:  # before the write: closed meanwhile, none of it
            await self.rejections.lock_open(rejection_id)  # (RejectionNotOpen: rolled back)
        await self.labs.write(events)
        for rejection_id, outcome, settled in marks:
            await self.rejections.mark_replay(rejection_id, outcome, settled=settled)
        tx, self._tx = self._tx, None
        if tx is not None:
            await tx.commit()
        self._observe_commit(time.perf_counter() - started)
        if events:
            self._outbox_written()
        if self.labs.prune_due:
            await self._prune_tokens()

    async def _prune_tokens(self) -> None:
        """Drop attempt tokens older than an hour, after the batch committed, in a statement
        of its own: housekeeping whose failure (a DELETE revoked, a lost connection) is
        logged by its type and ignored, never the lab's write's (review 145); a later
        prune catches up. A connection that failed other than by the server's answer is
        ended: its protocol state is unknown."""
        self.labs.prune_due = False
        try:
            await self.connection.execute(PRUNE_TOKENS)
        except Exception as exc:
            log.warning("pruning old batch tokens failed; ignored",
                        extra={"error": error_kind(exc)})  # fmt: skip
            if not isinstance(exc, asyncpg.PostgresError):
                with contextlib.suppress(asyncpg.InterfaceError):
                    self.connection.terminate()

    async def rollback(self) -> None:
        """Drop what was staged (and end the chain lock's transaction, if one is open)."""
        self._open = False
        if self._conn is not None:
            self.labs.discard()
            self.outbox.take_pending()
            self._replay_marks = []
        await super().rollback()
