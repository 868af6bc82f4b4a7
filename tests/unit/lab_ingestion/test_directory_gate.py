"""Until the subject directory has caught up at start-up, a patient not found is answered
"resend", never discarded, and nothing of the message is kept (review 114); a patient found is
stored as usual. The gate is read before the batch reads the directory."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import IdentifierCandidate
from services.lab_ingestion.entrypoints.outcomes import count_outcome
from services.lab_ingestion.service_layer.commands import (
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
    ResendReason,
)
from services.lab_ingestion.service_layer.directory_gate import CATCHING_UP_TEXT, DirectoryGate
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from tests.unit.lab_ingestion.test_batch_ingestor import AT, FakeDatabase, FakeUnitOfWork, message

Told = list[list[str]]


def gated(db: FakeDatabase, gate: DirectoryGate, told: list[list[str]]) -> BatchIngestor:
    return BatchIngestor(
        lambda: FakeUnitOfWork(db), lambda identifier: f"h({identifier})",
        on_discarded=lambda hmacs: told.append(list(hmacs)), directory_caught_up=gate.is_open,
    )  # fmt: skip


def is_resend(outcome: IngestOutcome) -> bool:
    return (
        not outcome.accepted and outcome.transient and outcome.code is None
        and outcome.resend_reason is ResendReason.DIRECTORY_CATCHING_UP
        and outcome.reason == CATCHING_UP_TEXT
    )  # fmt: skip


@pytest.mark.parametrize("remembered", [False, True])
async def test_a_patient_not_found_before_the_directory_caught_up_is_answered_resend(
    remembered: bool,
) -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    gate, told = DirectoryGate(), Told()
    ingest = gated(db, gate, told)
    if remembered:  # the fast path knows S-1 already
        await ingest([message("0")])
    outcomes = await ingest([message("1", mrn="MRN9"), message("2")])
    assert is_resend(outcomes[0])
    assert outcomes[1].accepted and outcomes[1].results == 1  # found: stored as usual
    # nothing of the message answered "resend": no message id, no rejection
    assert sorted(control_id for _, control_id in db.messages) == (
        ["0", "2"] if remembered else ["2"]
    )
    assert [topic for topic, _ in db.events if topic == "lab.rejected.v1"] == []
    assert told == []  # nothing discarded


async def test_once_caught_up_a_patient_not_found_is_discarded_and_told() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    gate, told = DirectoryGate(), Told()
    ingest = gated(db, gate, told)
    (waiting,) = await ingest([message("1", mrn="MRN9")])
    gate.caught_up()
    (discarded,) = await ingest([message("1", mrn="MRN9")])  # the lab's resend
    assert is_resend(waiting)
    assert discarded.accepted and not discarded.enrolled
    assert told == [["h(MRN9)"]]
    assert db.messages == {}


async def test_a_resend_after_the_enrolment_was_read_is_stored() -> None:
    db = FakeDatabase()
    gate, told = DirectoryGate(), Told()
    ingest = gated(db, gate, told)
    (waiting,) = await ingest([message("1")])
    db.enrolled["h(MRN1)"] = "S-1"  # the directory applies the enrolment, and catches up
    gate.caught_up()
    (stored,) = await ingest([message("1")])
    assert is_resend(waiting)
    assert stored.accepted and stored.results == 1 and not stored.duplicate
    assert [r.subject_id for r in db.results] == ["S-1"]


async def test_a_transaction_with_a_patient_not_found_is_answered_resend_whole() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    found, not_found = message("1").message, message("2", mrn="MRN9").message
    transaction = IngestTransaction((found, not_found), lambda: "", AT)
    (outcome,) = await gated(db, DirectoryGate(), [])([transaction])
    assert is_resend(outcome) and outcome.failed_part == 1
    assert db.messages == {} and db.results == [] and db.events == []  # nothing, no rejection


async def test_a_message_without_a_number_to_match_by_is_answered_resend_too() -> None:
    """Two numbers of no known authority, neither enrolled: discarded once caught up."""
    db = FakeDatabase()
    command = message("1")
    candidates = (IdentifierCandidate("MRN8", "A"), IdentifierCandidate("MRN9", "B"))
    lab = dataclasses.replace(
        command.message, patient_identifier=None, identifier_candidates=candidates
    )
    unresolved = IngestLabMessage(lab, lambda: "", AT)
    gate, told = DirectoryGate(), Told()
    ingest = gated(db, gate, told)
    (waiting,) = await ingest([unresolved])
    gate.caught_up()
    (discarded,) = await ingest([unresolved])
    assert is_resend(waiting)
    assert discarded.accepted and not discarded.enrolled
    assert told == [["h(MRN8)", "h(MRN9)"]]


def test_a_resend_for_the_directory_is_counted_by_reason_not_as_a_rejection() -> None:
    registry = CollectorRegistry()
    metrics = LabIngestionMetrics(registry)
    outcome = IngestOutcome(
        accepted=False, transient=True, reason=CATCHING_UP_TEXT,
        resend_reason=ResendReason.DIRECTORY_CATCHING_UP,
    )  # fmt: skip
    count_outcome(metrics, "mllp", "LIS^HOSP", outcome)
    value = registry.get_sample_value
    asked = {"channel": "mllp", "reason": "subject-directory-catching-up"}
    assert value("lab_messages_resend_asked_total", asked) == 1
    assert value("lab_messages_received_total", {"channel": "mllp", "source": "LIS^HOSP"}) == 1
    assert value("lab_messages_rejected_total", {**asked, "source": "LIS^HOSP"}) is None
    assert value("lab_unmatched_patient_total", {"channel": "mllp", "source": "LIS^HOSP"}) is None
