"""An enrolled subject's number written only in PID-4 (PID-3 naming nobody) is refused and
kept, never discarded as not enrolled nor matched (task 195); PID-3 still decides when it
names a subject (review 190), and a PID-4 number naming nobody changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.alternate_ids import alternate_numbers
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.topics import LAB_REJECTED
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

ARRIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def oru(control_id: str, pid: str, version: str = "2.5.1") -> IngestLabMessage:
    segments = [
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{control_id}|P|{version}",
        pid,
        f"OBR|1||ORD-{control_id}|1988-5^CRP^LN",
        "OBX|1|NM|1988-5^CRP^LN||40|mg/L|||||F|||20261120081500+0100",
    ]
    parsed, _ = parse_oru("\r".join(segments), identify=lambda n: f"h({n})")
    return IngestLabMessage(parsed, lambda: "", ARRIVED)


def test_pid4_is_read_apart_and_never_as_the_patients_number() -> None:
    message = oru("M1", "PID|1||LAB555^^^HOSP^MR|MRN4711^^^HOSP^MR~AC99^^^HOSP^AN").message
    assert message.patient_identifier == "LAB555"
    assert [c.value for c in message.identifier_candidates] == ["LAB555"]
    assert [c.value for c in message.alternate_candidates] == ["MRN4711"]  # no account


def test_an_unreadable_pid4_never_makes_the_message_malformed() -> None:
    message = oru("M1", "PID|1||LAB555|MRN\\Q\\4711~MRN4711&5~MRN4712").message
    assert [c.value for c in message.alternate_candidates] == ["MRN4712"]


@pytest.mark.parametrize(
    ("pid", "names", "expected"),
    [
        ("PID|1||LAB555|MRN4711", (), ["MRN4711"]),  # no authority anywhere: the sender's
        ("PID|1||LAB555^^^HOSP|MRN4711^^^HOSP", (), ["MRN4711"]),  # PID-3's authority
        ("PID|1||LAB555^^^HOSP|MRN4711^^^LAB", (), []),  # another authority's number
        ("PID|1||LAB555^^^LAB|MRN4711^^^HOSP", ("HOSP",), ["MRN4711"]),  # the sender's
        ("PID|1||LAB555^^^HOSP|MRN4711^^^LAB", ("HOSP",), []),
        ("PID|1||LAB555^^^HOSP|MRN4711", ("HOSP",), ["MRN4711"]),  # naming none
    ],
)
def test_only_pid4_numbers_of_the_senders_authority_count(
    pid: str, names: tuple[str, ...], expected: list[str]
) -> None:
    assert alternate_numbers(oru("M1", pid).message, names) == expected


async def test_an_enrolled_number_only_in_pid4_is_refused_and_kept() -> None:
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    ingest = ingestor(db)
    (refused,) = await ingest([oru("M1", "PID|1||LAB555^^^HOSP^MR|MRN4711^^^HOSP^MR", "2.3")])
    assert refused.code is RejectionCode.OTHER_PATIENTS_RESULT, refused
    assert "PID-4" in (refused.reason or "")
    assert not db.results and [topic for topic, _ in db.events] == [LAB_REJECTED]
    (nobodys,) = await ingest([oru("M2", "PID|1||LAB555|L997")])
    assert nobodys.accepted and nobodys.enrolled is False
    (decided,) = await ingest([oru("M3", "PID|1||MRN4711|L997")])
    assert decided.results == 1 and [r.subject_id for r in db.results] == ["S-1"]
    (other_site,) = await ingest([oru("M4", "PID|1||LAB555^^^HOSP^MR|MRN4711^^^LAB^MR")])
    assert other_site.accepted and other_site.enrolled is False  # another authority's


async def test_a_pid4_naming_nobody_is_discarded_without_a_read() -> None:
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    (outcome,) = await ingestor(db)([oru("M1", "PID|1||LAB555|L997")])
    assert outcome.enrolled is False and db.lookups == 0 and db.refused == 0


async def test_an_unresolved_pid3_naming_nobody_with_an_enrolled_pid4_is_refused() -> None:
    """PID-3's numbers of two authorities, none configured (unresolved), neither enrolled:
    the enrolled PID-4 number refuses the message too."""
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    pid = "PID|1||LAB555^^^LAB^PI~X1^^^HOSP^PI|MRN4711^^^HOSP^MR"
    (refused,) = await ingestor(db)([oru("M1", pid)])
    assert refused.code is RejectionCode.OTHER_PATIENTS_RESULT, refused
