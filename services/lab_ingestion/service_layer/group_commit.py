"""Group commit: messages that arrive together are stored in one transaction.

One transaction per message cannot reach the MLLP bar (PostgreSQL commits about 1,500
small transactions/s from one connection); each caller awaits its own outcome, which is
only resolved after the batch committed, so an ACK still means "durably stored".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.db.pool import TRANSIENT_DB_ERRORS

log = logging.getLogger(__name__)

C = TypeVar("C")
R = TypeVar("R")

# How long after it was submitted a message is answered at the latest: retried on transient
# database errors (a connection lost, a failover) until then, then its caller is answered
# "nothing stored, resend" (503 with Retry-After, HL7 AR): a sender waiting longer would time
# out itself and resend blind. The deadline is each message's own, counted from its arrival,
# not from when its batch starts: a message queued behind a batch that waits out an outage,
# or split from a batch that broke, would otherwise wait that batch's deadline and then its
# own (n deadlines for the last of n split messages).
GIVE_UP_AFTER_SECONDS = 5.0
# Each attempt is cut off at its batch's deadline, its oldest message's (a database that
# accepts connections but never answers would hold it for asyncpg's connect or command
# timeout, and with it every message queued behind it), but is given at least this long: a
# last try after a back-off can commit. A message is so answered within its deadline and this.
MIN_ATTEMPT_SECONDS = 0.5
# The first back-off after a transient error, doubled on each further one.
FIRST_BACKOFF_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class _Waiting(Generic[C, R]):
    """A submitted command, its caller's future, and when it is answered at the latest."""

    command: C
    future: asyncio.Future[R]
    deadline: float


