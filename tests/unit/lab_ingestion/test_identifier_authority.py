"""A message naming its patient by numbers of several assigning authorities, in a batch: the
sender's authority chooses; without it the message is never matched by a guess (discarded
when none of its numbers names a subject it may be about, enrolled or withdrawn, else
rejected and kept)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import IdentifierCandidate, RejectionCode
from services.lab_ingestion.domain.patient_identity import default_identifier
from services.lab_ingestion.domain.records import EnrolledSubject, WithdrawnSubject
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestTransaction
from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from tests.unit.lab_ingestion.test_batch_ingestor import AT, FakeDatabase, ingestor, message

REGIONAL, HOSPITAL = ("R-77", "REGION"), ("MRN1", "HOSP")


def naming(control_id: str, *pairs: tuple[str, ...], key: str = "") -> IngestLabMessage:
    """Message ``control_id`` with PID-3's numbers ``pairs`` (value, authority[, type: MR by
    default]), as parsed."""
    command = message(control_id, key=key)
    candidates = tuple(IdentifierCandidate(p[0], p[1], p[2] if len(p) > 2 else "MR") for p in pairs)
    observations = tuple(
        dataclasses.replace(o, unscoped_key=o.result_key if o.result_key[0] == "@" else None)
        for o in command.message.observations
    )
    lab = dataclasses.replace(
        command.message,
        patient_identifier=default_identifier(candidates),
        identifier_candidates=candidates,
        observations=observations,
    )
    return dataclasses.replace(command, message=lab)


def topics(db: FakeDatabase) -> list[str]:
    return [topic for topic, _ in db.events]


async def test_numbers_of_several_authorities_of_an_enrolled_patient_are_rejected() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    (outcome,) = await ingestor(db)([naming("1", REGIONAL, HOSPITAL)])
    assert outcome.code is RejectionCode.AMBIGUOUS_IDENTIFIER
    assert "2 assigning authorities" in outcome.reason
    assert "REGION" not in outcome.reason and "HOSP" not in outcome.reason  # CX-4: free text
    assert db.results == [] and topics(db) == [LAB_REJECTED]


async def test_numbers_of_several_authorities_of_nobody_enrolled_are_discarded() -> None:
    db = FakeDatabase(enrolled={"h(MRN2)": "S-2"})
    (outcome,) = await ingestor(db)([naming("1", REGIONAL, HOSPITAL)])
    assert outcome.accepted and not outcome.enrolled
    assert db.results == [] and db.events == [] and db.messages == {}


async def test_a_number_enrolled_since_the_last_read_is_not_discarded() -> None:
    """The fast path assumed every number of the message not enrolled: the write refuses
    once one is, and the message is rejected, not discarded."""
    db = FakeDatabase()
    ingest = ingestor(db)
    (first,) = await ingest([naming("1", REGIONAL, HOSPITAL)])
    db.enrolled["h(R-77)"] = "S-9"
    (second,) = await ingest([naming("2", REGIONAL, HOSPITAL)])
    assert not first.enrolled
    assert second.code is RejectionCode.AMBIGUOUS_IDENTIFIER


async def test_the_senders_authority_chooses_the_number() -> None:
    """R-77 is the regional number of the patient, and another person's hospital number
    enrolled as S-9: the sender's authority (HOSP) names the subject, S-1."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(R-77)": "S-9"}, identifier_authority="hosp")
    untracked = "@202611200715|1988-5|"
    (outcome,) = await ingestor(db)([naming("1", REGIONAL, HOSPITAL, key=untracked)])
    assert outcome.accepted and outcome.results == 1
    assert [r.subject_id for r in db.results] == ["S-1"]
    # the key without an order number is the patient's, as the parser scopes it
    assert db.results[0].result_key == f"{untracked}|{'h(MRN1)'[:16]}"
    assert topics(db) == [LAB_RESULTS]


async def test_the_senders_authority_chooses_its_number_whatever_its_type() -> None:
    """The hospital types its own number PI beside a regional MR: its authority finds it."""
    db = FakeDatabase(enrolled={"h(8150)": "S-1", "h(4711)": "S-9"}, identifier_authority="HOSP")
    (outcome,) = await ingestor(db)([naming("1", ("4711", "REGION"), ("8150", "HOSP", "PI"))])
    assert outcome.results == 1 and [r.subject_id for r in db.results] == ["S-1"]


async def test_a_number_of_another_authority_is_never_matched() -> None:
    db = FakeDatabase(enrolled={"h(R-77)": "S-9"}, identifier_authority="HOSP")
    (enrolled,) = await ingestor(db)([naming("1", REGIONAL)])
    assert enrolled.code is RejectionCode.MISSING_PATIENT
    assert "'HOSP'" in enrolled.reason and "R-77" not in enrolled.reason
    (nobody,) = await ingestor(FakeDatabase(identifier_authority="HOSP"))([naming("2", REGIONAL)])
    assert nobody.accepted and not nobody.enrolled


