"""Group commit: messages that arrive together are stored in one transaction.

One transaction per message cannot reach the MLLP bar (PostgreSQL commits about 1,500
small transactions/s from one connection); each caller awaits its own outcome, which is
only resolved after the batch committed, so an ACK still means "durably stored".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from shared.db.pool import TRANSIENT_DB_ERRORS

log = logging.getLogger(__name__)

C = TypeVar("C")
R = TypeVar("R")

# How long a batch is retried on transient database errors (a connection lost, a failover)
# before its callers are answered "nothing stored, resend" (503 with Retry-After, HL7 AR):
# a sender waiting longer would time out itself and resend blind.
GIVE_UP_AFTER_SECONDS = 5.0
# Each attempt is cut off at the deadline (a database that accepts connections but never
# answers would hold it for asyncpg's connect or command timeout, and with it every message
# queued behind it), but is given at least this long: a last try after a back-off can commit.
MIN_ATTEMPT_SECONDS = 0.5


class GroupCommitter(Generic[C, R]):
    def __init__(
        self,
        process: Callable[[Sequence[C]], Awaitable[list[R]]],
        *,
        max_batch: int = 256,
        concurrency: int = 1,
        max_backoff_seconds: float = 2.0,
        give_up_after_seconds: float = GIVE_UP_AFTER_SECONDS,
        on_failure: Callable[[C], Awaitable[R]] | None = None,
    ) -> None:
        self._concurrency = concurrency
        self._give_up_after = give_up_after_seconds
        # answers a command that fails on its own with a non-transient error (a poison
        # message): without it the caller gets an error, and a sender that resends on errors
        # would resend it for ever, holding up everything queued behind it
        self._on_failure = on_failure
        self._process = process
        self._max_batch = max_batch
        self._max_backoff = max_backoff_seconds
        # None marks the end of work for one committer (see run)
        self._queue: asyncio.Queue[tuple[C, asyncio.Future[R]] | None] = asyncio.Queue()
        self._closed = False

    async def submit(self, command: C) -> R:
        if self._closed:
            raise RuntimeError("shutting down")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((command, future))  # unbounded: never waits
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

    async def _commit(
        self, batch: list[tuple[C, asyncio.Future[R]]], stopping: asyncio.Event
    ) -> None:
        commands = [c for c, _ in batch]
        backoff = 0.05
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._give_up_after
        while True:
            try:
                outcomes = await self._attempt(commands, deadline)
                break
            except TRANSIENT_DB_ERRORS as exc:  # an attempt cut off (TimeoutError) too
                # the transaction failed: nothing of the batch is stored, so its callers are
                # told to resend rather than kept waiting through an outage (after a timeout
                # the commit's outcome is unknown: a resend of a stored message is answered
                # as a duplicate)
                if stopping.is_set() or loop.time() + backoff > deadline:
                    log.warning("group commit gave up on a transient error; answered resend",
                                extra={"error": type(exc).__name__})  # fmt: skip
                    self._fail(batch, exc)
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
                    await self._commit([item], stopping)
                return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _attempt(self, commands: list[C], deadline: float) -> list[R]:
        """One try at the batch, cut off at ``deadline`` with a TimeoutError."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(max(deadline, loop.time() + MIN_ATTEMPT_SECONDS)):
            return await self._process(commands)

    async def _settle_failed(self, item: tuple[C, asyncio.Future[R]]) -> None:
        command, future = item
        if self._on_failure is not None:
            try:
                async with asyncio.timeout(max(self._give_up_after, MIN_ATTEMPT_SECONDS)):
                    outcome = await self._on_failure(command)
            except Exception as exc:  # a TimeoutError too: answered "resend"
                log.error("keeping a failed message failed", extra={"error": type(exc).__name__})
            else:
                if not future.done():
                    future.set_result(outcome)
                return
        self._fail([item], RuntimeError("internal error"))

    @staticmethod
    def _fail(batch: list[tuple[C, asyncio.Future[R]]], exc: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)

    def _fail_waiting(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None and not item[1].done():
                item[1].set_exception(RuntimeError("shutting down"))
