"""Review 201 (fixer 203): a former number another site enrolled since, a withdrawn
subject's number repeated in PID-4, and an enrolled subject's former number in PID-4.

- Another site's enrolment under the sender's site's former number hides nothing: a result
  of the former subject's sample under it is refused and kept (it was discarded: the
  careful read skipped a number anyone was enrolled under, and the fast path's write
  checked only numbers it took for nobody's anywhere).
- PID-4 is looked at only when PID-3 names nobody at all at the sender's site (no enrolled,
  no withdrawn subject, no former number); a withdrawn subject's number in PID-4 refuses a
  sample collected by the withdrawal only.
- PID-4's numbers never send a batch to be read for a former number: the fast path stays.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.alternate_ids import names_a_subject
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.domain.records import EnrolledSubject, WithdrawnSubject
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from tests.unit.lab_ingestion.test_batch_ingestor import SITE, FakeDatabase, ingestor

ARRIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WITHDRAWN = WithdrawnSubject(EnrolledSubject("S-1", SITE), datetime(2026, 11, 19, tzinfo=UTC))
BEFORE = "20261118081500+0100"  # collected before the withdrawal
AFTER = "20261120081500+0100"


def oru(
    control_id: str, pid: str, order: str, sub_id: str = "", at: str = AFTER
) -> IngestLabMessage:
    segments = [
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{control_id}|P|2.5.1",
        pid,
        f"OBR|1||{order}|1988-5^CRP^LN",
        f"OBX|1|NM|1988-5^CRP^LN|{sub_id}|40|mg/L|||||F|||{at}",
    ]
    parsed, _ = parse_oru("\r".join(segments), identify=lambda n: f"h({n})")
    return IngestLabMessage(parsed, lambda: "", ARRIVED)


OLD = "PID|1||MRN4711^^^HOSP^MR"
NEW = "PID|1||MRN4712^^^HOSP^MR"


async def test_another_sites_enrolment_of_the_former_number_hides_nothing() -> None:
    """S-1 (CH-01) stored ORD-A under MRN4711, then corrected to MRN4712; S-3 of CH-02
    enrolled under MRN4711. Another key of the sample under MRN4711 is refused."""
    other_site = [("h(MRN4711)", EnrolledSubject("S-3", "CH-02"))]
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"}, more_enrolled=other_site, sender_site="CH-01")
    ingest = ingestor(db)
    (stored,) = await ingest([oru("M1", OLD, "ORD-A")])
    assert stored.results == 1
    db.enrolled, db.former = {"h(MRN4712)": "S-1"}, {"h(MRN4711)": "S-1"}
    (sample,) = await ingest([oru("M2", OLD, "ORD-A", sub_id="2")])
    assert sample.code is RejectionCode.OTHER_PATIENTS_RESULT, sample
    (new,) = await ingest([oru("M3", OLD, "ORD-B")])
    assert new.accepted and new.enrolled is False  # a new order: nobody's at CH-01


async def test_the_fast_paths_write_refuses_discarding_a_former_number() -> None:
    """Instance B remembers MRN4711 as CH-02's S-3 (read before S-1's correction made it a
    former number): its fast path took S-1's sample for nobody's at CH-01 and discarded
    it, the write checking only numbers taken for nobody's anywhere. The write now checks
    every number whose message the batch discarded: refused, read, refused and kept."""
    other_site = [("h(MRN4711)", EnrolledSubject("S-3", "CH-02"))]
    db = FakeDatabase(more_enrolled=other_site, sender_site="CH-01")
    instance_b = ingestor(db)
    (nobodys,) = await instance_b([oru("M0", OLD, "ORD-X")])
    assert nobodys.enrolled is False
    db.enrolled = {"h(MRN4711)": "S-1"}
    (stored,) = await ingestor(db)([oru("M1", OLD, "ORD-A")])  # instance A
    assert stored.results == 1
    db.enrolled, db.former = {"h(MRN4712)": "S-1"}, {"h(MRN4711)": "S-1"}
    refused = db.refused
    (sample,) = await instance_b([oru("M2", OLD, "ORD-A", sub_id="2")])
    assert sample.code is RejectionCode.OTHER_PATIENTS_RESULT, sample
    assert db.refused == refused + 1


async def test_a_withdrawn_subjects_number_repeated_in_pid4_refuses_nothing() -> None:
    db = FakeDatabase(withdrawn={"h(MRN4711)": WITHDRAWN})
    ingest = ingestor(db)
    for control_id, pid in (
        ("M1", OLD),
        ("M2", f"{OLD}|MRN4711^^^HOSP^MR"),
        ("M3", "PID|1||MRN4711|MRN4711"),
        ("M4", "PID|1||LAB555|MRN4711"),  # PID-3 nobody's; collected after the withdrawal
    ):
        (outcome,) = await ingest([oru(control_id, pid, f"ORD-{control_id}")])
        assert outcome.accepted and outcome.enrolled is False, (control_id, outcome)
    (before,) = await ingest([oru("M5", "PID|1||LAB555|MRN4711", "ORD-M5", at=BEFORE)])
    assert before.code is RejectionCode.OTHER_PATIENTS_RESULT, before
    assert "PID-4" in (before.reason or "")
    assert not db.results


async def test_pid4_is_not_looked_at_when_pid3_is_a_former_number() -> None:
    """PID-3 MRN4711 is S-1's former number (nothing of its order stored: nobody's), PID-4
    names enrolled S-2: PID-3 names somebody, so PID-4 refuses nothing."""
    db = FakeDatabase(enrolled={"h(MRN9)": "S-2"}, former={"h(MRN4711)": "S-1"})
    (outcome,) = await ingestor(db)([oru("M1", f"{OLD}|MRN9", "ORD-A")])
    assert outcome.accepted and outcome.enrolled is False, outcome


async def test_a_former_number_in_pid4_keeps_the_fast_path() -> None:
    db = FakeDatabase(enrolled={"h(MRN4712)": "S-1"}, former={"h(MRN4711)": "S-1"})
    ingest = ingestor(db)
    both = f"{NEW}|MRN4711^^^HOSP^MR"
    (warm,) = await ingest([oru("M0", both, "ORD-0")])
    assert warm.results == 1
    reads, refused = db.lookups, db.refused
    outcomes = await ingest([oru(f"M{i}", both, f"ORD-{i}") for i in range(1, 6)])
    assert [o.results for o in outcomes] == [1] * 5
    (nobodys,) = await ingest([oru("M6", "PID|1||LAB555|MRN4711", "ORD-6")])
    assert nobodys.enrolled is False  # PID-4's former number changes nothing
    assert (db.lookups, db.refused) == (reads, refused)


def test_a_withdrawn_subject_in_pid4_counts_for_samples_by_the_withdrawal_only() -> None:
    after = oru("M1", "PID|1||LAB555|MRN4711", "O").message
    before = oru("M2", "PID|1||LAB555|MRN4711", "O", at=BEFORE).message
    assert names_a_subject(after, enrolled=True, withdrawn=())
    assert not names_a_subject(after, enrolled=False, withdrawn=(WITHDRAWN,))
    assert names_a_subject(before, enrolled=False, withdrawn=(WITHDRAWN,))
    assert not names_a_subject(before, enrolled=False, withdrawn=())
