"""A commit that landed but whose answer was lost (review 58): the group committer retries the
batch under the same attempt token, and the ingestor answers what the lost attempt planned
when the database holds the token, else plans the batch afresh as before."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.lab_ingestion.domain.model import StaleBatch
from services.lab_ingestion.service_layer.commands import IngestOutcome
from services.lab_ingestion.service_layer.group_commit import (
    Batch,
    CommitAnswerLost,
    GroupCommitter,
    LostCommitAnswers,
    attempt_token,
)
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from shared.db.pool import TRANSIENT_DB_ERRORS
from tests.unit.lab_ingestion.test_batch_ingestor import (
    FakeDatabase,
    FakeLabs,
    FakeUnitOfWork,
    message,
)

# --- the committer's tokens ---------------------------------------------------------------


class TokenRecorder:
    """A batch processor that records each attempt's token and fails as told."""

    def __init__(self, *, transient_failures: int = 0, poison: int | None = None) -> None:
        self.tokens: list[uuid.UUID | None] = []
        self.transient_failures = transient_failures
        self.poison = poison

    async def __call__(self, commands: Sequence[int]) -> list[int]:
        self.tokens.append(attempt_token(commands))
        await asyncio.sleep(0.01)
        if self.transient_failures:
            self.transient_failures -= 1
            raise ConnectionResetError("reset after COMMIT")
        if self.poison in commands:
            raise ValueError("bad command")
        return [c * 2 for c in commands]


async def run(committer: GroupCommitter[int, int], commands: list[int]) -> list[object]:
    stopping = asyncio.Event()
    worker = asyncio.create_task(committer.run(stopping))
    try:
        return await asyncio.gather(
            *(committer.submit(c) for c in commands), return_exceptions=True
        )
    finally:
        stopping.set()
        await asyncio.wait_for(worker, 5)


async def test_every_retry_of_a_batch_carries_its_token_and_it_is_settled_once() -> None:
    recorder = TokenRecorder(transient_failures=2)
    settled: list[uuid.UUID] = []
    committer = GroupCommitter(recorder, transient=TRANSIENT_DB_ERRORS, on_settled=settled.append)
    assert await run(committer, [1, 2]) == [2, 4]
    first, *retries = recorder.tokens
    assert first is not None and retries == [first, first]
    assert settled == [first]


async def test_each_batch_has_a_token_of_its_own() -> None:
    recorder = TokenRecorder()
    settled: list[uuid.UUID] = []
    committer = GroupCommitter(
        recorder, transient=TRANSIENT_DB_ERRORS, max_batch=1, on_settled=settled.append
    )
    assert await run(committer, [1, 2, 3]) == [2, 4, 6]
    assert len(set(recorder.tokens)) == 3 and settled == recorder.tokens


async def test_a_batch_given_up_is_settled() -> None:
    recorder = TokenRecorder(transient_failures=100)
    settled: list[uuid.UUID] = []
    committer = GroupCommitter(
        recorder,
        transient=TRANSIENT_DB_ERRORS,
        give_up_after_seconds=0.2,
        on_settled=settled.append,
    )
    (answer,) = await run(committer, [1])
    assert isinstance(answer, ConnectionResetError)
    assert settled == [recorder.tokens[0]] and set(recorder.tokens) == set(settled)


async def test_a_batch_split_to_isolate_a_failure_settles_its_token_and_tries_new_ones() -> None:
    recorder = TokenRecorder(poison=2)
    settled: list[uuid.UUID] = []
    committer = GroupCommitter(recorder, transient=TRANSIENT_DB_ERRORS, on_settled=settled.append)
    answers = await run(committer, [1, 2, 3])
    assert answers[0] == 2 and answers[2] == 6 and isinstance(answers[1], RuntimeError)
    assert len(set(recorder.tokens)) == 4  # the batch's, then one for each command alone
    assert sorted(map(str, settled)) == sorted(map(str, recorder.tokens))


def test_a_batch_is_still_a_list_of_its_commands() -> None:
    token = uuid.uuid4()
    batch = Batch([1, 2], token)
    assert batch == [1, 2] and attempt_token(batch) == token and attempt_token([1, 2]) is None


def test_lost_answers_keep_only_the_newest() -> None:
    kept: LostCommitAnswers[int] = LostCommitAnswers(keep=2)
    tokens = [uuid.uuid4() for _ in range(3)]
    attempt = uuid.uuid4()
    for n, token in enumerate(tokens):
        kept.remember(token, attempt, [n])
    assert not kept.holds(tokens[0]) and kept.holds(tokens[1]) and kept.holds(tokens[2])
    kept.forget(tokens[1])
    assert kept.take(tokens[2], attempt) == [2] and not kept.holds(tokens[2])
    assert not kept.holds(None)


