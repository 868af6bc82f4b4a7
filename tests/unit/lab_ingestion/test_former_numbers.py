"""A final or preliminary result under a subject's former hospital number (their enrolment
corrected since), of an order or sample holding a stored subject's result, is refused and
kept, never discarded (task 195: the lab's final of a stored preliminary was discarded as
not enrolled, and lost). Only a former number is read further: every other patient's
message is discarded without a read, as before."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.copies_elsewhere import StoredElsewhere
from services.lab_ingestion.domain.fhir_cancellations import StandingResult
from services.lab_ingestion.domain.former_numbers import former_at_site, of_a_former_number
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput, RejectionCode
from services.lab_ingestion.domain.records import EarlierResult, EnrolledSubject
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from services.lab_ingestion.service_layer.former_numbers import keeping_former_numbers
from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events.lab import Channel
from shared.contracts.events.trial import SubjectEnrolled, SubjectWithdrawn
from shared.contracts.topics import LAB_REJECTED
from tests.factories import subject_enrolled
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

CRP = (Coding("1988-5", "http://loinc.org"),)
AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
ARRIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HEADS = {("LIS^HOSP", "K1"): EarlierResult(uuid.uuid4(), "S-1", "crp", AT)}
S1 = frozenset({"S-1"})


def sent(*results: tuple[str, str], source: str = "LIS") -> LabMessage:
    """A message of CRP results (key, status)."""
    observations = tuple(
        ObservationInput(key, CRP, "12", ("mg/L",), status=status, collected_at=AT)
        for key, status in results
    )
    return LabMessage(Channel.MLLP, source, "HOSP", "C-1", "MRN1", observations)


@pytest.mark.parametrize("status", ["F", "P", "C", "X"])
def test_a_result_of_a_key_holding_a_stored_result_is_refused(status: str) -> None:
    refused = of_a_former_number(sent(("K2", "F"), ("K1", status)), S1, HEADS, StoredElsewhere())
    assert refused is not None and refused.code is RejectionCode.OTHER_PATIENTS_RESULT
    assert refused.reason.startswith("send this result under the patient's current hospital")


def test_a_new_order_or_no_former_subject_is_nobodys() -> None:
    assert of_a_former_number(sent(("K2", "F")), S1, HEADS, StoredElsewhere()) is None
    assert of_a_former_number(sent(("K1", "F")), frozenset(), HEADS, StoredElsewhere()) is None
    other_sender = sent(("K1", "F"), source="LIS2")
    assert of_a_former_number(other_sender, S1, HEADS, StoredElsewhere()) is None


def test_a_result_of_the_former_subjects_sample_is_refused() -> None:
    """Another key of the sample (another sender, or another sub-id of the order) that
    shares the order number with the subject's standing result, collected with it."""
    standing = StandingResult("LIS2^HOSP", "#other", "crp", frozenset({"#ord"}), "P", AT)
    samples = StoredElsewhere(
        {"S-1": [standing]}, {("LIS^HOSP", "K2"): (frozenset({"#k2"}), frozenset({"#ord"}))}
    )
    assert of_a_former_number(sent(("K2", "F")), S1, {}, samples) is not None
    assert of_a_former_number(sent(("K2", "F")), frozenset({"S-2"}), {}, samples) is None
    later = StandingResult("LIS2^HOSP", "#other", "crp", frozenset({"#ord"}), "F",
                           datetime(2026, 11, 21, tzinfo=UTC))  # fmt: skip
    another_draw = StoredElsewhere({"S-1": [later]}, samples.keys)
    assert of_a_former_number(sent(("K2", "F")), S1, {}, another_draw) is None


def test_only_the_senders_sites_former_subjects_count() -> None:
    former = [EnrolledSubject("S-1", "CH-01"), EnrolledSubject("S-2", "CH-02")]
    assert former_at_site(former, "CH-02") == {"S-2"}
    assert former_at_site(former, None) == {"S-1", "S-2"}


