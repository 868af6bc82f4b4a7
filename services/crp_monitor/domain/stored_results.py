"""What writing a batch of CRP results reported, and what it means (pure domain: no I/O).

The store statement (``CrpSeriesRepository.flush``) reports, one row each, the results it did
not store and why, the pending cancellations it released and the corrections it found naming
another subject's result. ``judge_stored`` says which event is refused (dead-lettered) and
what is noted: a result is never dropped unseen, nor another patient's value taken in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.crp_monitor.domain.model import (
    RESULT_OF_ANOTHER_SUBJECT,
    REUSED_RESULT_ID,
    CancellationNoted,
    CancellationOutcome,
    CorrectionOfAnotherSubjectFound,
)


class StoredKind(StrEnum):
    """What the store statement reports of one row."""

    # a kept cancellation released: its result was stored now (or refused: ``keep_refused``)
    RELEASED = "released"
    # a correction naming another subject's result, or a result refused as such: not stored
    REFUSED = "refused"
    # a result under the id of one stored (or earlier in the batch) under another subject
    TAKEN = "taken"
    # a result under the id of its subject's stored result, with other content (value,
    # comparator, collection time, status, result superseded)
    REUSED = "reused"
    # a correction stored earlier under another subject, naming a result stored now
    CORRECTION_OF_ANOTHER_SUBJECT = "correction-of-another-subject"


@dataclass(frozen=True)
class StoredRow:
    """One row of the report. ``result_id``, ``subject_id`` and ``source_event_id`` are the
    row's result or cancellation's, its subject's and its event's."""

    kind: StoredKind
    result_id: uuid.UUID
    subject_id: str
    source_event_id: uuid.UUID
    # a released cancellation: True applied to its result (arrived under its subject), False
    # not applied (arrived under another subject), None nothing to apply (its result refused)
    applied: bool | None = None
    # a correction of another subject's: the result it names, and that result's subject
    corrected_result_id: uuid.UUID | None = None
    corrected_subject_id: str | None = None


class ResultRefused(Exception):
    """An event whose result cannot be stored (it is dead-lettered with ``code``).
    ``refused``: the corrections refused as naming another subject's result, kept as such so
    that corrections of them are refused too."""

    def __init__(self, code: str, reason: str, refused: Iterable[StoredRow] = ()) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.refused = tuple(refused)


@dataclass(frozen=True)
class StoreFindings:
    """What a batch written without a refusal noted, to report once it commits."""

    noted: list[CancellationNoted]
    corrections: list[CorrectionOfAnotherSubjectFound]


def judge_stored(rows: Sequence[StoredRow]) -> StoreFindings:
    """The findings of a write, or ResultRefused (the caller rolls the write back): a result
    under another subject's result id, or under its subject's stored result's id with other
    content (nothing is kept of it: its id names the stored result), then a correction naming
    another subject's result (kept as refused)."""
    kinds = {row.kind for row in rows}
    if StoredKind.TAKEN in kinds:
        raise ResultRefused(
            RESULT_OF_ANOTHER_SUBJECT,
            "the result_id is that of a result stored under another subject than the event's "
            "subject_id",
        )
    if StoredKind.REUSED in kinds:
        raise ResultRefused(
            REUSED_RESULT_ID,
            "the result_id is that of a result of the subject stored with another value, "
            "comparator, collection time, status or superseded result",
        )
    refused = [row for row in rows if row.kind is StoredKind.REFUSED]
    if refused:
        raise ResultRefused(
            RESULT_OF_ANOTHER_SUBJECT,
            "the corrected result belongs to another subject than the event's subject_id, "
            "or was refused as such",
            refused,
        )
    return StoreFindings(
        [released(row) for row in rows if row.kind is StoredKind.RELEASED],
        [_correction(row) for row in rows if row.kind is StoredKind.CORRECTION_OF_ANOTHER_SUBJECT],
    )


def _correction(row: StoredRow) -> CorrectionOfAnotherSubjectFound:
    # the statement names both for this kind
    assert row.corrected_result_id is not None and row.corrected_subject_id is not None
    return CorrectionOfAnotherSubjectFound(
        row.result_id, row.subject_id, row.corrected_result_id, row.corrected_subject_id,
        row.source_event_id,
    )  # fmt: skip


def released(row: StoredRow) -> CancellationNoted:
    """What became of a kept cancellation released (``StoredRow.applied``)."""
    if row.applied is None:
        outcome = CancellationOutcome.REFUSED_RESULT
    elif row.applied:
        outcome = CancellationOutcome.APPLIED_ON_ARRIVAL
    else:
        outcome = CancellationOutcome.OTHER_SUBJECT
    return CancellationNoted(outcome, row.result_id, row.subject_id, row.source_event_id)
