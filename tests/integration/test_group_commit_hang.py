"""PostgreSQL stops answering in the middle of a statement (a host whose packets are
dropped): the batch is answered "resend" within the deadline, and its connection, whose
state is unknown, is not reused once the database answers again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest

from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from services.lab_ingestion.bootstrap import definition
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    RejectionCode,
)
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.group_commit import GroupCommitter
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from shared.contracts.events.lab import Channel
from shared.db.pool import TRANSIENT_DB_ERRORS, ReservedConnections, create_pool
from shared.embedded.postgres import EmbeddedPostgres
from tests.integration.lab_fixtures import STORED_ID, migrated_lab_pool
from tests.unit.lab_ingestion.test_group_commit_hang import error_within

pytestmark = pytest.mark.integration


class FreezableProxy:
    """Forwards TCP to PostgreSQL until frozen; then holds every byte and answers nothing,
    on open connections and new ones alike."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.answering = asyncio.Event()  # cleared: frozen
        self.answering.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self.freeze_on: bytes | None = None  # a client's bytes that freeze it, unsent

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if not self.answering.is_set():
            return  # accepted, never answered
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        self._writers.append(upstream_writer)
        for source, sink, watched in (
            (reader, upstream_writer, True),
            (upstream_reader, writer, False),
        ):
            task = asyncio.create_task(self._pipe(source, sink, watched))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, watched: bool
    ) -> None:
        try:
            while data := await source.read(65536):
                if watched and self.freeze_on is not None and self.freeze_on in data:
                    self.answering.clear()
                await self.answering.wait()
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            sink.close()

    async def close(self) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for writer in self._writers:
            writer.close()


@pytest.fixture
async def proxied(
    database: str, pg_server: EmbeddedPostgres
) -> AsyncIterator[tuple[str, FreezableProxy]]:
    """The test's lab-ingestion database, reached through a proxy: (its DSN, the proxy)."""
    migrated = await migrated_lab_pool(database, "test-hang-migrate")
    await migrated.close()
    proxy = FreezableProxy(pg_server.host, pg_server.port)
    port = await proxy.start()
    user = urlparse(pg_server.tcp_dsn()).netloc.rpartition("@")[0]  # with its password
    name = urlparse(database).path.lstrip("/")
    yield f"postgresql://{user}@127.0.0.1:{port}/{name}", proxy
    await proxy.close()


def rejection(reason: str) -> RecordRejectedInput:
    return RecordRejectedInput(
        Channel.MLLP, RejectionCode.MALFORMED, reason, "[redacted]", datetime.now(UTC)
    )


async def stored(committer: GroupCommitter[Command, IngestOutcome], reason: str) -> bool:
    """Kept as a rejection (answered AR as malformed), not answered "resend"."""
    outcome = await asyncio.wait_for(committer.submit(rejection(reason)), 5)
    return outcome.code is RejectionCode.MALFORMED and not outcome.transient


@contextlib.asynccontextmanager
async def committing(dsn: str) -> AsyncIterator[GroupCommitter[Command, IngestOutcome]]:
    """A running group committer on the real unit of work and pool, as the service has them
    (give up after 1 s)."""
    pool = await create_pool(dsn, definition.schema, "test-hang", min_size=0)
    connections = ReservedConnections(pool, keep=1)
    ingestor = BatchIngestor(
        lambda: LabIngestionUnitOfWork(connections, "lab-ingestion", STORED_ID), lambda s: "h" * 64
    )
    committer: GroupCommitter[Command, IngestOutcome] = GroupCommitter(
        ingestor, transient=TRANSIENT_DB_ERRORS, give_up_after_seconds=1.0
    )
    stopping = asyncio.Event()
    running = asyncio.create_task(committer.run(stopping))
    try:
        yield committer
    finally:
        stopping.set()
        await asyncio.wait_for(running, 5)
        await connections.close()
        pool.terminate()


async def test_a_database_that_stops_answering_mid_statement_is_answered_within_the_deadline(
    proxied: tuple[str, FreezableProxy],
) -> None:
    dsn, proxy = proxied
    async with committing(dsn) as committer:
        assert await stored(committer, "first")
        proxy.answering.clear()  # the kept connection is open, and the database goes silent
        answer = await error_within(2.5, committer.submit(rejection("second")))
        assert isinstance(answer, TimeoutError)  # answered AR / 503: resend
        proxy.answering.set()  # it answers again: a new connection, not the cut-off one
        assert await stored(committer, "third")


def correction(control_id: str) -> IngestLabMessage:
    """A correction: its batch takes the careful path, in a transaction holding the chain
    lock from its read to its commit."""
    crp = (Coding("1988-5", "http://loinc.org"),)
    observation = ObservationInput(
        "K", crp, "12", ("mg/L",), status="C", collected_at=datetime(2026, 11, 20, tzinfo=UTC)
    )
    lab = LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, "MRN1", (observation,))
    return IngestLabMessage(lab, lambda: "", datetime.now(UTC))


async def test_a_batch_holding_the_chain_lock_is_answered_within_the_deadline_too(
    proxied: tuple[str, FreezableProxy],
) -> None:
    """Its unit of work rolled back on the way out, and the ROLLBACK waited for the silent
    database (asyncpg's 30 s command timeout): now the connection is ended instead."""
    dsn, proxy = proxied
    async with committing(dsn) as committer:
        assert await stored(committer, "first")
        # silent once the transaction has begun: at the chain lock's statement
        proxy.freeze_on = b"pg_advisory_xact_lock"
        answer = await error_within(2.5, committer.submit(correction("C-1")))
        proxy.freeze_on = None
        assert isinstance(answer, TimeoutError)
        proxy.answering.set()
        assert await stored(committer, "after")
