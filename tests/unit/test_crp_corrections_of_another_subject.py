"""A CRP correction naming another subject's result never puts another patient's value in a
series: the domain leaves it out; one read after that result is not stored by the write (the
SQL itself: tests/integration/test_crp_corrections_across_subjects.py), which reports it, the
domain refuses it (``judge_stored``) and the unit of work dead-letters it (PoisonMessage); one
read before that result is logged and counted once found."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from services.crp_monitor.adapters.metrics import CrpMonitorMetrics
from services.crp_monitor.adapters.unit_of_work import CrpMonitorUnitOfWork
from services.crp_monitor.domain.model import (
    CancellationNoted,
    CancellationOutcome,
    CorrectionOfAnotherSubjectFound,
    CrpMeasurement,
    current_series,
)
from services.crp_monitor.domain.stored_results import (
    ResultRefused,
    StoredKind,
    StoredRow,
    StoreFindings,
    judge_stored,
)
from services.crp_monitor.service_layer.reporting import report_corrections_of_another_subject
from shared.messaging.handling import PoisonMessage

AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
COUNTER = "crp_corrections_of_another_subject_total"


def _measurement(
    value: float, *, supersedes: uuid.UUID | None = None, corrects_another_subject: bool = False
) -> CrpMeasurement:
    return CrpMeasurement(
        result_id=uuid.uuid4(), subject_id="S-B", value_mg_l=value, collected_at=AT,
        status="corrected" if supersedes else "final", supersedes_result_id=supersedes,
        corrects_another_subject=corrects_another_subject,
    )  # fmt: skip


def test_a_correction_of_another_subjects_result_stands_in_no_series() -> None:
    own = _measurement(7.0)
    foreign = _measurement(4.0, supersedes=uuid.uuid4(), corrects_another_subject=True)
    assert current_series([foreign, own]) == [own]


class FakeConnection:
    """Answers each ``fetch`` with the next of ``answers`` (then nothing); records each."""

    def __init__(self, *answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[Any, ...]] = []

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        self.calls.append(args)
        return self.answers.pop(0) if self.answers else []

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return None  # nothing kept in crp_refused_results

    def transaction(self) -> FakeTransaction:
        return FakeTransaction()


class FakeTransaction:
    async def start(self) -> None:
        pass

    async def commit(self) -> None:
        pass

    async def rollback(self) -> None:
        pass


class FakePool:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn

    async def acquire(self) -> FakeConnection:
        return self.conn

    async def release(self, conn: FakeConnection) -> None:
        pass


def _row(kind: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": kind, "result_id": uuid.uuid4(), "subject_id": "S-B",
        "source_event_id": uuid.uuid4(), "applied": None, "corrected_result_id": None,
        "corrected_subject_id": None,
    }  # fmt: skip
    return {**row, **fields}


class Flushed:
    """A unit of work that wrote two results, answered with ``answers``, and committed; the
    poison its write raised, what it handed over once committed."""

    poison: PoisonMessage | None = None
    refused_kept: bool = False
    conn: FakeConnection

    def __init__(self) -> None:
        self.cancellations: list[CancellationNoted] = []
        self.corrections: list[CorrectionOfAnotherSubjectFound] = []

    @classmethod
    async def run(cls, *answers: list[dict[str, Any]], asked: uuid.UUID | None = None) -> Flushed:
        """``asked``: a result id whose ``was_refused`` is noted (after the write)."""
        flushed = cls()
        flushed.conn = FakeConnection(*answers)
        uow = CrpMonitorUnitOfWork(
            cast(asyncpg.Pool, FakePool(flushed.conn)), "crp-monitor",
            flushed.cancellations.extend, flushed.corrections.extend,
        )  # fmt: skip
        async with uow:
            for value in (7.0, 4.0):
                await uow.crp.add(_measurement(value), uuid.uuid4())
            try:
                await uow.flush()
            except PoisonMessage as poison:  # the batch processor's savepoint rolls it back
                flushed.poison = poison
            if asked is not None:
                flushed.refused_kept = await uow.crp.was_refused(asked)
            await uow.commit()
        return flushed


def test_a_correction_of_a_correction_of_another_subjects_result_stands_in_no_series() -> None:
    """S-A's result R; S-B's C1 corrects R (read before R, flagged once R came under S-A);
    S-B's C2 corrects C1: C2 is the latest version of S-A's sample, another patient's value
    like C1's, and stands in no series either (review 46)."""
    own = _measurement(7.0)
    c1 = _measurement(40.0, supersedes=uuid.uuid4(), corrects_another_subject=True)
    c2 = _measurement(45.0, supersedes=c1.result_id)
    c3 = _measurement(46.0, supersedes=c2.result_id)
    assert current_series([own, c1, c2, c3]) == [own]
    assert current_series([c3, own, c2, c1]) == [own]


