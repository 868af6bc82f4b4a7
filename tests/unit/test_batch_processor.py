"""BatchProcessor against hand-written fakes of the unit of work (no database, no Kafka)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.handling import EventHandler, PoisonMessage
from shared.messaging.processing import BatchProcessor
from shared.metrics import ConsumerMetrics
from tests.factories import crp_result, subject_enrolled

SERVICE = "test"
CONSUMER = "crp-monitor"
LAB = "lab.results.v1"
SUBJECTS = "trial.subjects.v1"
OUT_TOPIC = "crp.assessments.v1"


# --- fakes ------------------------------------------------------------------------------------


@dataclass
class DeadLetter:
    message: ConsumedMessage
    consumer: str
    reason_code: str
    reason: str
    plain: bool = False


@dataclass
class Committed:
    """What a real database would hold after commits."""

    inbox: dict[str, set[uuid.UUID]] = field(default_factory=dict)
    applied: list[uuid.UUID] = field(default_factory=list)
    outbox: list[tuple[str, Envelope]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


class FakeInbox:
    def __init__(self, uow: FakeUnitOfWork, consumer: str) -> None:
        self._uow = uow
        self._consumer = consumer

    async def claim(self, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        self._uow.claim_calls.append(list(event_ids))
        seen = self._uow.committed.inbox.get(self._consumer, set())
        pending = self._uow.pending_claims.setdefault(self._consumer, set())
        fresh = {i for i in event_ids if i not in seen and i not in pending}
        pending |= fresh
        return fresh


class FakeOutbox:
    def __init__(self) -> None:
        self.pending: list[tuple[str, Envelope]] = []

    def add(self, topic: str, envelope: Envelope) -> None:
        self.pending.append((topic, envelope))

    def mark(self) -> int:
        return len(self.pending)

    def discard_since(self, mark: int) -> None:
        del self.pending[mark:]

    async def flush(self) -> list[tuple[str, Envelope]]:
        events, self.pending = self.pending, []
        return events


class FakeDeadLetters:
    """``failures`` maps an offset to the errors its next writes raise (a plain write too)."""

    def __init__(self, failures: dict[int, list[BaseException]] | None = None) -> None:
        self.pending: list[DeadLetter] = []
        self.failures = failures if failures is not None else {}

    async def add(
        self,
        message: ConsumedMessage,
        consumer: str,
        reason_code: str,
        reason: str,
        *,
        plain: bool = False,
    ) -> bool:
        errors = self.failures.get(message.offset)
        if errors:
            raise errors.pop(0)
        self.pending.append(DeadLetter(message, consumer, reason_code, reason, plain))
        return True


class FakeSavepoint:
    """Restores the handlers' (database) writes on exception; the outbox is in memory."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow
        self._mark = 0

    async def __aenter__(self) -> FakeSavepoint:
        self._mark = len(self._uow.pending_applied)
        self._uow.savepoints += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            del self._uow.pending_applied[self._mark :]
            self._uow.savepoint_rollbacks += 1