async def test_a_number_without_authority_is_the_senders() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"}, identifier_authority="HOSP")
    (outcome,) = await ingestor(db)([naming("1", ("MRN1", "", ""))])
    assert outcome.results == 1 and db.results[0].subject_id == "S-1"


async def test_an_unresolved_message_rejects_its_transaction() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    good, unresolved = message("1").message, naming("2", REGIONAL, HOSPITAL).message
    transaction = IngestTransaction((good, unresolved), lambda: "", AT)
    (outcome,) = await ingestor(db)([transaction])
    assert outcome.code is RejectionCode.AMBIGUOUS_IDENTIFIER
    assert db.results == []


async def test_the_senders_authority_chooses_in_a_transaction_too() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(R-77)": "S-9"}, identifier_authority="HOSP")
    chosen = naming("2", REGIONAL, HOSPITAL).message
    (outcome,) = await ingestor(db)([IngestTransaction((chosen,), lambda: "", AT)])
    assert outcome.accepted and [r.subject_id for r in db.results] == ["S-1"]


def oru(pid3: str) -> IngestLabMessage:
    """An ORU^R01 from LIS^HOSP with PID-3 ``pid3``, parsed as the service parses it."""
    text = "\r".join([
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|M-1|P|2.5.1",
        f"PID|1||{pid3}",
        "OBR|1||ORD1|CRP|||20261120081500+0100",
        "OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F",
    ])  # fmt: skip
    parsed, _ = parse_oru(text, identify=lambda number: f"h({number})")
    return IngestLabMessage(parsed, lambda: "", AT)


async def test_the_authority_finds_its_untyped_number_beside_another_authoritys_mr() -> None:
    db = FakeDatabase(enrolled={"h(8150)": "S-1", "h(4711)": "S-9"}, identifier_authority="HOSP")
    (outcome,) = await ingestor(db)([oru("4711^^^REGION^MR~8150^^^HOSP")])
    assert outcome.results == 1 and [r.subject_id for r in db.results] == ["S-1"]
    unconfigured = FakeDatabase(enrolled={"h(8150)": "S-1", "h(4711)": "S-9"})
    (ambiguous,) = await ingestor(unconfigured)([oru("4711^^^REGION^MR~8150^^^HOSP")])
    assert ambiguous.code is RejectionCode.AMBIGUOUS_IDENTIFIER


