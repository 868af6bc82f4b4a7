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


class GroupCommitter(Generic[C, R]):
    def __init__(
        self,
        process: Callable[[Sequence[C]], Awaitable[list[R]]],
        *,
        max_batch: int = 256,
        concurrency: int = 1,
        max_backoff_seconds: float = 2.0,
    ) -> None:
        self._concurrency = concurrency
        self._process = process
        self._max_batch = max_batch
        self._max_backoff = max_backoff_seconds
        self._queue: asyncio.Queue[tuple[C, asyncio.Future[R]]] = asyncio.Queue()

    async def submit(self, command: C) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put((command, future))
        return await future

    async def run(self, stopping: asyncio.Event) -> None:
        """Run ``concurrency`` committers: while one batch waits on its commit, the next one
        is already being written, so the database round trips of batches overlap."""
        try:
            await asyncio.gather(*(self._worker(stopping) for _ in range(self._concurrency)))
        finally:
            self._fail_waiting()

    async def _worker(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            getter = asyncio.ensure_future(self._queue.get())
            stop = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({getter, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not getter.done():
                getter.cancel()
                break
            batch = [getter.result()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit(batch, stopping)

    async def _commit(
        self, batch: list[tuple[C, asyncio.Future[R]]], stopping: asyncio.Event
    ) -> None:
        commands = [c for c, _ in batch]
        backoff = 0.05
        while True:
            try:
                outcomes = await self._process(commands)
                break
            except TRANSIENT_DB_ERRORS as exc:
                if stopping.is_set():
                    self._fail(batch, exc)
                    return
                log.warning("group commit failed on a transient error; retrying",
                            extra={"error": type(exc).__name__})  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            except Exception:
                if len(batch) == 1:
                    log.exception("processing a message failed")
                    self._fail(batch, RuntimeError("internal error"))
                    return
                for item in batch:  # isolate the message that breaks the batch
                    await self._commit([item], stopping)
                return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    @staticmethod
    def _fail(batch: list[tuple[C, asyncio.Future[R]]], exc: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)

    def _fail_waiting(self) -> None:
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("shutting down"))