def test_lost_answers_are_taken_for_the_attempt_that_committed() -> None:
    """Each attempt at a batch keeps its own plan; the one that committed is answered, and
    the token's others go with it (review 107)."""
    kept: LostCommitAnswers[int] = LostCommitAnswers()
    token, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    kept.remember(token, first, [1])
    kept.remember(token, second, [2])
    assert kept.take(token, first) == [1] and not kept.holds(token)
    kept.remember(token, second, [2])
    assert kept.take(token, uuid.uuid4()) is None and not kept.holds(token)


# --- the ingestor ------------------------------------------------------------------------


@dataclass
class TokenDatabase(FakeDatabase):
    """The fake database with migrations 0020 and 0027's table: a write stores its batch's
    token with its attempt, and one under a token stored before is refused (the primary
    key)."""

    tokens: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # -> attempt
    writes: int = 0
    token_reads: int = 0
    # tokens committed by a write whose commit is still landing: a read does not see them
    # yet, a write under one waits for it and is refused
    landing: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)

    def land(self, token: uuid.UUID) -> None:
        """The commit still landing under ``token`` lands."""
        if token in self.landing:
            self.tokens[token] = self.landing.pop(token)


class TokenLabs(FakeLabs):
    def __init__(self, db: TokenDatabase) -> None:
        super().__init__(db)
        self.tokens = db
        self.token: uuid.UUID | None = None
        self.attempt: uuid.UUID | None = None

    def stage_batch_token(self, token: uuid.UUID, attempt: uuid.UUID) -> None:
        self.token, self.attempt = token, attempt

    async def committed_attempt(self, token: uuid.UUID) -> uuid.UUID | None:
        self.tokens.token_reads += 1
        return self.tokens.tokens.get(token)

    def write(self) -> None:
        db = self.tokens
        db.writes += 1
        if self.token is not None:  # the earlier attempt's commit lands meanwhile
            db.land(self.token)
        if self.token in db.tokens:
            raise StaleBatch("an earlier attempt at the batch committed")
        super().write()
        if self.token is not None and self.attempt is not None:
            db.tokens[self.token] = self.attempt


class ResettingUnitOfWork(FakeUnitOfWork):
    """Its commit fails with a reset, once, as ``db.reset`` says: "after" the write landed
    (the answer lost), "landing" (it lands while the retry already asks), "before", or
    "cut-off" (cut off while waiting for a commit still landing, which lands: review
    107)."""

    def __init__(self, db: TokenDatabase, reset: list[str]) -> None:
        super().__init__(db)
        self.labs: TokenLabs = TokenLabs(db)
        self._reset = reset

    async def commit(self) -> None:
        when = self._reset.pop() if self._reset else None
        if when == "before":
            raise ConnectionResetError("reset before COMMIT")
        if when == "cut-off":
            assert self.labs.token is not None
            self.labs.tokens.land(self.labs.token)
            raise ConnectionResetError("lock wait cut off")
        await super().commit()
        if when == "landing":
            db = self.labs.tokens
            assert self.labs.token is not None
            db.landing[self.labs.token] = db.tokens.pop(self.labs.token)
        if when is not None:
            raise ConnectionResetError("reset after COMMIT")


def ingestor(db: TokenDatabase, reset: list[str]) -> BatchIngestor:
    return BatchIngestor(lambda: ResettingUnitOfWork(db, reset), lambda i: f"h({i})")


async def warmed() -> tuple[TokenDatabase, list[str], BatchIngestor]:
    """A database, its resets to come, and an ingestor that stored message "0": MRN1 is
    remembered, so batches of it take the fast path."""
    db = TokenDatabase(enrolled={"h(MRN1)": "S-1"})
    reset: list[str] = []
    ingest = ingestor(db, reset)
    await ingest([message("0")])
    return db, reset, ingest


async def attempts(ingest: BatchIngestor, commands: list[Any]) -> list[IngestOutcome]:
    """The batch tried as the group committer tries it: under one token, until answered."""
    batch = Batch(commands, uuid.uuid4())
    for _ in range(5):
        try:
            return await ingest(batch)
        except ConnectionResetError:
            continue
    raise AssertionError("never answered")


