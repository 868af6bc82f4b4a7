"""Review 70 (mutation testing): once the service is stopping, a batch that meets a
transient error is answered "resend" at once, not retried until its deadline.

No test set ``stopping`` while a batch was failing transiently: without the
``stopping.is_set()`` clause a shutdown waited out the whole retry deadline (5 s by default,
longer than a stop's grace period) with callers unanswered."""

from __future__ import annotations

import asyncio

from services.lab_ingestion.service_layer.group_commit import GroupCommitter
from shared.db.pool import TRANSIENT_DB_ERRORS
from tests.unit.lab_ingestion.test_group_commit import Recorder


async def test_a_transient_error_while_stopping_is_answered_at_once_not_retried() -> None:
    recorder = Recorder(transient_failures=10_000)
    committer: GroupCommitter[int, int] = GroupCommitter(
        recorder, transient=TRANSIENT_DB_ERRORS, concurrency=1, give_up_after_seconds=30.0
    )
    stopping = asyncio.Event()
    worker = asyncio.create_task(committer.run(stopping))
    submitted = asyncio.create_task(committer.submit(1))
    await asyncio.sleep(0.001)  # the worker took the command and is committing it
    stopping.set()
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await asyncio.wait_for(asyncio.gather(submitted, return_exceptions=True), 10)
    assert isinstance(outcome[0], ConnectionError), outcome
    assert loop.time() - started < 1.0  # not retried through the 30 s deadline
    assert recorder.transient_failures >= 10_000 - 2  # one attempt (or two), no retry loop
    await asyncio.wait_for(worker, 5)


async def test_a_batch_of_two_with_one_poison_command_commits_the_other() -> None:
    """A failing batch is split to isolate the command that breaks it; only a batch of one
    is answered as failed. A batch of exactly two was never tried: treating it as one left
    the second caller unanswered and the good command uncommitted."""
    recorder = Recorder(poison=7)
    committer: GroupCommitter[int, int] = GroupCommitter(
        recorder, transient=TRANSIENT_DB_ERRORS, max_batch=2, concurrency=1
    )
    stopping = asyncio.Event()
    worker = asyncio.create_task(committer.run(stopping))
    try:
        outcomes = await asyncio.wait_for(
            asyncio.gather(committer.submit(6), committer.submit(7), return_exceptions=True), 5
        )
    finally:
        stopping.set()
        await asyncio.wait_for(worker, 5)
    assert outcomes[0] == 12
    assert isinstance(outcomes[1], RuntimeError)
    assert recorder.batches == [[6]]