class FakeUnitOfWork:
    """One fake 'transaction' per ``async with``; only ``commit`` makes writes durable."""

    dead_letters_type = FakeDeadLetters

    def __init__(
        self,
        *,
        failing_commits: int = 0,
        commit_error: BaseException | None = None,
        dead_letter_failures: dict[int, list[BaseException]] | None = None,
    ) -> None:
        self.dead_letter_failures = dead_letter_failures if dead_letter_failures else {}
        self.committed = Committed()
        self.failing_commits = failing_commits
        self.commit_error = commit_error or ConnectionError("connection reset")
        self.transactions = 0
        self.commits = 0
        self.rollbacks = 0
        self.savepoints = 0
        self.savepoint_rollbacks = 0
        self.claim_calls: list[list[uuid.UUID]] = []
        self._reset()

    def _reset(self) -> None:
        self.pending_claims: dict[str, set[uuid.UUID]] = {}
        self.pending_applied: list[uuid.UUID] = []
        self.outbox = FakeOutbox()
        self.dead_letters = self.dead_letters_type(self.dead_letter_failures)
        self._open = False

    # what handlers call
    def apply(self, event_id: uuid.UUID) -> None:
        assert self._open, "handler ran outside the unit of work"
        self.pending_applied.append(event_id)

    # the unit of work protocol
    async def __aenter__(self) -> FakeUnitOfWork:
        assert not self._open, "unit of work entered twice"
        self._reset()
        self._open = True
        self.transactions += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._open:  # not committed: roll back
            self.rollbacks += 1
        self._reset()

    async def commit(self) -> None:
        assert self._open, "commit outside the unit of work"
        if self.failing_commits > 0:
            self.failing_commits -= 1
            raise self.commit_error
        flushed = await self.outbox.flush()
        for consumer, ids in self.pending_claims.items():
            self.committed.inbox.setdefault(consumer, set()).update(ids)
        self.committed.applied.extend(self.pending_applied)
        self.committed.outbox.extend(flushed)
        self.committed.dead_letters.extend(self.dead_letters.pending)
        self.commits += 1
        self._open = False

    async def flush(self) -> None:
        """Buffered repository writes: the fake keeps none."""
        assert self._open, "flush outside the unit of work"

    def inbox(self, consumer: str) -> FakeInbox:
        return FakeInbox(self, consumer)

    def savepoint(self) -> FakeSavepoint:
        return FakeSavepoint(self)


# --- helpers ----------------------------------------------------------------------------------


class Offsets:
    def __init__(self) -> None:
        self._next = 0

    def __call__(
        self, envelope: Envelope | None, topic: str = LAB, value: bytes | None = None
    ) -> ConsumedMessage:
        self._next += 1
        raw = envelope.to_bytes() if envelope is not None else value
        key = envelope.subject_id.encode() if envelope is not None and envelope.subject_id else None
        return ConsumedMessage(topic=topic, partition=0, offset=self._next, key=key, value=raw)


@pytest.fixture
def msg() -> Offsets:
    return Offsets()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


async def record(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
    """A well-behaved handler: one write and one outgoing event."""
    uow.apply(envelope.event_id)
    uow.outbox.add(OUT_TOPIC, envelope)


DEFAULT_HANDLERS: dict[str, EventHandler] = {"LabResultRecorded": record, "SubjectEnrolled": record}


def processor(
    uow: FakeUnitOfWork,
    registry: CollectorRegistry,
    handlers: dict[str, EventHandler] | None = None,
) -> BatchProcessor:
    return BatchProcessor(
        consumer=CONSUMER,
        uow_factory=lambda: uow,  # type: ignore[arg-type, return-value]  # the fake unit of work
        handlers=DEFAULT_HANDLERS if handlers is None else handlers,
        metrics=ConsumerMetrics(registry, SERVICE),
        max_backoff_seconds=0.01,
    )


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, {"service": SERVICE, **labels})
    return 0.0 if value is None else value


def never() -> bool:
    return False


# --- idempotency ------------------------------------------------------------------------------


