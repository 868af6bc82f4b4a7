"""A FHIR transaction the service fails on is kept as processing-failed without the entries
of its patients who are not enrolled, as a rejected transaction's copy is (fix111: it kept
its whole copy). The batch that keeps it reads their enrolments; should it fail, the copy
leaves out every patient's entries; failing that, the rejection is kept without a copy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestOutcome,
    IngestTransaction,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.unprocessable import NOT_KEPT, keep_unprocessable
from shared.db.pool import TRANSIENT_DB_ERRORS
from tests.unit.lab_ingestion.test_batch_ingestor import AT, FakeDatabase, FakeLabs, ingestor
from tests.unit.lab_ingestion.test_batch_ingestor import message as lab_message


def _transaction(*mrns: str) -> IngestTransaction:
    messages = tuple(lab_message(str(i), mrn).message for i, mrn in enumerate(mrns))
    return IngestTransaction(
        messages, lambda: "whole", AT, redact_without=lambda absent: f"without {sorted(absent)}"
    )


@pytest.fixture
def kept_rejections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The rejections each committed batch stages (the fake database drops them)."""
    staged: list[Any] = []
    stage = FakeLabs.stage

    def spy(self: FakeLabs, *args: Any, **kwargs: Any) -> None:
        staged.extend(args[3])
        stage(self, *args, **kwargs)

    monkeypatch.setattr(FakeLabs, "stage", spy)
    return staged


async def test_a_failed_transaction_keeps_no_entry_of_a_patient_not_enrolled(
    kept_rejections: list[Any],
) -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    command = _transaction("MRN1", "MRN2", "MRN1", "MRN3")
    outcome = await keep_unprocessable(ingestor(db), command, transient=TRANSIENT_DB_ERRORS)
    assert outcome.code is RejectionCode.PROCESSING_FAILED
    (record,) = kept_rejections
    assert record.payload == "without [1, 3]"


async def test_a_failed_transaction_of_enrolled_patients_keeps_its_whole_copy(
    kept_rejections: list[Any],
) -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN2)": "S-2"})
    await keep_unprocessable(
        ingestor(db), _transaction("MRN1", "MRN2"), transient=TRANSIENT_DB_ERRORS
    )
    assert [r.payload for r in kept_rejections] == ["whole"]


class FailingFirst:
    """Fails the first ``failures`` batches (as the enrolment read may); records the rest."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.stored: list[Command] = []

    async def __call__(self, commands: Sequence[Command]) -> list[IngestOutcome]:
        if self.failures:
            self.failures -= 1
            raise ValueError("failed again")
        self.stored.extend(commands)
        return [IngestOutcome.rejected(RejectionCode.PROCESSING_FAILED, "kept")]


@pytest.mark.parametrize(
    ("failures", "payload"), [(1, "without [0, 1]"), (2, NOT_KEPT)], ids=["unknown", "none"]
)
async def test_when_the_enrolments_cannot_be_read_no_patients_entry_is_kept(
    failures: int, payload: str
) -> None:
    ingest = FailingFirst(failures)
    await keep_unprocessable(ingest, _transaction("MRN1", "MRN2"), transient=TRANSIENT_DB_ERRORS)
    (kept,) = ingest.stored
    assert isinstance(kept, RecordRejectedInput)
    assert kept.redacted_payload == payload and kept.redact_without is None
