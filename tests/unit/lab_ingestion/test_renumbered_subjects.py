"""A correction or cancellation under a number that names no enrolled subject now, of a
result stored as a subject's (their enrolment corrected to another hospital number since),
is refused and kept, never discarded unseen (review 185: S-100's published CRP 40 stood
uncorrected and uncancelled while the lab's C and X under the old number were answered
"not enrolled, discarded"). A new result of nobody's is still discarded, without a read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput, RejectionCode
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.domain.renumbered_subjects import (
    acts_on_stored_results,
    of_a_subject_renumbered,
)
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from shared.contracts.events.lab import Channel
from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, FakeUnitOfWork, ingestor

CRP = (Coding("1988-5", "http://loinc.org"),)
OTHER_TEST = (Coding("2345-7", "http://loinc.org"),)  # glucose: no trial analyte
AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
ARRIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HEADS = {("LIS^HOSP", "K1"): EarlierResult(uuid.uuid4(), "S-1", "crp", AT)}


def sent(*results: tuple[str, str]) -> LabMessage:
    """A message of CRP results (key, status)."""
    observations = tuple(
        ObservationInput(key, CRP, "12", ("mg/L",), status=status, collected_at=AT)
        for key, status in results
    )
    return LabMessage(Channel.MLLP, "LIS", "HOSP", "C-1", "MRN1", observations)


@pytest.mark.parametrize("status", ["C", "X", "D", "W"])
def test_a_correction_or_cancellation_of_a_stored_result_is_refused(status: str) -> None:
    message = sent(("K1", status))
    assert acts_on_stored_results(message)
    refused = of_a_subject_renumbered(message, HEADS)
    assert refused is not None and refused.code is RejectionCode.OTHER_PATIENTS_RESULT
    assert refused.reason.startswith("send this correction or cancellation under the patient's")


@pytest.mark.parametrize(
    "message",
    [
        sent(("K2", "C")),  # corrects nothing stored: nobody's
        sent(("K1", "F")),  # a new result (a final restating one is no correction)
        sent(("K1", "P")),
    ],
)
def test_what_acts_on_no_stored_result_is_nobodys(message: LabMessage) -> None:
    assert of_a_subject_renumbered(message, HEADS) is None


def test_a_new_result_is_never_looked_at_and_another_test_never_counts() -> None:
    assert not acts_on_stored_results(sent(("K1", "F"), ("K2", "P")))
    glucose = LabMessage(
        Channel.MLLP, "LIS", "HOSP", "C-1", "MRN1",
        (ObservationInput("K1", OTHER_TEST, "5", ("mmol/L",), status="C", collected_at=AT),),
    )  # fmt: skip
    assert not acts_on_stored_results(glucose)
    assert of_a_subject_renumbered(glucose, HEADS) is None


def test_another_senders_key_is_not_the_stored_result() -> None:
    message = LabMessage(
        Channel.MLLP, "LIS2", "HOSP", "C-1", "MRN1", sent(("K1", "C")).observations
    )
    assert of_a_subject_renumbered(message, HEADS) is None


def oru(
    control_id: str, number: str, order: str, status: str, value: str = "40"
) -> IngestLabMessage:
    segments = [
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{control_id}|P|2.5.1",
        f"PID|1||{number}^^^HOSP^MR",
        f"OBR|1||{order}|1988-5^CRP^LN",
        f"OBX|1|NM|1988-5^CRP^LN||{value}|mg/L|||||{status}|||20261120081500+0100",
    ]
    parsed, _ = parse_oru("\r".join(segments), identify=lambda n: f"h({n})")
    return IngestLabMessage(parsed, lambda: "", ARRIVED)


async def test_after_an_enrolment_correction_the_old_numbers_corrections_are_kept() -> None:
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    ingest = ingestor(db)
    (stored,) = await ingest([oru("M1", "MRN4711", "ORD-A", "F")])
    assert stored.results == 1
    db.enrolled = {"h(MRN4712)": "S-1"}  # the hospital number corrected
    (corrected,) = await ingest([oru("M2", "MRN4711", "ORD-A", "C", "95")])
    (cancelled,) = await ingest([oru("M3", "MRN4711", "ORD-A", "X", "")])
    assert corrected.code is cancelled.code is RejectionCode.OTHER_PATIENTS_RESULT
    assert [(r.subject_id, r.status, r.result.value) for r in db.results] == [("S-1", "F", 40.0)]
    assert not db.cancelled
    assert [topic for topic, _ in db.events] == [LAB_RESULTS, LAB_REJECTED, LAB_REJECTED]
    # a new result of the old number is nobody's: discarded, as before, without a read
    lookups = db.lookups
    (new,) = await ingest([oru("M4", "MRN4711", "ORD-B", "F")])
    assert new.enrolled is False and db.lookups == lookups
    # sent under the subject's current number, the correction is applied
    (under_current,) = await ingest([oru("M5", "MRN4712", "ORD-A", "C", "95")])
    assert under_current.results == 1
    assert [(r.subject_id, r.status, r.result.value) for r in db.results][-1] == ("S-1", "C", 95.0)


async def test_until_the_directory_caught_up_nobodys_correction_is_answered_resend() -> None:
    """Review 190: at start-up, before the subject directory holds what was enrolled, the
    subject's current number names nobody yet: its correction was refused as sent under a
    number no enrolment names (telling the lab to use the number it had used). Until the
    directory caught up it is answered "resend", nothing kept, as any nobody's message is."""
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    (stored,) = await ingestor(db)([oru("M1", "MRN4711", "ORD-A", "F")])
    assert stored.results == 1
    db.enrolled = {}  # the directory has not read the corrected enrolment yet
    starting = BatchIngestor(
        lambda: FakeUnitOfWork(db), lambda number: f"h({number})",
        directory_caught_up=lambda: False,
    )  # fmt: skip
    (answer,) = await starting([oru("M2", "MRN4712", "ORD-A", "C", "95")])
    assert answer.transient and not answer.accepted, answer
    assert [topic for topic, _ in db.events] == [LAB_RESULTS]
