"""Group commit: messages that arrive together are stored in one transaction.

One transaction per message cannot reach the MLLP bar (PostgreSQL commits about 1,500
small transactions/s from one connection); each caller awaits its own outcome, which is
only resolved after the batch committed, so an ACK still means "durably stored".

A commit can reach PostgreSQL and its answer still be lost (a connection reset right after
COMMIT, a fail-over): the batch is retried as if nothing were stored. So that the retry can
tell, each batch goes to ``process`` as a ``Batch``: its commands with an attempt token, the
same for every retry of it, which the batch's write stores with it (``BatchIngestor``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

C = TypeVar("C")
R = TypeVar("R")

# The errors after which the same work may succeed later (a connection lost, a fail-over, a
# lock wait cut off): the storage's own, which the composition root names
# (``shared.db.pool.TRANSIENT_DB_ERRORS``), so that this layer loads no database driver.
TransientErrors = tuple[type[BaseException], ...]

# How long a batch is retried on transient database errors (a connection lost, a failover)
# before its callers are answered "nothing stored, resend" (503 with Retry-After, HL7 AR):
# a sender waiting longer would time out itself and resend blind.
GIVE_UP_AFTER_SECONDS = 5.0
# Each attempt is cut off at the deadline (a database that accepts connections but never
# answers would hold it for asyncpg's connect or command timeout, and with it every message
# queued behind it), but is given at least this long: a last try after a back-off can commit.
MIN_ATTEMPT_SECONDS = 0.5
# Attempts whose answers are kept for a retry (``LostCommitAnswers``): one per committer
# retrying at a time is all it needs; more are forgotten, oldest first.
LOST_ANSWERS_KEPT = 8


class CommitAnswerLost(Exception):
    """A batch's attempt committed, but what it planned is not known here: its callers are
    told that it is stored, its answer lost, and to resend to learn what was stored (each
    resend is then answered as stored), never what another attempt planned."""


class Batch(list[C]):
    """A batch's commands, with the token every attempt at it carries (a list still, for a
    ``process`` that needs no token)."""

    def __init__(self, commands: Iterable[C], token: uuid.UUID) -> None:
        super().__init__(commands)
        self.token = token


def attempt_token(commands: Sequence[object]) -> uuid.UUID | None:
    """The token of a batch from the committer; None for commands handed over otherwise
    (a replay, a rejection kept on its own), whose retries are no concern of the committer."""
    return commands.token if isinstance(commands, Batch) else None


class LostCommitAnswers(Generic[R]):
    """The outcomes of attempts that failed while their commit was under way, by token and
    attempt: the database may have committed one of them, and which one it was is what the
    retry answers (attempts plan a batch afresh, and two may plan it differently: review
    107). Bounded: forgotten when the batch is answered or given up, and only the newest
    ``keep`` tokens are kept (a batch is retried for seconds, so its attempts are few)."""

    def __init__(self, keep: int = LOST_ANSWERS_KEPT) -> None:
        self._keep = keep
        self._outcomes: OrderedDict[uuid.UUID, dict[uuid.UUID, list[R]]] = OrderedDict()

    def remember(self, token: uuid.UUID, attempt: uuid.UUID, outcomes: list[R]) -> None:
        self._outcomes.setdefault(token, {})[attempt] = outcomes
        self._outcomes.move_to_end(token)
        while len(self._outcomes) > self._keep:
            self._outcomes.popitem(last=False)

    def holds(self, token: uuid.UUID | None) -> bool:
        return token is not None and token in self._outcomes

    def take(self, token: uuid.UUID, attempt: uuid.UUID) -> list[R] | None:
        """The outcomes ``attempt`` planned (None: not kept); the token's others are moot."""
        return self._outcomes.pop(token, {}).get(attempt)

    def forget(self, token: uuid.UUID | None) -> None:
        if token is not None:
            self._outcomes.pop(token, None)