@pytest.mark.parametrize(
    "pid3", ["^^^HOSP^MR~99887766^^^LAB^PI", '""^^^^MR~99887766^^^^PI', "^^^^MR~99887766"]
)
@pytest.mark.parametrize("authority", [None, "HOSP"])
async def test_an_empty_medical_record_number_is_never_discarded_unseen(
    pid3: str, authority: str | None
) -> None:
    """Nobody is enrolled under the other number, but the empty MR may be a subject's."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"}, identifier_authority=authority)
    (outcome,) = await ingestor(db)([oru(pid3)])
    assert not outcome.accepted
    assert outcome.code in {RejectionCode.MISSING_PATIENT, RejectionCode.AMBIGUOUS_IDENTIFIER}
    assert topics(db) == [LAB_REJECTED]


@pytest.mark.parametrize(
    ("pid3", "code"),
    [
        ('99887766^^^HOSP^PI~""^^^^MR', RejectionCode.MISSING_PATIENT),
        ("^^^^MR~99887766^^^HOSP", RejectionCode.MISSING_PATIENT),
        ("99887766^^^HOSP^PI~123^^^^MR", RejectionCode.AMBIGUOUS_IDENTIFIER),
    ],
)
@pytest.mark.parametrize("enrolled", [{"h(123)": "S-2"}, {"h(99887766)": "S-1"}])
async def test_an_mr_naming_no_authority_may_be_the_senders(
    pid3: str, code: RejectionCode, enrolled: dict[str, str]
) -> None:
    """Its number empty, or another than the authority's: never the authority's number
    matched in its place, never discarded."""
    db = FakeDatabase(enrolled=dict(enrolled), identifier_authority="HOSP")
    (outcome,) = await ingestor(db)([oru(pid3)])
    assert outcome.code is code and db.results == []


@pytest.mark.parametrize(
    ("pid3", "authority", "subject", "code"),
    [
        # a local type code (EPI) or an explicit null type: a patient number, never dropped
        ("123456^^^HOSP^EPI~654321", None, None, RejectionCode.AMBIGUOUS_IDENTIFIER),
        ('123456^^^HOSP^""~654321', None, None, RejectionCode.AMBIGUOUS_IDENTIFIER),
        ("123456^^^HOSP^EPI~654321", "HOSP", "S-1", None),
        ("123456^^^HOSP^EPI~L-555^^^LAB^PI", "HOSP", "S-1", None),
        ("123456^^^HOSP^EPI", None, "S-1", None),
        ('123456^^^HOSP^""', None, "S-1", None),
        # the hospital's MR naming no authority beside the lab's qualified number
        ("123456^^^^MR~L-555^^^LAB^PI", "HOSP", "S-1", None),
        ("123456^^^^MR~L-555^^^LAB^PI", "LAB", None, RejectionCode.AMBIGUOUS_IDENTIFIER),
        # a national or account number is never the patient's
        ("654321^^^NHS^NH~123456^^^HOSP^PI", None, "S-1", None),
        ("654321^^^CH^NNCHE~123456^^^HOSP^PI", None, "S-1", None),
        # local spellings of account, financial, national numbers: never the patient's
        ("654321^^^HOSP^ACCT~123456^^^HOSP^PI", None, "S-1", None),
        ("654321^^^HOSP^ACCT~123456^^^HOSP^PI", "HOSP", "S-1", None),
        ("654321^^^HOSP^FIN~123456^^^HOSP^MR", None, "S-1", None),
        ("654321^^^SSA^SSN~123456^^^HOSP^MR", None, "S-1", None),
        ("654321^^^NHS^NHS~123456^^^HOSP^MR", None, "S-1", None),
        ("654321^^^HOSP^CSN~123456^^^HOSP^MRN", "HOSP", "S-1", None),
        ("654321^^^HOSP^FIN NBR~123456^^^HOSP^PI", None, "S-1", None),
        # a table 0203 code with a local suffix is still that type: never the patient's
        ("654321^^^HOSP^VN NBR~123456^^^HOSP^PI", None, "S-1", None),
        ("654321^^^HOSP^AN#~123456^^^HOSP^PI", "HOSP", "S-1", None),
        ("654321^^^^VN#", None, None, RejectionCode.MISSING_PATIENT),
        # ... or run on (FINNBR, VISITNO, ACCTID); MR# is a medical record number
        ("654321^^^^FINNBR", None, None, RejectionCode.MISSING_PATIENT),
        ("654321^^^^VISITNO", None, None, RejectionCode.MISSING_PATIENT),
        ("654321^^^HOSP^ACCTID~123456^^^HOSP^PI", None, "S-1", None),
        ("123456^^^HOSP^MR#~654321^^^HOSP^PI", None, "S-1", None),
        ("123456^^^HOSP^MR NBR~654321^^^HOSP^PI", "HOSP", "S-1", None),
        ("654321^^^HOSP^AN#", "HOSP", None, RejectionCode.MISSING_PATIENT),
        ("654321^^^HOSP^SSN#~123456^^^HOSP^PI", "HOSP", "S-1", None),
        ("654321^^^HOSP^AHV~123456^^^HOSP^PI", None, "S-1", None),
        # an unknown local code is untyped: beside another number of its authority other
        # than an MR, which is the patient's cannot be told (never the typed one first);
        # beside an MR of no other authority it is not considered
        ("654321^^^HOSP^XYZ~123456^^^HOSP^PI", None, None, RejectionCode.AMBIGUOUS_IDENTIFIER),
        ("654321^^^HOSP^XYZ~123456^^^HOSP^PI", "HOSP", None, RejectionCode.AMBIGUOUS_IDENTIFIER),
        ("123456^^^HOSP^PNT", "HOSP", "S-1", None),  # a temporary living subject number
        ("654321^^^HOSP^XYZ~123456^^^HOSP^MR", None, "S-1", None),
        ("654321^^^^XYZ~123456^^^^MR", None, "S-1", None),
    ],
)
async def test_numbers_of_local_types_and_unqualified_mrs(
    pid3: str, authority: str | None, subject: str | None, code: RejectionCode | None
) -> None:
    db = FakeDatabase(
        enrolled={"h(123456)": "S-1", "h(654321)": "S-2"}, identifier_authority=authority
    )
    (outcome,) = await ingestor(db)([oru(pid3)])
    assert outcome.code is code
    assert [r.subject_id for r in db.results] == ([subject] if subject else [])


@pytest.mark.parametrize(
    "pid3",
    ["HOSPNUM^^^^PT~LABNUM^^^^PI", "LABNUM^^^^PI~HOSPNUM^^^^PT", "HOSPNUM^^^^MRT~LABNUM^^^^PE"],
)
@pytest.mark.parametrize("authority", [None, "HOSP"])
async def test_two_numbers_of_one_authority_without_an_mr_are_never_matched_by_type(
    pid3: str, authority: str | None
) -> None:
    """The hospital's PT beside the laboratory's PI (neither naming an authority): neither
    type ranks first, so neither is matched; rejected when one is enrolled, whichever."""
    for enrolled in ({"h(HOSPNUM)": "S-1"}, {"h(LABNUM)": "S-2"}):
        db = FakeDatabase(enrolled=dict(enrolled), identifier_authority=authority)
        (outcome,) = await ingestor(db)([oru(pid3)])
        assert outcome.code is RejectionCode.AMBIGUOUS_IDENTIFIER
        assert db.results == [] and topics(db) == [LAB_REJECTED]
    db = FakeDatabase(enrolled={"h(OTHER)": "S-3"}, identifier_authority=authority)
    (outcome,) = await ingestor(db)([oru(pid3)])
    assert outcome.accepted and not outcome.enrolled and topics(db) == []


@pytest.mark.parametrize("authority", [None, "HOSP"])
async def test_an_empty_number_beside_another_of_its_authority_is_missing(
    authority: str | None,
) -> None:
    """An empty PI beside an untyped number of its authority: the patient's number may be
    the missing one; never discarded, never matched by the other."""
    db = FakeDatabase(enrolled={"h(OTHER)": "S-3"}, identifier_authority=authority)
    (outcome,) = await ingestor(db)([oru("^^^HOSP^PI~123456^^^HOSP")])
    assert outcome.code is RejectionCode.MISSING_PATIENT and db.results == []


async def test_a_rejection_keeps_its_id_when_the_senders_authority_chose_the_number() -> None:
    """Choosing the number makes a new command: run again after a lost commit answer, it
    must still be the same rejection and event (one row and one event per id)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"}, identifier_authority="hosp")
    command = naming("1", REGIONAL, HOSPITAL)
    command = dataclasses.replace(
        command,
        message=dataclasses.replace(
            command.message,
            observations=tuple(
                dataclasses.replace(o, status="Q") for o in command.message.observations
            ),
        ),
    )
    for _ in range(2):
        (outcome,) = await ingestor(db)([command])
        assert outcome.code is RejectionCode.UNKNOWN_STATUS
    first, second = (envelope for topic, envelope in db.events)
    assert first.event_id == second.event_id
    assert first.payload["rejection_id"] == str(command.rejection_id)