async def test_a_retry_after_a_lost_answer_answers_what_was_stored_without_writing() -> None:
    db = TokenDatabase(enrolled={"h(MRN1)": "S-1"})
    reset: list[str] = []
    ingest = ingestor(db, reset)
    await ingest([message("0")])  # MRN1 remembered: the batch below takes the fast path
    writes, lookups = db.writes, db.lookups
    reset.append("after")
    outcomes = await attempts(ingest, [message("1"), message("2")])
    assert [(o.accepted, o.duplicate, o.results) for o in outcomes] == [(True, False, 1)] * 2
    assert (db.writes - writes, db.lookups - lookups, db.token_reads) == (1, 0, 1)
    assert len(db.results) == 3


async def test_a_retry_whose_write_meets_the_landing_commit_answers_what_was_stored() -> None:
    """The retry asks while the earlier attempt's commit is still landing (not committed
    yet): it plans afresh, its write waits for the token and is refused, and it asks
    again."""
    db, reset, ingest = await warmed()
    reset.append("landing")
    (outcome,) = await attempts(ingest, [message("1")])
    assert outcome.accepted and not outcome.duplicate and outcome.results == 1
    assert db.token_reads == 2  # before planning, and after the refused write
    assert len(db.results) == 2


async def test_a_batch_whose_commit_never_landed_is_planned_afresh() -> None:
    db, reset, ingest = await warmed()
    reset.append("before")
    (outcome,) = await attempts(ingest, [message("1")])
    assert outcome.accepted and not outcome.duplicate and outcome.results == 1
    assert db.token_reads == 1 and len(db.results) == 2 and len(db.tokens) == 1


async def test_outcomes_kept_for_a_retry_are_forgotten_once_answered_or_given_up() -> None:
    db, reset, ingest = await warmed()
    reset.append("before")
    batch = Batch([message("1")], uuid.uuid4())
    with pytest.raises(ConnectionResetError):
        await ingest(batch)
    ingest.forget_attempt(batch.token)  # given up by the committer
    reset.append("after")
    with pytest.raises(ConnectionResetError):
        await ingest(Batch([message("2")], batch.token))
    await ingest(Batch([message("3")], uuid.uuid4()))  # no read for another batch's token
    assert db.token_reads == 0


async def test_commands_without_a_token_are_planned_as_before() -> None:
    """A replay, or a rejection kept on its own: no token is written and none is asked."""
    db = TokenDatabase(enrolled={"h(MRN1)": "S-1"})
    (outcome,) = await ingestor(db, [])([message("1")])
    assert outcome.results == 1 and db.tokens == {} and db.token_reads == 0


async def test_a_retry_answers_the_plan_of_the_attempt_that_committed() -> None:
    """Review 107: the first attempt's commit is still landing when the second asks (not
    committed yet), so the second plans afresh (new result ids); it is cut off while its
    write waits for the landing commit, which then lands. The third answers the first
    attempt's plan, the one stored, never the second's."""
    db, reset, ingest = await warmed()
    reset.extend(["cut-off", "landing"])  # popped from the end: landing first
    (outcome,) = await attempts(ingest, [message("1")])
    stored = [r.result_id for r in db.results if r.result_key == "K-1"]
    assert outcome.accepted and not outcome.duplicate and outcome.results == 1
    assert list(outcome.result_ids) == stored and len(stored) == 1


async def test_a_batch_committed_by_an_attempt_not_kept_is_answered_resend() -> None:
    """The token committed, but by no attempt whose plan was kept: its callers are told to
    resend (each resend then answered as stored), never another attempt's plan."""
    db, reset, ingest = await warmed()
    reset.append("before")
    batch = Batch([message("1")], uuid.uuid4())
    with pytest.raises(ConnectionResetError):
        await ingest(batch)  # its plan kept, nothing written
    db.tokens[batch.token] = uuid.uuid4()  # committed by an attempt not kept here
    writes = db.writes
    with pytest.raises(CommitAnswerLost):
        await ingest(batch)
    assert db.writes == writes and db.token_reads == 1  # asked, neither planned nor wrote


async def test_the_committer_answers_a_lost_commit_answer_with_resend() -> None:
    async def process(commands: Sequence[int]) -> list[int]:
        raise CommitAnswerLost

    failed: list[int] = []

    async def keep(command: int) -> int:
        failed.append(command)
        return -1

    committer = GroupCommitter(process, transient=TRANSIENT_DB_ERRORS, on_failure=keep)
    answers = await run(committer, [1, 2])
    assert all(isinstance(a, CommitAnswerLost) for a in answers) and failed == []