async def test_a_clean_batch_is_applied_in_one_transaction(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    events = [crp_result("S-1", 1.0), crp_result("S-1", 2.0), subject_enrolled("S-2")]
    messages = [msg(events[0]), msg(events[1]), msg(events[2], topic=SUBJECTS)]
    await processor(uow, registry).process(messages)

    assert uow.committed.applied == [e.event_id for e in events]
    assert [env.event_id for _, env in uow.committed.outbox] == [e.event_id for e in events]
    assert uow.committed.dead_letters == []
    assert uow.committed.inbox[CONSUMER] == {e.event_id for e in events}
    assert (uow.transactions, uow.commits, uow.rollbacks, uow.savepoints) == (1, 1, 0, 0)
    assert sample(registry, "cachexia_events_consumed_total", topic=LAB) == 2
    assert sample(registry, "cachexia_events_consumed_total", topic=SUBJECTS) == 1
    assert sample(registry, "cachexia_events_applied_total", topic=LAB) == 2
    assert sample(registry, "cachexia_events_applied_total", topic=SUBJECTS) == 1
    assert sample(registry, "cachexia_handler_duration_seconds_count", consumer=CONSUMER) == 1


async def test_same_event_twice_in_one_batch_is_applied_once(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    event = crp_result("S-1", 5.0)
    await processor(uow, registry).process([msg(event), msg(event)])

    assert uow.committed.applied == [event.event_id]
    assert len(uow.committed.outbox) == 1
    assert sample(registry, "cachexia_events_consumed_total", topic=LAB) == 2
    assert sample(registry, "cachexia_events_applied_total", topic=LAB) == 1
    assert sample(registry, "cachexia_events_duplicate_total", topic=LAB) == 1


async def test_same_event_in_two_batches_is_applied_once(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    event, other = crp_result("S-1", 5.0), crp_result("S-1", 6.0)
    batch = processor(uow, registry)
    await batch.process([msg(event)])
    await batch.process([msg(other), msg(event)])

    assert uow.committed.applied == [event.event_id, other.event_id]
    assert uow.commits == 2
    assert sample(registry, "cachexia_events_applied_total", topic=LAB) == 2
    assert sample(registry, "cachexia_events_duplicate_total", topic=LAB) == 1


async def test_inbox_is_shared_per_consumer_not_per_processor(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    event = crp_result("S-1", 5.0)
    await processor(uow, registry).process([msg(event)])
    # a restarted process (new BatchProcessor, same database) still sees the claim
    await processor(uow, CollectorRegistry()).process([msg(event)])
    assert uow.committed.applied == [event.event_id]


# --- poison messages --------------------------------------------------------------------------


async def test_poison_message_is_dead_lettered_and_the_rest_applied(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    good1, good2 = crp_result("S-1", 1.0), crp_result("S-2", 2.0)
    garbage = msg(None, value=b"\x00garbage")
    empty = msg(None, value=None)
    await processor(uow, registry).process([msg(good1), garbage, empty, msg(good2)])

    assert uow.committed.applied == [good1.event_id, good2.event_id]
    letters = uow.committed.dead_letters
    assert [(d.message, d.consumer, d.reason_code) for d in letters] == [
        (garbage, CONSUMER, "invalid-envelope"),
        (empty, CONSUMER, "empty-value"),
    ]
    assert all(d.reason for d in letters)
    assert uow.rollbacks == 0, "a poison message must not fail the batch"
    assert (
        sample(registry, "cachexia_dead_letters_total", topic=LAB, reason="invalid-envelope") == 1
    )
    assert sample(registry, "cachexia_dead_letters_total", topic=LAB, reason="empty-value") == 1
    assert (
        sample(registry, "cachexia_events_failed_total", topic=LAB, reason="invalid-envelope") == 1
    )
    assert sample(registry, "cachexia_events_applied_total", topic=LAB) == 2


async def test_a_batch_of_only_poison_is_still_committed(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    garbage = msg(None, value=b"{not json")
    await processor(uow, registry).process([garbage])
    assert [d.message for d in uow.committed.dead_letters] == [garbage]
    assert uow.commits == 1


async def test_event_on_the_wrong_topic_is_dead_lettered(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    wrong = msg(subject_enrolled("S-1"), topic=LAB)
    await processor(uow, registry).process([wrong])
    assert [(d.message, d.reason_code) for d in uow.committed.dead_letters] == [
        (wrong, "unknown-event-type")
    ]
    assert uow.committed.applied == []


# --- failing handlers -------------------------------------------------------------------------


def failing_for(culprit: uuid.UUID, exc: Exception) -> EventHandler:
    async def handler(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        uow.apply(envelope.event_id)
        uow.outbox.add(OUT_TOPIC, envelope)
        if envelope.event_id == culprit:
            raise exc

    return handler


async def test_a_failing_handler_dead_letters_only_its_event(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    a, b, c = crp_result("S-1", 1.0), crp_result("S-1", 2.0), crp_result("S-1", 3.0)
    messages = [msg(a), msg(b), msg(c)]
    handlers = {"LabResultRecorded": failing_for(b.event_id, ValueError("boom"))}
    await processor(uow, registry, handlers).process(messages)

    assert uow.committed.applied == [a.event_id, c.event_id]
    assert [env.event_id for _, env in uow.committed.outbox] == [a.event_id, c.event_id], (
        "events queued by the failing handler must be discarded"
    )
    [letter] = uow.committed.dead_letters
    assert letter.message is messages[1]
    assert letter.reason_code == "handler-error"
    assert letter.reason == "ValueError", "the type only: an exception's text can quote values"
    # first attempt rolled back, then one savepoint per event and one for the dead letter
    assert (uow.transactions, uow.rollbacks, uow.commits) == (2, 1, 1)
    assert (uow.savepoints, uow.savepoint_rollbacks) == (4, 1)
    # the culprit is claimed too, so a redelivery is not applied again
    assert uow.committed.inbox[CONSUMER] == {a.event_id, b.event_id, c.event_id}
    assert sample(registry, "cachexia_dead_letters_total", topic=LAB, reason="handler-error") == 1
    assert sample(registry, "cachexia_events_consumed_total", topic=LAB) == 3


async def test_a_handler_raising_poison_message_uses_its_reason_code(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    a, b = crp_result("S-1", 1.0), crp_result("S-1", 2.0)
    messages = [msg(a), msg(b)]
    handlers = {"LabResultRecorded": failing_for(a.event_id, PoisonMessage("x", "y"))}
    await processor(uow, registry, handlers).process(messages)

    assert uow.committed.applied == [b.event_id]
    assert [(d.message, d.reason_code, d.reason) for d in uow.committed.dead_letters] == [
        (messages[0], "x", "y")
    ]
    assert [env.event_id for _, env in uow.committed.outbox] == [b.event_id]
    assert sample(registry, "cachexia_dead_letters_total", topic=LAB, reason="x") == 1
    assert sample(registry, "cachexia_dead_letters_total", topic=LAB, reason="handler-error") == 0


async def test_a_handler_failure_and_a_poison_message_in_one_batch(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    a, b = crp_result("S-1", 1.0), crp_result("S-1", 2.0)
    garbage = msg(None, value=b"nope")
    messages = [msg(a), garbage, msg(b)]
    handlers = {"LabResultRecorded": failing_for(a.event_id, KeyError("k"))}
    await processor(uow, registry, handlers).process(messages)

    assert uow.committed.applied == [b.event_id]
    codes = {d.message.offset: d.reason_code for d in uow.committed.dead_letters}
    assert codes == {messages[0].offset: "handler-error", garbage.offset: "invalid-envelope"}


async def test_events_without_a_handler_are_skipped(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    enrolled, lab = subject_enrolled("S-1"), crp_result("S-1", 1.0)
    handlers: dict[str, EventHandler] = {"SubjectEnrolled": record}
    await processor(uow, registry, handlers).process([msg(lab), msg(enrolled, topic=SUBJECTS)])

    assert uow.committed.applied == [enrolled.event_id]
    assert uow.committed.dead_letters == []
    assert uow.committed.inbox[CONSUMER] == {enrolled.event_id}, "skipped events are not claimed"
    assert sample(registry, "cachexia_events_consumed_total", topic=LAB) == 1
    assert sample(registry, "cachexia_events_applied_total", topic=LAB) == 0
    assert sample(registry, "cachexia_events_duplicate_total", topic=LAB) == 0


# --- transient errors -------------------------------------------------------------------------


async def test_process_until_done_retries_a_transient_error(
    registry: CollectorRegistry, msg: Offsets
) -> None:
    uow = FakeUnitOfWork(failing_commits=1)
    event = crp_result("S-1", 1.0)
    await processor(uow, registry).process_until_done([msg(event)], never)

    assert uow.committed.applied == [event.event_id]
    assert len(uow.committed.outbox) == 1
    assert uow.committed.dead_letters == [], "a transient error never dead-letters"
    assert (uow.transactions, uow.rollbacks, uow.commits) == (2, 1, 1)
    assert uow.savepoints == 0, "a transient error must not trigger the per-event re-run"
    assert sample(registry, "cachexia_batch_retries_total") == 1


async def test_process_until_done_retries_several_times(
    registry: CollectorRegistry, msg: Offsets
) -> None:
    uow = FakeUnitOfWork(failing_commits=3, commit_error=TimeoutError())
    event = crp_result("S-1", 1.0)
    await processor(uow, registry).process_until_done([msg(event)], never)
    assert uow.committed.applied == [event.event_id]
    assert sample(registry, "cachexia_batch_retries_total") == 3


async def test_process_until_done_reraises_when_stopping(
    registry: CollectorRegistry, msg: Offsets
) -> None:
    uow = FakeUnitOfWork(failing_commits=1)
    with pytest.raises(ConnectionError):
        await processor(uow, registry).process_until_done(
            [msg(crp_result("S-1", 1.0))], lambda: True
        )
    assert uow.committed == Committed()
    assert uow.commits == 0
    assert sample(registry, "cachexia_batch_retries_total") == 0


async def test_a_non_transient_commit_error_is_not_retried(
    registry: CollectorRegistry, msg: Offsets
) -> None:
    uow = FakeUnitOfWork(failing_commits=5, commit_error=RuntimeError("bug"))
    with pytest.raises(RuntimeError, match="bug"):
        await processor(uow, registry).process_until_done([msg(crp_result("S-1", 1.0))], never)
    assert uow.committed == Committed()
    assert sample(registry, "cachexia_batch_retries_total") == 0


async def test_a_transient_error_in_a_handler_is_retried_not_dead_lettered(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    event = crp_result("S-1", 1.0)
    calls = 0

    async def flaky(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("network blinked")
        uow.apply(envelope.event_id)

    await processor(uow, registry, {"LabResultRecorded": flaky}).process_until_done(
        [msg(event)], never
    )
    assert calls == 2
    assert uow.committed.applied == [event.event_id]
    assert uow.committed.dead_letters == []
    assert uow.savepoints == 0


async def test_a_lock_timeout_in_a_handler_is_retried_not_dead_lettered(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    """A lock waited for past ``lock_timeout`` (55P03) is the database's state, not the
    event's: dead-lettered, the event would be lost to the consumer."""
    event = crp_result("S-1", 1.0)
    calls = 0

    async def waits_for_a_lock(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncpg.exceptions.LockNotAvailableError("canceling statement: lock timeout")
        uow.apply(envelope.event_id)

    handlers: dict[str, EventHandler] = {"LabResultRecorded": waits_for_a_lock}
    await processor(uow, registry, handlers).process_until_done([msg(event)], never)
    assert calls == 2
    assert uow.committed.applied == [event.event_id]
    assert uow.committed.dead_letters == [], "a lock timeout was dead-lettered"
    assert uow.savepoints == 0, "a lock timeout must not trigger the per-event re-run"
    assert sample(registry, "cachexia_batch_retries_total") == 1


def server_error(sqlstate: str) -> BaseException:
    """What asyncpg raises for a server error with this SQLSTATE."""
    error: BaseException = asyncpg.PostgresError.new({"C": sqlstate, "M": "no", "S": "ERROR"})
    assert getattr(error, "sqlstate", None) == sqlstate
    return error


# review 145: faults of the database or its deployment that no event causes: a grant revoked
# (42501), a table a migration renamed (42P01), a corrupted page (XX001), a feature not
# supported (0A000). Dead-lettered, every event the consumer met meanwhile would be lost to it
STORAGE_FAULTS = ["42501", "42P01", "XX001", "0A000"]


@pytest.mark.parametrize("sqlstate", STORAGE_FAULTS)
async def test_a_storage_fault_in_a_handler_is_retried_not_dead_lettered(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets, sqlstate: str
) -> None:
    event = crp_result("S-1", 1.0)
    calls = 0

    async def revoked(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:  # until an operator restores the grant
            raise server_error(sqlstate)
        uow.apply(envelope.event_id)

    handlers: dict[str, EventHandler] = {"LabResultRecorded": revoked}
    await processor(uow, registry, handlers).process_until_done([msg(event)], never)
    assert calls == 3
    assert uow.committed.applied == [event.event_id]
    assert uow.committed.dead_letters == [], f"{sqlstate} was dead-lettered"
    assert uow.savepoints == 0, "a storage fault must not trigger the per-event re-run"
    assert sample(registry, "cachexia_batch_retries_total") == 2


@pytest.mark.parametrize("sqlstate", STORAGE_FAULTS)
async def test_a_storage_fault_storing_a_dead_letter_retries_the_batch(
    registry: CollectorRegistry, msg: Offsets, sqlstate: str
) -> None:
    """Not stored "in plain form", nor skipped as not storable: retried as it is."""
    garbage = msg(None, value=b"garbage")
    uow = FakeUnitOfWork(dead_letter_failures={garbage.offset: [server_error(sqlstate)]})
    await processor(uow, registry).process_until_done([garbage], never)
    assert [(d.message, d.plain) for d in uow.committed.dead_letters] == [(garbage, False)]
    assert sample(registry, "cachexia_batch_retries_total") == 1


# --- known metric bugs ------------------------------------------------------------------------


async def test_applied_metric_counts_each_event_once_after_an_isolated_rerun(
    uow: FakeUnitOfWork, registry: CollectorRegistry, msg: Offsets
) -> None:
    a, b, c = crp_result("S-1", 1.0), crp_result("S-1", 2.0), crp_result("S-1", 3.0)
    handlers = {"LabResultRecorded": failing_for(b.event_id, ValueError("boom"))}
    await processor(uow, registry, handlers).process([msg(a), msg(b), msg(c)])
    assert uow.committed.applied == [a.event_id, c.event_id]
    assert sample(registry, "cachexia_events_applied_total", topic=LAB) == 2


async def test_metrics_count_each_event_once_after_a_transient_retry(
    registry: CollectorRegistry, msg: Offsets
) -> None:
    uow = FakeUnitOfWork(failing_commits=1)
    await processor(uow, registry).process_until_done([msg(crp_result("S-1", 1.0))], never)
    assert sample(registry, "cachexia_events_applied_total", topic=LAB) == 1
    assert sample(registry, "cachexia_events_consumed_total", topic=LAB) == 1


# --- dead letters that cannot be stored -------------------------------------------------------


class NotStorable(Exception):
    """Like asyncpg's CharacterNotInRepertoireError: a database error that is not transient."""


async def test_a_dead_letter_that_cannot_be_stored_as_is_is_stored_plain(
    registry: CollectorRegistry, msg: Offsets
) -> None:
    good = crp_result("S-1", 1.0)
    garbage = msg(None, value=b"garbage")
    uow = FakeUnitOfWork(dead_letter_failures={garbage.offset: [NotStorable()]})
    await processor(uow, registry).process_until_done([garbage, msg(good)], never)

    assert uow.committed.applied == [good.event_id]
    assert [d.message for d in uow.committed.dead_letters] == [garbage]
    assert uow.commits == 1
    [letter] = uow.committed.dead_letters
    assert letter.plain
    assert letter.reason_code == "invalid-envelope"
    assert "NotStorable" in letter.reason, "the plain form says why it is plain"
    assert uow.savepoint_rollbacks == 1
    assert (
        sample(registry, "cachexia_dead_letters_total", topic=LAB, reason="invalid-envelope") == 1
    )


async def test_a_dead_letter_that_cannot_be_stored_at_all_does_not_block_the_partition(
    registry: CollectorRegistry, msg: Offsets, caplog: pytest.LogCaptureFixture
) -> None:
    before, after = crp_result("S-1", 1.0), crp_result("S-1", 2.0)
    garbage = msg(None, value=b"garbage")
    uow = FakeUnitOfWork(
        dead_letter_failures={garbage.offset: [NotStorable(), NotStorable(), NotStorable()]}
    )
    messages = [msg(before), garbage, msg(after)]
    await processor(uow, registry).process_until_done(messages, never)

    assert uow.committed.applied == [before.event_id, after.event_id]
    assert uow.committed.dead_letters == []
    assert uow.commits == 1, "the batch commits: the partition is not blocked"
    assert uow.rollbacks == 0
    assert (
        sample(registry, "cachexia_dead_letters_total", topic=LAB, reason="dead-letter-not-stored")
        == 1
    )
    assert (
        sample(registry, "cachexia_events_failed_total", topic=LAB, reason="dead-letter-not-stored")
        == 1
    )
    assert (
        sample(registry, "cachexia_dead_letters_total", topic=LAB, reason="invalid-envelope") == 0
    )
    [record] = [r for r in caplog.records if r.levelname == "CRITICAL"]
    logged = record.__dict__  # the extra fields
    assert logged["offset"] == garbage.offset
    assert logged["reason_code"] == "invalid-envelope"
    assert logged["errors"] == ["NotStorable()", "NotStorable()"]
    assert len(logged["value_sha256"]) == 64


async def test_a_dead_letter_not_stored_discards_the_events_it_queued(
    registry: CollectorRegistry, msg: Offsets
) -> None:
    class QueuesThenFails(FakeDeadLetters):
        outbox: FakeOutbox

        async def add(self, *args: Any, **kwargs: Any) -> bool:
            self.outbox.add("dlq.test.v1", crp_result("S-9", 9.0))
            raise NotStorable

    class Uow(FakeUnitOfWork):
        dead_letters_type = QueuesThenFails

        def _reset(self) -> None:
            super()._reset()
            assert isinstance(self.dead_letters, QueuesThenFails)
            self.dead_letters.outbox = self.outbox

    uow, good = Uow(), crp_result("S-1", 1.0)
    await processor(uow, registry).process([msg(None, value=b"junk"), msg(good)])
    assert uow.commits == 1
    assert [env.event_id for _, env in uow.committed.outbox] == [good.event_id]


async def test_a_transient_error_storing_a_dead_letter_retries_the_batch(
    registry: CollectorRegistry, msg: Offsets
) -> None:
    garbage = msg(None, value=b"garbage")
    uow = FakeUnitOfWork(dead_letter_failures={garbage.offset: [ConnectionError("reset")]})
    await processor(uow, registry).process_until_done([garbage], never)

    assert [(d.message, d.plain) for d in uow.committed.dead_letters] == [(garbage, False)], (
        "a transient error is retried, not worked around"
    )
    assert (uow.transactions, uow.commits) == (2, 1)
    assert sample(registry, "cachexia_batch_retries_total") == 1


async def test_a_dead_letter_stored_before_is_not_counted_again(
    registry: CollectorRegistry, msg: Offsets
) -> None:
    class AlreadyStored(FakeDeadLetters):
        async def add(self, *args: Any, **kwargs: Any) -> bool:
            return False

    class Uow(FakeUnitOfWork):
        dead_letters_type = AlreadyStored

    uow = Uow()
    await processor(uow, registry).process([msg(None, value=b"junk")])
    assert uow.commits == 1
    assert (
        sample(registry, "cachexia_dead_letters_total", topic=LAB, reason="invalid-envelope") == 0
    )


def test_the_batch_retry_count_is_shown_at_zero_before_any_batch() -> None:
    """Review 149: the series appeared with the first retry, which increase() does not count,
    so a consumer stuck retrying from its first batch on never raised its alert."""
    registry = CollectorRegistry()
    ConsumerMetrics(registry, SERVICE)
    retries = registry.get_sample_value("cachexia_batch_retries_total", {"service": SERVICE})
    assert retries == 0


async def test_a_lock_timeout_during_the_isolated_rerun_is_retried_not_dead_lettered() -> None:
    """The batch holds a poison event, so it is re-run event by event; an innocent event
    meeting a lock timeout then is retried, never dead-lettered (review 147: an enrolment so
    lost would have its patient's results discarded as not enrolled)."""
    uow, registry, msg = FakeUnitOfWork(), CollectorRegistry(), Offsets()
    poison, innocent = crp_result("S-1", 1.0), crp_result("S-2", 2.0)
    calls = 0

    async def handler(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        nonlocal calls
        if envelope.event_id == poison.event_id:
            raise ValueError("a defect this event triggers")
        calls += 1
        if calls == 2:  # the isolated re-run meets a migration holding the table's lock
            raise asyncpg.exceptions.LockNotAvailableError("canceling statement: lock timeout")
        uow.apply(envelope.event_id)

    await processor(uow, registry, {"LabResultRecorded": handler}).process_until_done(
        [msg(innocent), msg(poison)], never
    )
    assert uow.committed.applied == [innocent.event_id]
    assert [d.message.offset for d in uow.committed.dead_letters] == [2]  # the poison only
