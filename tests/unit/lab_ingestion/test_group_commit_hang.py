"""A database that accepts connections but never answers: senders are answered "resend"
within the group committer's deadline (README: "retried for 5 s ... and then answered"),
not after asyncpg's 60 s connect or 30 s command timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from functools import partial

from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestOutcome,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.group_commit import GroupCommitter
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from services.lab_ingestion.service_layer.unprocessable import keep_unprocessable
from shared.contracts.events.lab import Channel
from shared.db.pool import TRANSIENT_DB_ERRORS, ReservedConnections, create_pool
from tests.integration.lab_fixtures import STORED_ID


def silent_dsn(port: int) -> str:
    return f"postgresql://lab@127.0.0.1:{port}/lab"


async def error_within(seconds: float, awaitable: Awaitable[object]) -> BaseException | None:
    """The error ``awaitable`` ends with (None: it succeeded); it must end within ``seconds``."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        raise AssertionError(f"still waiting after {seconds} s")
    return task.exception()


async def test_a_database_that_does_not_answer_is_answered_resend_within_the_deadline(
    silent_port: int,
) -> None:
    """The real unit of work and pool, as the service builds them, on a port that accepts
    and stays silent: the attempt is cut off at the deadline and answered as transient."""
    pool = await create_pool(silent_dsn(silent_port), "lab_ingestion", "hang", min_size=0)
    connections = ReservedConnections(pool, keep=1)
    ingestor = BatchIngestor(
        lambda: LabIngestionUnitOfWork(connections, "lab-ingestion", STORED_ID), lambda s: "h" * 64
    )
    committer: GroupCommitter[Command, IngestOutcome] = GroupCommitter(
        ingestor,
        transient=TRANSIENT_DB_ERRORS,
        give_up_after_seconds=1.0,
        on_failure=partial(keep_unprocessable, ingestor, transient=TRANSIENT_DB_ERRORS),
    )
    stopping = asyncio.Event()
    running = asyncio.create_task(committer.run(stopping))
    command = RecordRejectedInput(
        Channel.MLLP, RejectionCode.MALFORMED, "garbage", "[redacted]", datetime.now(UTC)
    )
    try:
        # transient: answered AR / 503, resend
        assert isinstance(await error_within(2.5, committer.submit(command)), TimeoutError)
    finally:
        stopping.set()
        await asyncio.wait_for(running, 2)
        pool.terminate()


async def test_reserved_connections_give_up_on_a_silent_database(silent_port: int) -> None:
    pool = await create_pool(silent_dsn(silent_port), "lab_ingestion", "hang", min_size=0)
    connections = ReservedConnections(pool, acquire_timeout=0.3)
    try:
        assert isinstance(await error_within(2, connections.acquire()), TimeoutError)
    finally:
        pool.terminate()


async def test_a_pool_gives_up_connecting_to_a_silent_database(silent_port: int) -> None:
    connecting = create_pool(silent_dsn(silent_port), "lab_ingestion", "hang", connect_timeout=0.3)
    assert isinstance(await error_within(2, connecting), TimeoutError)


async def test_a_failure_handler_that_hangs_is_cut_off_and_answered_resend() -> None:
    """Keeping a poison message writes to the same database: it is bounded too."""

    async def poison(commands: Sequence[int]) -> list[int]:
        raise ValueError("bad command")

    async def keep_forever(command: int) -> int:
        await asyncio.sleep(3600)
        return command

    committer = GroupCommitter(
        poison, transient=TRANSIENT_DB_ERRORS, give_up_after_seconds=0.3, on_failure=keep_forever
    )
    stopping = asyncio.Event()
    running = asyncio.create_task(committer.run(stopping))
    try:
        error = await error_within(2, committer.submit(1))
        assert isinstance(error, RuntimeError)  # "internal error": answered AR / 503
    finally:
        stopping.set()
        await asyncio.wait_for(running, 2)
