"""A CRP correction naming another subject's result never puts another patient's value in a
series: the domain leaves it out, the repository refuses one read after that result (the
SQL itself: tests/integration/test_crp_corrections_across_subjects.py), and one read before
it is logged and counted once found."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from services.crp_monitor.adapters.metrics import CrpMonitorMetrics
from services.crp_monitor.adapters.repository import CrpSeriesRepository
from services.crp_monitor.domain.model import (
    CancellationNoted,
    CancellationOutcome,
    CorrectionOfAnotherSubject,
    CrpMeasurement,
    current_series,
)
from services.crp_monitor.service_layer.reporting import report_corrections_of_another_subject
from shared.messaging.processing import PoisonMessage

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
    """Answers the store statement with ``rows``; records each call."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.calls: list[tuple[Any, ...]] = []

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        self.calls.append(args)
        return self.rows

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return None  # nothing kept in crp_refused_results


def _row(kind: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": kind, "result_id": uuid.uuid4(), "subject_id": "S-B",
        "source_event_id": uuid.uuid4(), "applied": None, "corrected_result_id": None,
        "corrected_subject_id": None,
    }  # fmt: skip
    return {**row, **fields}


async def _flushed(
    rows: list[dict[str, Any]],
) -> tuple[CrpSeriesRepository, FakeConnection, PoisonMessage | None]:
    conn = FakeConnection(rows)
    repository = CrpSeriesRepository(cast(asyncpg.Connection, conn))
    for value in (7.0, 4.0):
        await repository.add(_measurement(value), uuid.uuid4())
    try:
        await repository.flush()
    except PoisonMessage as poison:
        return repository, conn, poison
    return repository, conn, None


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
    """The caller rolls the statement back: what it reported did not happen."""
    found = _row("correction-of-another-subject", corrected_result_id=uuid.uuid4(),
                 corrected_subject_id="S-A")  # fmt: skip
    repository, _, poison = await _flushed([_row("released", applied=True), _row("refused"), found])
    assert poison is not None and poison.reason_code == "result-of-another-subject"
    assert repository.take_noted() == [] and repository.take_corrections() == []


async def test_a_result_under_another_subjects_result_id_is_poison_and_not_kept_as_refused() -> (
    None
):
    """Its id is the other subject's stored result's: kept as refused, it would hide that
    subject's corrections of it and turn a cancellation of it into refused-result."""
    taken = _row("taken")
    repository, _, poison = await _flushed([_row("released", applied=True), taken])
    assert poison is not None and poison.reason_code == "result-of-another-subject"
    assert not await repository.was_refused(taken["result_id"])
    assert repository.take_noted() == [] and repository.take_corrections() == []


async def test_a_result_under_its_subjects_result_id_with_other_content_is_poison() -> None:
    """The stored result stands; the other content is dead-lettered, not dropped by ON
    CONFLICT, and its id (the stored result's) is not kept as refused."""
    reused = _row("reused")
    repository, _, poison = await _flushed([_row("released", applied=True), reused])
    assert poison is not None and poison.reason_code == "reused-result-id"
    assert not await repository.was_refused(reused["result_id"])
    assert repository.take_noted() == [] and repository.take_corrections() == []


async def test_the_batch_is_written_in_one_statement_and_its_findings_are_noted() -> None:
    released = _row("released", applied=True)
    corrected = uuid.uuid4()
    found = _row("correction-of-another-subject", corrected_result_id=corrected,
                 corrected_subject_id="S-A")  # fmt: skip
    repository, conn, poison = await _flushed([released, found])
    assert poison is None
    assert len(conn.calls) == 1 and len(conn.calls[0][0]) == 2  # both results, one round trip
    assert repository.take_noted() == [
        CancellationNoted(
            CancellationOutcome.APPLIED_ON_ARRIVAL, released["result_id"], "S-B",
            released["source_event_id"],
        )
    ]  # fmt: skip
    assert repository.take_corrections() == [
        CorrectionOfAnotherSubject(
            found["result_id"], "S-B", corrected, "S-A", found["source_event_id"]
        )
    ]
    assert repository.take_corrections() == []  # handed over once


def test_corrections_of_another_subject_are_counted_and_logged_by_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    metrics = CrpMonitorMetrics(registry)
    assert registry.get_sample_value(COUNTER) == 0  # exported from the start
    note = CorrectionOfAnotherSubject(uuid.uuid4(), "S-B", uuid.uuid4(), "S-A", uuid.uuid4())
    report_corrections_of_another_subject(metrics.count_correction_of_another_subject, [note])
    assert registry.get_sample_value(COUNTER) == 1
    [record] = caplog.records
    fields: dict[str, Any] = record.__dict__
    assert record.levelno == logging.ERROR
    assert fields["result_id"] == str(note.result_id) and fields["subject_id"] == "S-B"
    assert fields["corrected_result_id"] == str(note.corrected_result_id)
    assert fields["corrected_subject_id"] == "S-A" and fields["event_id"] == str(note.event_id)