@pytest.mark.parametrize(
    ("withdrawn_at", "kept"),
    [
        (AT + timedelta(days=5), True),  # collected before: the withdrawn subject's, late
        (AT - timedelta(days=5), False),  # collected after: nobody's
    ],
)
@pytest.mark.parametrize("pid3", ["MRN1^^^HOSP^MR~L-55^^^LAB^PI", "L-55^^^LAB^PI~MRN1^^^HOSP^MR"])
async def test_numbers_of_several_authorities_of_a_withdrawn_subject_are_never_lost_unseen(
    withdrawn_at: datetime, kept: bool, pid3: str
) -> None:
    """S-1 (MRN1) withdrawn, the sender without an authority: a sample collected before the
    withdrawal may be S-1's, so the message is rejected as for an enrolled subject; one
    collected after it is nobody's, discarded like any stranger's."""
    withdrawn = WithdrawnSubject(EnrolledSubject("S-1", "CH-01"), withdrawn_at)
    db = FakeDatabase(withdrawn={"h(MRN1)": withdrawn})
    (outcome,) = await ingestor(db)([oru(pid3)])
    if kept:
        assert outcome.code is RejectionCode.AMBIGUOUS_IDENTIFIER
        assert topics(db) == [LAB_REJECTED]
    else:
        assert outcome.accepted and not outcome.enrolled and db.events == []
    assert db.results == []


@pytest.mark.parametrize("obx14", ["202611200815", "205211200815+0100"])
async def test_numbers_of_a_withdrawn_subject_with_an_unusable_time_are_rejected(
    obx14: str,
) -> None:
    """A missing (no offset, no zone, MSH-7 without one) or implausible collection time
    tells nothing about the withdrawal: never taken for nobody's."""
    withdrawn = WithdrawnSubject(EnrolledSubject("S-1", "CH-01"), AT - timedelta(days=5))
    db = FakeDatabase(withdrawn={"h(MRN1)": withdrawn})
    text = "\r".join([
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000||ORU^R01|M-1|P|2.5.1",
        "PID|1||MRN1^^^HOSP^MR~L-55^^^LAB^PI",
        "OBR|1||ORD1|CRP",
        f"OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F|||{obx14}",
    ])  # fmt: skip
    parsed, _ = parse_oru(text, identify=lambda number: f"h({number})")
    (outcome,) = await ingestor(db)([IngestLabMessage(parsed, lambda: "", AT)])
    assert outcome.code is RejectionCode.AMBIGUOUS_IDENTIFIER
    assert db.results == [] and topics(db) == [LAB_REJECTED]