def oru(
    control_id: str, number: str, order: str, status: str, value: str = "40", sub_id: str = ""
) -> IngestLabMessage:
    segments = [
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{control_id}|P|2.5.1",
        f"PID|1||{number}^^^HOSP^MR",
        f"OBR|1||{order}|1988-5^CRP^LN",
        f"OBX|1|NM|1988-5^CRP^LN|{sub_id}|{value}|mg/L|||||{status}|||20261120081500+0100",
    ]
    parsed, _ = parse_oru("\r".join(segments), identify=lambda n: f"h({n})")
    return IngestLabMessage(parsed, lambda: "", ARRIVED)


async def test_the_final_of_a_stored_preliminary_under_the_former_number_is_kept() -> None:
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    ingest = ingestor(db)
    (stored,) = await ingest([oru("M1", "MRN4711", "ORD-A", "P")])
    assert stored.results == 1
    db.enrolled = {"h(MRN4712)": "S-1"}  # the enrolment corrected; its number kept as former
    db.former = {"h(MRN4711)": "S-1"}
    (final,) = await ingest([oru("M2", "MRN4711", "ORD-A", "F", "45")])
    (preliminary,) = await ingest([oru("M3", "MRN4711", "ORD-A", "P", "42")])
    (sample,) = await ingest([oru("M4", "MRN4711", "ORD-A", "F", "41", sub_id="2")])
    refused = {final.code, preliminary.code, sample.code}
    assert refused == {RejectionCode.OTHER_PATIENTS_RESULT}
    assert [(r.subject_id, r.status, r.result.value) for r in db.results] == [("S-1", "P", 40.0)]
    assert [topic for topic, _ in db.events] == [LAB_REJECTED] * 3
    (new,) = await ingest([oru("M5", "MRN4711", "ORD-B", "F")])
    assert new.accepted and new.enrolled is False  # a new order: nobody's, discarded
    (current,) = await ingest([oru("M6", "MRN4712", "ORD-A", "F", "45")])
    assert current.results == 1


async def test_only_a_former_number_is_read_further() -> None:
    """Nobody's number is discarded on the fast path, without a read; a former one's batch
    is refused by the write (or, remembered, not tried fast) and read."""
    db = FakeDatabase(enrolled={"h(MRN4712)": "S-1"}, former={"h(MRN4711)": "S-1"})
    ingest = ingestor(db)
    (nobodys,) = await ingest([oru("M1", "MRN9999", "ORD-A", "F")])
    assert nobodys.enrolled is False and db.lookups == 0 and db.refused == 0
    (former,) = await ingest([oru("M2", "MRN4711", "ORD-A", "F")])
    assert former.enrolled is False  # nothing stored under its order: nobody's
    assert db.refused == 1 and db.lookups == 1
    await ingest([oru("M3", "MRN4711", "ORD-C", "F")])
    assert db.refused == 1 and db.lookups == 2  # remembered: read at once


async def test_the_number_before_a_correction_is_kept_before_the_enrolment_applies() -> None:
    """The directory's handler keeps the subject's number (``keep``) before the enrolment
    replaces it (``handler``), in the same unit of work; a withdrawal keeps nothing."""
    calls: list[tuple[str, ...]] = []

    async def keep(uow: object, subject_id: str, hmac: str) -> None:
        calls.append(("keep", subject_id, hmac))

    async def handler(uow: object, envelope: Envelope, payload: EventPayload) -> None:
        calls.append(("apply", envelope.subject_id or ""))

    read = keeping_former_numbers(handler, keep)
    enrolment = subject_enrolled("S-1")
    await read(object(), enrolment, SubjectEnrolled.model_validate(enrolment.payload))
    hmac = enrolment.payload["hospital_id_hmac"]
    assert calls == [("keep", "S-1", hmac), ("apply", "S-1")]
    withdrawn = SubjectWithdrawn(withdrawn_at=AT, reason="consent withdrawn")
    withdrawal = make_envelope(withdrawn, producer="dose-decision", subject_id="S-1")
    await read(object(), withdrawal, withdrawn)
    assert calls[2:] == [("apply", "S-1")]
