"""GroupCommitter: the "resend" deadline is each message's own, counted from its arrival
(README: a message is answered within about 6 s during a database outage), not from when
its batch starts (review 45a, finding 2)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from services.lab_ingestion.service_layer.group_commit import MIN_ATTEMPT_SECONDS, GroupCommitter

SLACK = 0.15  # scheduling on a loaded machine


class Outage:
    """A database that does not answer (a hung server, or asyncpg waiting out its connect
    timeout): every attempt waits until cut off. With ``poison``, the first attempt of a batch
    holding it and others fails on it at once (a batch to split), then the outage."""

    def __init__(self, poison: int | None = None) -> None:
        self.poison = poison
        self.attempted: list[list[int]] = []

    async def __call__(self, commands: Sequence[int]) -> list[int]:
        self.attempted.append(list(commands))
        if self.poison in commands and len(commands) > 1 and len(self.attempted) == 1:
            await asyncio.sleep(0.01)
            raise ValueError("bad command")
        await asyncio.sleep(3600)
        return list(commands)


class Failover:
    """Command 0 hangs (cut off at its deadline); any other attempt fails at once with a
    lost connection until ``recovers_at`` (loop time), then commits, doubling each."""

    def __init__(self, recovers_at: float) -> None:
        self.recovers_at = recovers_at
        self.committed: list[int] = []

    async def __call__(self, commands: Sequence[int]) -> list[int]:
        if 0 in commands:
            await asyncio.sleep(3600)
        await asyncio.sleep(0.005)
        if asyncio.get_running_loop().time() < self.recovers_at:
            raise ConnectionError("connection refused")
        self.committed.extend(commands)
        return [c * 2 for c in commands]


async def answered(committer: GroupCommitter[int, int], command: int) -> tuple[float, object]:
    """How long after its submission ``command`` was answered, and with what."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        outcome: object = await committer.submit(command)
    except Exception as exc:  # answered "resend": what is checked
        outcome = exc
    return loop.time() - started, outcome


async def running(committer: GroupCommitter[int, int]) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stopping = asyncio.Event()
    return stopping, asyncio.create_task(committer.run(stopping))


async def stop(stopping: asyncio.Event, task: asyncio.Task[None]) -> None:
    stopping.set()
    await asyncio.wait_for(task, 10)


async def test_a_message_queued_behind_a_hung_batch_is_answered_by_its_own_deadline() -> None:
    """Queued just after a batch was taken, it used to wait out that batch's deadline and
    then a deadline of its own (10 s instead of 5)."""
    give_up, minimum = 0.5, 0.05
    committer = GroupCommitter(Outage(), give_up_after_seconds=give_up, min_attempt_seconds=minimum)
    stopping, task = await running(committer)
    try:
        first = asyncio.create_task(answered(committer, 1))
        await asyncio.sleep(0.02)  # the first batch took message 1 and waits on the database
        second, outcome = await answered(committer, 2)
        await first
    finally:
        await stop(stopping, task)
    assert isinstance(outcome, TimeoutError)  # transient: answered AR / 503, resend
    assert second <= give_up + minimum + SLACK, f"answered after {second:.2f} s"


async def test_a_message_whose_deadline_passed_in_the_queue_is_answered_without_a_try() -> None:
    """The batch ahead is given its minimum attempt (longer than the deadline here): the
    message behind it has waited out its deadline, and is answered "resend" at once."""
    give_up = 0.3
    outage = Outage()
    committer = GroupCommitter(outage, give_up_after_seconds=give_up)
    stopping, task = await running(committer)
    try:
        first = asyncio.create_task(answered(committer, 1))
        await asyncio.sleep(0.02)
        second, outcome = await answered(committer, 2)
        await first
    finally:
        await stop(stopping, task)
    assert isinstance(outcome, TimeoutError)
    assert second <= MIN_ATTEMPT_SECONDS + SLACK, f"answered after {second:.2f} s"
    assert outage.attempted == [[1]]  # never tried: its answer was due


async def test_isolating_a_broken_batch_during_an_outage_keeps_each_message_deadline() -> None:
    """Split from a batch that broke, each message used to get a fresh deadline: the last of
    n was answered after n deadlines (about 160 s for 32 connections)."""
    give_up = 0.3
    outage = Outage(poison=1)
    committer = GroupCommitter(outage, give_up_after_seconds=give_up)
    stopping, task = await running(committer)
    try:
        results = await asyncio.gather(*(answered(committer, c) for c in range(1, 7)))
    finally:
        await stop(stopping, task)
    waits = [round(wait, 2) for wait, _ in results]
    assert max(waits) <= give_up + MIN_ATTEMPT_SECONDS + SLACK, waits
    assert all(isinstance(outcome, TimeoutError) for _, outcome in results)
    assert outage.attempted == [[1, 2, 3, 4, 5, 6], [1]]  # the others' deadlines had passed


async def test_a_younger_message_is_retried_after_an_older_one_of_its_batch_gave_up() -> None:
    """The batch is cut off at its oldest message's deadline; the others are retried until
    their own, and a database that comes back meanwhile stores them (answered AA after the
    commit). Nothing of the message that gave up is stored."""
    give_up = 1.0
    loop = asyncio.get_running_loop()
    start = loop.time()
    database = Failover(recovers_at=start + 1.5)
    committer = GroupCommitter(database, give_up_after_seconds=give_up)
    stopping, task = await running(committer)
    try:
        hung = asyncio.create_task(answered(committer, 0))  # holds the committer until 1.0
        await asyncio.sleep(0.2)
        older = asyncio.create_task(answered(committer, 1))  # due at 1.2
        await asyncio.sleep(0.6)
        younger = asyncio.create_task(answered(committer, 2))  # due at 1.8
        (_, hung_outcome), (_, older_outcome), (_, younger_outcome) = await asyncio.gather(
            hung, older, younger
        )
    finally:
        await stop(stopping, task)
    assert isinstance(hung_outcome, TimeoutError)
    assert isinstance(older_outcome, ConnectionError)  # its deadline came first: resend
    assert younger_outcome == 4  # retried until the database came back
    assert database.committed == [2]