class GroupCommitter(Generic[C, R]):
    def __init__(
        self,
        process: Callable[[Sequence[C]], Awaitable[list[R]]],
        *,
        transient: TransientErrors,
        max_batch: int = 256,
        concurrency: int = 1,
        max_backoff_seconds: float = 2.0,
        give_up_after_seconds: float = GIVE_UP_AFTER_SECONDS,
        on_failure: Callable[[C], Awaitable[R]] | None = None,
        on_settled: Callable[[uuid.UUID], None] = lambda token: None,
    ) -> None:
        self._concurrency = concurrency
        # retried with back-off until the deadline; an attempt cut off at it (TimeoutError)
        # is retried too, whatever the storage's errors are
        self._transient: TransientErrors = (TimeoutError, *transient)
        self._give_up_after = give_up_after_seconds
        # answers a command that fails on its own with a non-transient error (a poison
        # message): without it the caller gets an error, and a sender that resends on errors
        # would resend it for ever, holding up everything queued behind it
        self._on_failure = on_failure
        # told when a batch's token will not be tried again (answered, given up, or split
        # to isolate a failing command): what ``process`` kept for its retry can go
        self._on_settled = on_settled
        self._process = process
        self._max_batch = max_batch
        self._max_backoff = max_backoff_seconds
        # None marks the end of work for one committer (see run)
        self._queue: asyncio.Queue[tuple[C, asyncio.Future[R]] | None] = asyncio.Queue()
        self._closed = False
        self._marks_queued = 0  # end-of-work marks in the queue (not commands)

    @property
    def waiting(self) -> int:
        """Commands submitted and not yet taken into a batch (their callers wait); never the
        end-of-work marks ``run`` queues at shutdown (review 258)."""
        return self._queue.qsize() - self._marks_queued

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
                self._marks_queued += 1
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
                self._marks_queued -= 1
                return
            batch = [item]
            last = False
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    self._marks_queued -= 1
                    last = True
                    break
                batch.append(item)
            await self._commit(batch, stopping)
            if last:
                return

    async def _commit(
        self, batch: list[tuple[C, asyncio.Future[R]]], stopping: asyncio.Event
    ) -> None:
        commands = Batch((c for c, _ in batch), uuid.uuid4())
        try:
            await self._commit_attempts(batch, commands, stopping)
        finally:
            self._on_settled(commands.token)

    async def _commit_attempts(
        self, batch: list[tuple[C, asyncio.Future[R]]], commands: Batch[C],
        stopping: asyncio.Event,
    ) -> None:  # fmt: skip
        """Try the batch until it is answered, retrying transient errors with the same
        token: an attempt whose commit answer was lost is then told from one not stored."""
        backoff = 0.05
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._give_up_after
        while True:
            try:
                outcomes = await self._attempt(commands, deadline)
                break
            except self._transient as exc:  # an attempt cut off (TimeoutError) too
                # the transaction failed, or its commit's answer was lost: retried under the
                # same token, which ``process`` asks the database about first. Given up, its
                # callers are told to resend rather than kept waiting through an outage (one
                # whose commit had landed is then answered as a duplicate). The last sleep is
                # cut to what is left, and a last attempt made at the deadline: the whole
                # window is ridden out (review 145: it gave up at 3.2 s of the 5)
                remaining = deadline - loop.time()
                if stopping.is_set() or remaining <= 0:
                    log.warning("group commit gave up on a transient error; answered resend",
                                extra={"error": type(exc).__name__})  # fmt: skip
                    self._fail(batch, exc)
                    return
                log.warning("group commit failed on a transient error; retrying",
                            extra={"error": type(exc).__name__})  # fmt: skip
                await asyncio.sleep(min(backoff, remaining))
                backoff = min(backoff * 2, self._max_backoff)
            except CommitAnswerLost as exc:  # stored: a resend is answered as stored
                log.error("a batch committed but its answer is unknown; answered resend")
                self._fail(batch, exc)
                return
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

    async def _attempt(self, commands: Batch[C], deadline: float) -> list[R]:
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
            if item is None:
                self._marks_queued -= 1
            elif not item[1].done():
                item[1].set_exception(RuntimeError("shutting down"))