class GroupCommitter(Generic[C, R]):
    def __init__(
        self,
        process: Callable[[Sequence[C]], Awaitable[list[R]]],
        *,
        max_batch: int = 256,
        concurrency: int = 1,
        max_backoff_seconds: float = 2.0,
        give_up_after_seconds: float = GIVE_UP_AFTER_SECONDS,
        min_attempt_seconds: float = MIN_ATTEMPT_SECONDS,
        on_failure: Callable[[C], Awaitable[R]] | None = None,
    ) -> None:
        self._concurrency = concurrency
        self._give_up_after = give_up_after_seconds
        self._min_attempt = min_attempt_seconds
        # answers a command that fails on its own with a non-transient error (a poison
        # message): without it the caller gets an error, and a sender that resends on errors
        # would resend it for ever, holding up everything queued behind it
        self._on_failure = on_failure
        self._process = process
        self._max_batch = max_batch
        self._max_backoff = max_backoff_seconds
        # None marks the end of work for one committer (see run)
        self._queue: asyncio.Queue[_Waiting[C, R] | None] = asyncio.Queue()
        self._closed = False

    async def submit(self, command: C) -> R:
        """The command's outcome once committed; "resend" (a transient error) if that could
        not be done within the deadline counted from now."""
        if self._closed:
            raise RuntimeError("shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        waiting = _Waiting(command, future, loop.time() + self._give_up_after)
        self._queue.put_nowait(waiting)  # unbounded: never waits
        return await future

    async def run(self, stopping: asyncio.Event) -> None:
        """Run ``concurrency`` committers; each takes what queued up during its previous
        commit (with several, their database round trips overlap, but batches get smaller).
        When ``stopping`` is set, what was submitted before is still committed; then they
        end."""
        workers = [asyncio.ensure_future(self._worker(stopping)) for _ in range(self._concurrency)]
        try:
            await stopping.wait()
            for _ in workers:
                self._queue.put_nowait(None)  # one end-of-work mark per committer
            await asyncio.gather(*workers)
        finally:
            self._closed = True
            for worker in workers:
                worker.cancel()
            self._fail_waiting()

    async def _worker(self, stopping: asyncio.Event) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            batch = [item]
            last = False
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    last = True
                    break
                batch.append(item)
            await self._commit(batch, stopping)
            if last:
                return

    async def _commit(self, batch: list[_Waiting[C, R]], stopping: asyncio.Event) -> None:
        """Commit ``batch`` and answer its callers, only after the commit (an ACK means
        "durably stored"). Retried on transient errors while its messages' deadlines allow;
        a message whose deadline has passed is answered "resend" rather than tried again."""
        loop = asyncio.get_running_loop()
        backoff = FIRST_BACKOFF_SECONDS
        # for a message that waited out its deadline in the queue, behind a batch that did
        error: BaseException = TimeoutError("deadline passed before an attempt")
        while True:
            batch = self._give_up_on(batch, loop.time(), error)
            if not batch:
                return
            try:
                outcomes = await self._attempt(batch)
                break
            except TRANSIENT_DB_ERRORS as exc:  # an attempt cut off (TimeoutError) too
                # the transaction failed: nothing of the batch is stored, so a caller whose
                # deadline comes before the next try is told to resend rather than kept
                # waiting through an outage (after a timeout the commit's outcome is unknown:
                # a resend of a stored message is answered as a duplicate)
                error = exc
                answered_by = float("inf") if stopping.is_set() else loop.time() + backoff
                batch = self._give_up_on(batch, answered_by, exc)
                if not batch:
                    return
                log.warning("group commit failed on a transient error; retrying",
                            extra={"error": type(exc).__name__})  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            except Exception as exc:
                if len(batch) == 1:
                    # the type only: an error's text can quote the data (asyncpg's DETAIL)
                    log.error("processing a message failed", extra={"error": type(exc).__name__})
                    await self._settle_failed(batch[0])
                    return
                for item in batch:  # isolate the message that breaks the batch
                    await self._commit([item], stopping)  # each keeps its own deadline
                return
        for item, outcome in zip(batch, outcomes, strict=True):
            if not item.future.done():
                item.future.set_result(outcome)

    def _give_up_on(
        self, batch: list[_Waiting[C, R]], answered_by: float, error: BaseException
    ) -> list[_Waiting[C, R]]:
        """Answer "resend" (fail with the transient ``error``) each message whose deadline
        comes by ``answered_by``; the others, to be tried (again)."""
        expired = [item for item in batch if item.deadline <= answered_by]
        if not expired:
            return batch
        log.warning("group commit gave up on a transient error; answered resend",
                    extra={"error": type(error).__name__, "messages": len(expired)})  # fmt: skip
        self._fail(expired, error)
        return [item for item in batch if item.deadline > answered_by]

    def _cut_off_at(self, deadline: float) -> float:
        """When an attempt due by ``deadline`` is cut off: then, but not before it had its
        minimum time (a last try after a back-off can commit)."""
        return max(deadline, asyncio.get_running_loop().time() + self._min_attempt)

    async def _attempt(self, batch: list[_Waiting[C, R]]) -> list[R]:
        """One try at the batch, cut off with a TimeoutError at its oldest message's
        deadline."""
        deadline = min(item.deadline for item in batch)
        async with asyncio.timeout_at(self._cut_off_at(deadline)):
            return await self._process([item.command for item in batch])

    async def _settle_failed(self, item: _Waiting[C, R]) -> None:
        """Answer a message that fails on its own: kept by ``on_failure`` (by the message's
        deadline, as any attempt), else answered with an error."""
        if self._on_failure is not None:
            try:
                async with asyncio.timeout_at(self._cut_off_at(item.deadline)):
                    outcome = await self._on_failure(item.command)
            except Exception as exc:  # a TimeoutError too: answered "resend"
                log.error("keeping a failed message failed", extra={"error": type(exc).__name__})
            else:
                if not item.future.done():
                    item.future.set_result(outcome)
                return
        self._fail([item], RuntimeError("internal error"))

    @staticmethod
    def _fail(batch: list[_Waiting[C, R]], exc: BaseException) -> None:
        for item in batch:
            if not item.future.done():
                item.future.set_exception(exc)

    def _fail_waiting(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None and not item.future.done():
                item.future.set_exception(RuntimeError("shutting down"))