async def test_a_refused_correction_is_poison_and_its_flush_notes_nothing() -> None:
    """The caller rolls the statement back: what it reported did not happen. The refused
    correction is kept as such at the commit (its event is dead-lettered in it)."""
    refused = _row("refused")
    found = _row("correction-of-another-subject", corrected_result_id=uuid.uuid4(),
                 corrected_subject_id="S-A")  # fmt: skip
    flushed = await Flushed.run(
        [_row("released", applied=True), refused, found], asked=refused["result_id"]
    )
    assert flushed.poison is not None
    assert flushed.poison.reason_code == "result-of-another-subject"
    assert flushed.refused_kept
    assert len(flushed.conn.calls) == 2  # the write, then keeping the refused id
    assert flushed.conn.calls[1][0] == [refused["result_id"]]
    assert flushed.cancellations == [] and flushed.corrections == []


async def test_a_cancellation_kept_for_a_refused_correction_is_released_as_refused_result() -> None:
    refused = _row("refused")
    kept = {"result_id": refused["result_id"], "subject_id": "S-B",
            "source_event_id": uuid.uuid4()}  # fmt: skip
    flushed = await Flushed.run([refused], [kept])
    assert flushed.poison is not None
    assert flushed.cancellations == [
        CancellationNoted(
            CancellationOutcome.REFUSED_RESULT, refused["result_id"], "S-B",
            kept["source_event_id"],
        )
    ]  # fmt: skip


async def test_a_result_under_another_subjects_result_id_is_poison_and_not_kept_as_refused() -> (
    None
):
    """Its id is the other subject's stored result's: kept as refused, it would hide that
    subject's corrections of it and turn a cancellation of it into refused-result."""
    taken = _row("taken")
    flushed = await Flushed.run([_row("released", applied=True), taken], asked=taken["result_id"])
    assert flushed.poison is not None
    assert flushed.poison.reason_code == "result-of-another-subject"
    assert not flushed.refused_kept and len(flushed.conn.calls) == 1  # nothing kept
    assert flushed.cancellations == [] and flushed.corrections == []


async def test_a_result_under_its_subjects_result_id_with_other_content_is_poison() -> None:
    """The stored result stands; the other content is dead-lettered, not dropped by ON
    CONFLICT, and its id (the stored result's) is not kept as refused."""
    reused = _row("reused")
    flushed = await Flushed.run(
        [_row("released", applied=True), reused, _row("refused")], asked=reused["result_id"]
    )
    assert flushed.poison is not None and flushed.poison.reason_code == "reused-result-id"
    assert not flushed.refused_kept and len(flushed.conn.calls) == 1  # nothing kept
    assert flushed.cancellations == [] and flushed.corrections == []


async def test_the_batch_is_written_in_one_statement_and_its_findings_are_noted() -> None:
    released = _row("released", applied=True)
    other = _row("released", applied=False)
    corrected = uuid.uuid4()
    found = _row("correction-of-another-subject", corrected_result_id=corrected,
                 corrected_subject_id="S-A")  # fmt: skip
    flushed = await Flushed.run([released, other, found])
    assert flushed.poison is None
    calls = flushed.conn.calls
    assert len(calls) == 1 and len(calls[0][0]) == 2  # both results, one round trip
    assert flushed.cancellations == [
        CancellationNoted(
            CancellationOutcome.APPLIED_ON_ARRIVAL, released["result_id"], "S-B",
            released["source_event_id"],
        ),
        CancellationNoted(
            CancellationOutcome.OTHER_SUBJECT, other["result_id"], "S-B",
            other["source_event_id"],
        ),
    ]  # fmt: skip
    assert flushed.corrections == [
        CorrectionOfAnotherSubjectFound(
            found["result_id"], "S-B", corrected, "S-A", found["source_event_id"]
        )
    ]


def test_the_domain_refuses_a_taken_id_before_a_reused_one_and_both_before_a_correction() -> None:
    """The order the repository raised them in (one refusal a write: the event's)."""
    at = uuid.uuid4()

    def row(kind: StoredKind) -> StoredRow:
        return StoredRow(kind, uuid.uuid4(), "S-B", at)

    for rows, code, kept in [
        ([row(StoredKind.REFUSED), row(StoredKind.REUSED), row(StoredKind.TAKEN)],
         "result-of-another-subject", 0),
        ([row(StoredKind.REFUSED), row(StoredKind.REUSED)], "reused-result-id", 0),
        ([row(StoredKind.RELEASED), row(StoredKind.REFUSED)], "result-of-another-subject", 1),
    ]:  # fmt: skip
        with pytest.raises(ResultRefused) as refused:
            judge_stored(rows)
        assert (refused.value.code, len(refused.value.refused)) == (code, kept)
    assert judge_stored([]) == StoreFindings([], [])


def test_corrections_of_another_subject_are_counted_and_logged_by_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    metrics = CrpMonitorMetrics(registry)
    assert registry.get_sample_value(COUNTER) == 0  # exported from the start
    note = CorrectionOfAnotherSubjectFound(uuid.uuid4(), "S-B", uuid.uuid4(), "S-A", uuid.uuid4())
    report_corrections_of_another_subject(metrics.count_correction_of_another_subject, [note])
    assert registry.get_sample_value(COUNTER) == 1
    [record] = caplog.records
    fields: dict[str, Any] = record.__dict__
    assert record.levelno == logging.ERROR
    assert fields["result_id"] == str(note.result_id) and fields["subject_id"] == "S-B"
    assert fields["corrected_result_id"] == str(note.corrected_result_id)
    assert fields["corrected_subject_id"] == "S-A" and fields["event_id"] == str(note.event_id)
