"""Messages planned in one commit batch, in a known order: the committer held on the chain
lock while they queue, each queued only once the one before waits for the group commit."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from services.lab_ingestion.adapters.repository import CHAIN_LOCK
from tests.integration.test_lab_ingestion import Lab

T = TypeVar("T")

CHAIN_LOCK_AWAITED = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND NOT granted AND classid = $1 AND objid = $2
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def commit_waiting(lab: Lab) -> int:
    """Messages read and waiting for the group commit (``lab_commit_waiting_messages``)."""
    return int(lab.runtime.registry.get_sample_value("lab_commit_waiting_messages") or 0)


async def queued(lab: Lab, send: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
    """``send`` started, returned once its message waits for the group commit (or was
    answered without it): while the committer is held (``committer_held``), the messages
    queued one after the other are planned in one batch, in that order."""
    waiting = commit_waiting(lab)
    answer = asyncio.ensure_future(send())

    async def waits() -> bool:
        return commit_waiting(lab) > waiting

    await _until(waits, answer)
    return answer


@contextlib.asynccontextmanager
async def committer_held(
    lab: Lab, correction: Callable[[], Awaitable[T]]
) -> AsyncIterator[asyncio.Future[T]]:
    """The chain lock taken, then ``correction`` sent (its batch, on the careful path, waits
    on the lock, holding the one committer): what is ``queued`` meanwhile waits for the next
    batch. The lock is let go on leaving; the held answer is yielded."""
    async with lab.pool.acquire() as conn:
        lock = conn.transaction()
        await lock.start()
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CHAIN_LOCK)
        held = asyncio.ensure_future(correction())
        try:
            await until_chain_lock_awaited(lab, held)
            yield held
        finally:
            await lock.rollback()


async def until_chain_lock_awaited(lab: Lab, answer: asyncio.Future[T]) -> None:
    """Until a batch waits for the chain lock (held elsewhere); ``answer`` (the send whose
    batch should wait) must not come first."""

    async def awaited() -> bool:
        return bool(await lab.pool.fetchval(CHAIN_LOCK_AWAITED, *CHAIN_LOCK))

    await _until(awaited, answer, answered="the correction never waited on the chain lock")


async def _until(
    condition: Callable[[], Awaitable[bool]],
    answer: asyncio.Future[T],
    answered: str = "",
    seconds: float = 10,
) -> None:
    """Until ``condition``; an ``answer`` come first ends the wait, or fails it with
    ``answered`` if given."""
    deadline = time.monotonic() + seconds
    while not await condition():
        if answer.done():  # answered before it waited (refused before the committer)
            answer.result()  # raises what the send raised
            assert not answered, (answered, answer.result())
            return
        if time.monotonic() > deadline:
            raise AssertionError("the message never waited for the group commit")
        await asyncio.sleep(0.005)
