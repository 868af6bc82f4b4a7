"""Task 195 through the real MLLP socket, database and broker: a final or preliminary result
sent under a subject's former hospital number (their enrolment corrected on
trial.subjects.v1 since) for an order or sample holding the subject's result is refused and
kept, never discarded; and an enrolled number written only in PID-4 (PID-3 naming nobody)
is refused and kept, never discarded nor matched. Review 201 (fixer 203): another site's
enrolment under the former number hides nothing; PID-4 is looked at only when PID-3 names
nobody at all (a withdrawn subject's number repeated there refuses nothing); an enrolled
subject's former number in PID-4 keeps the fast path; a final under a key holding only
another patient's preliminary result is refused and kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.service_layer.batch_reading import SOURCES_TTL_SECONDS
from shared.contracts.envelope import Envelope
from shared.contracts.topics import LAB_REJECTED
from tests.factories import subject_enrolled
from tests.integration.test_lab_ingestion import SUBJECT, Lab
from tests.integration.test_lab_numbers_sites_and_reenrolments import hmac_of, publish, withdrawal
from tests.integration.test_lab_real_message_shapes import exchange, j
from tests.integration.test_lab_review185 import TS, correct_the_enrolment, crp, kept, msh

pytestmark = pytest.mark.integration

OLD = "PID|1||MRN4711^^^HOSP^MR"
NEW = "PID|1||MRN4712^^^HOSP^MR"


def crp_sub(order: str, status: str, value: str, sub_id: str) -> list[str]:
    """A CRP of ``order`` under OBX-4 ``sub_id``: another key of the order, one sample."""
    return [f"OBR|1|PLC{order}|{order}|CRP^CRP panel^L|||{TS}",
            f"OBX|1|NM|1988-5^CRP^LN|{sub_id}|{value}|mg/L|0-5|H|||{status}|||{TS}"]  # fmt: skip


async def standing(lab: Lab) -> list[tuple[float, str]]:
    rows = await lab.pool.fetch(
        "SELECT value, status FROM results WHERE cancelled_at IS NULL ORDER BY recorded_at"
    )
    return [(r["value"], r["status"]) for r in rows]


async def test_a_final_under_the_former_number_of_a_stored_preliminary_is_kept(
    lab: Lab, database: str
) -> None:
    """S-100's preliminary CRP 40 (ORD-A) stored under MRN4711; the enrolment corrected to
    MRN4712. The lab's final (45) of ORD-A under MRN4711 was discarded as not enrolled, and
    lost; now it is refused and kept (AE result-of-another-patient, lab.rejected.v1), as is
    a preliminary of the order and a final of another key of the same sample (OBX-4). A
    final of a new order under MRN4711 is still discarded; sent under MRN4712, ORD-A's final
    is stored as S-100's."""
    (first,) = await exchange(lab, j(msh("F-1"), OLD, *crp("ORD-A", "P", "40")))
    assert first[1] == "AA", first
    await correct_the_enrolment(lab, database, "MRN4712")
    acks = await exchange(
        lab,
        j(msh("F-2"), OLD, *crp("ORD-A", "F", "45")),
        j(msh("F-3"), OLD, *crp("ORD-A", "P", "42")),
        j(msh("F-4"), OLD, *crp("ORD-B", "F", "41")),
    )
    assert [a[1] for a in acks] == ["AE", "AE", "AA"], acks
    assert acks[2][3] == "accepted; patient not enrolled, discarded"
    rejections = await kept(lab)
    assert [r["control_id"] for r in rejections] == ["F-2", "F-3"]
    assert {r["reason_code"] for r in rejections} == {"result-of-another-patient"}
    assert "current hospital number" in rejections[0]["reason"]
    assert await standing(lab) == [(40.0, "P")]
    events = await lab.events(LAB_REJECTED, 2)
    assert [e.payload["reason_code"] for e in events] == ["result-of-another-patient"] * 2
    (current,) = await exchange(lab, j(msh("F-5"), NEW, *crp("ORD-A", "F", "45")))
    assert current[1] == "AA", current
    assert await standing(lab) == [(40.0, "P"), (45.0, "F")]


async def test_a_result_of_the_stored_sample_under_the_former_number_is_kept(
    lab: Lab, database: str
) -> None:
    """S-100's final CRP 40 of ORD-A stored under MRN4711, the enrolment corrected: a
    final of the same order and time under another key (OBX-4 sub-id 2) under MRN4711 is
    refused and kept, never discarded."""
    (first,) = await exchange(lab, j(msh("S-1"), OLD, *crp("ORD-A", "F", "40")))
    assert first[1] == "AA", first
    await correct_the_enrolment(lab, database, "MRN4712")
    (ack,) = await exchange(lab, j(msh("S-2"), OLD, *crp_sub("ORD-A", "F", "41", "2")))
    assert ack[1] == "AE", ack
    assert [r["reason_code"] for r in await kept(lab)] == ["result-of-another-patient"]
    assert await standing(lab) == [(40.0, "F")]


async def test_the_former_numbers_are_kept_by_the_directory(lab: Lab, database: str) -> None:
    """The directory remembers a subject's former number (keyed hash) from the correction;
    corrected back, the number is current again and no longer a former one."""
    await correct_the_enrolment(lab, database, "MRN4712")
    rows = await lab.pool.fetch("SELECT subject_id, site_id FROM former_hospital_numbers")
    assert [(r["subject_id"], r["site_id"]) for r in rows] == [("S-100", "CH-01")]
    await correct_the_enrolment(lab, database, "MRN4711")
    rows = await lab.pool.fetch("SELECT subject_id FROM former_hospital_numbers")
    assert [r["subject_id"] for r in rows] == ["S-100"]  # MRN4712 now, not MRN4711
    (ack,) = await exchange(lab, j(msh("B-1"), OLD, *crp("ORD-A", "F", "40")))
    assert ack[1] == "AA" and await standing(lab) == [(40.0, "F")], ack


async def test_an_enrolled_number_only_in_pid4_is_refused_and_kept(lab: Lab) -> None:
    """PID-3 names nobody (the laboratory's own number), PID-4 holds S-100's MRN4711: the
    result was discarded as not enrolled. Now it is refused and kept (AE, a reason naming
    PID-4), never stored as S-100's; a PID-4 number naming nobody changes nothing
    (discarded, nothing kept); PID-3's enrolled number still decides beside PID-4."""
    acks = await exchange(
        lab,
        j(msh("A-1", "2.3"), "PID|1||LAB555^^^HOSP^MR|MRN4711^^^HOSP^MR", *crp("O-1", "F", "9")),
        j(msh("A-2"), "PID|1||LAB555|MRN4711", *crp("O-2", "F", "9")),
        j(msh("A-3"), "PID|1||LAB555|L997", *crp("O-3", "F", "9")),
        j(msh("A-4"), "PID|1||MRN4711|L997", *crp("O-4", "F", "9")),
    )
    assert [a[1] for a in acks] == ["AE", "AE", "AA", "AA"], acks
    assert acks[2][3] == "accepted; patient not enrolled, discarded"
    rejections = await kept(lab)
    assert [r["control_id"] for r in rejections] == ["A-1", "A-2"]
    assert {r["reason_code"] for r in rejections} == {"result-of-another-patient"}
    assert "PID-4" in rejections[0]["reason"]
    assert "MRN4711" not in rejections[0]["payload"]
    assert await standing(lab) == [(9.0, "F")]  # A-4's


async def test_a_pid4_number_of_another_authority_changes_nothing(lab: Lab) -> None:
    """With the sender's authority HOSP configured, an enrolled number in PID-4 under
    another authority (LAB) is not the sender's: the message is discarded as before."""
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "HOSP", identifier_authority="HOSP")
    await asyncio.sleep(SOURCES_TTL_SECONDS + 0.5)  # the allow-list read again
    acks = await exchange(
        lab,
        j(msh("W-1"), "PID|1||LAB555^^^HOSP^MR|MRN4711^^^LAB^MR", *crp("O-1", "F", "9")),
        j(msh("W-2"), "PID|1||LAB555^^^HOSP^MR|MRN4711^^^HOSP^MR", *crp("O-2", "F", "9")),
    )
    assert [a[1] for a in acks] == ["AA", "AE"], acks
    assert [r["control_id"] for r in await kept(lab)] == ["W-2"]


# Review 201 (fixer 203): another site's enrolment under the former number, a withdrawn
# subject's number repeated in PID-4, the fast path with a former number in PID-4, and a
# final under a key holding only another patient's preliminary.


def crp_at(order: str, status: str, value: str, at: str) -> list[str]:
    """A CRP of ``order`` collected at ``at`` (HL7 time)."""
    return [f"OBR|1|PLC{order}|{order}|CRP^CRP panel^L|||{at}",
            f"OBX|1|NM|1988-5^CRP^LN||{value}|mg/L|0-5|H|||{status}|||{at}"]  # fmt: skip


def enrolled_as(lab: Lab, subject_id: str, number: str, site_id: str = "CH-01") -> Envelope:
    event = subject_enrolled(subject_id)
    payload = {**event.payload, "hospital_id_hmac": hmac_of(lab, number), "site_id": site_id}
    return event.model_copy(update={"payload": payload})


async def sender_at(lab: Lab, site_id: str) -> None:
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "HOSP", site_id=site_id)
    await asyncio.sleep(SOURCES_TTL_SECONDS + 0.5)  # the allow-list read again


async def test_another_sites_enrolment_of_the_former_number_hides_nothing(
    lab: Lab, database: str
) -> None:
    """Review 201: S-100's final CRP 40 of ORD-A stored under MRN4711 (sender at CH-01),
    the enrolment corrected to MRN4712, then CH-02 enrols S-300 under MRN4711 (numbers are
    unique only within a hospital). Under MRN4711 a final of the same sample under another
    key (OBX-4 sub-id 2) was discarded as not enrolled: another site's enrolment hid the
    sender's site's former number. It is refused and kept, as the same key's final is."""
    await sender_at(lab, "CH-01")
    (first,) = await exchange(lab, j(msh("O-1"), OLD, *crp("ORD-A", "F", "40")))
    assert first[1] == "AA", first
    await correct_the_enrolment(lab, database, "MRN4712")
    await publish(lab, database, [enrolled_as(lab, "S-300", "MRN4711", "CH-02")])
    acks = await exchange(
        lab,
        j(msh("O-2"), OLD, *crp("ORD-A", "F", "45")),
        j(msh("O-3"), OLD, *crp_sub("ORD-A", "F", "41", "2")),
    )
    assert [a[1] for a in acks] == ["AE", "AE"], acks
    rejections = await kept(lab)
    assert [(r["control_id"], r["reason_code"]) for r in rejections] == [
        ("O-2", "result-of-another-patient"), ("O-3", "result-of-another-patient"),
    ]  # fmt: skip
    assert await standing(lab) == [(40.0, "F")]


async def test_a_withdrawn_subjects_number_repeated_in_pid4_is_no_reason_to_refuse(
    lab: Lab, database: str
) -> None:
    """Review 201: S-100 (MRN4711) withdrawn on 19 November; a sample collected on the 20th
    is no trial result (discarded), and was refused and kept when PID-4 repeated PID-3's
    number ("PID-3's patient number names no trial subject": it names the withdrawn one).
    PID-4 is looked at only when PID-3 names nobody at all; then a withdrawn subject's
    number there refuses a sample collected by the withdrawal only."""
    await publish(lab, database, [withdrawal(SUBJECT, datetime(2026, 11, 19, tzinfo=UTC))])
    before = "20261118081500+0100"
    acks = await exchange(
        lab,
        j(msh("WD-1"), OLD, *crp("O-W1", "F", "9")),
        j(msh("WD-2"), f"{OLD}|MRN4711^^^HOSP^MR", *crp("O-W2", "F", "9")),
        j(msh("WD-3", "2.3"), "PID|1||MRN4711|MRN4711", *crp("O-W3", "F", "9")),
        j(msh("WD-4"), "PID|1||LAB555|MRN4711", *crp("O-W4", "F", "9")),
        j(msh("WD-5"), "PID|1||LAB555|MRN4711", *crp_at("O-W5", "F", "9", before)),
    )
    assert [a[1] for a in acks] == ["AA", "AA", "AA", "AA", "AE"], acks
    assert all(a[3] == "accepted; patient not enrolled, discarded" for a in acks[:4]), acks
    rejections = await kept(lab)
    assert [(r["control_id"], r["reason_code"]) for r in rejections] == [
        ("WD-5", "result-of-another-patient")
    ]
    assert "PID-4" in rejections[0]["reason"]
    assert await standing(lab) == []


async def test_an_enrolled_subjects_former_number_in_pid4_keeps_the_fast_path(
    lab: Lab, database: str
) -> None:
    """Review 201: S-100 corrected from MRN4711 to MRN4712; the lab writes the old number
    in PID-4. Each such message was refused by the fast path's write (its PID-4 number a
    former one) and read and planned again: lab_batches_replanned_total rose by one per
    message. PID-4's numbers never trigger the former-number read when PID-3 names an
    enrolled subject: the counter stays put, and every result is stored as S-100's."""
    (first,) = await exchange(lab, j(msh("P-0"), OLD, *crp("ORD-0", "F", "5")))
    assert first[1] == "AA", first
    await correct_the_enrolment(lab, database, "MRN4712")
    both = f"{NEW}|MRN4711^^^HOSP^MR"
    (warm,) = await exchange(lab, j(msh("P-1"), both, *crp("ORD-1", "F", "5")))
    assert warm[1] == "AA", warm
    before = await lab.metric("lab_batches_replanned_total")
    acks = await exchange(
        lab, *(j(msh(f"P-{i}"), both, *crp(f"ORD-{i}", "F", "5")) for i in range(2, 12))
    )
    assert {a[1] for a in acks} == {"AA"}, acks
    assert await lab.metric("lab_batches_replanned_total") == before
    subjects = await lab.pool.fetch("SELECT DISTINCT subject_id FROM results")
    assert [r["subject_id"] for r in subjects] == [SUBJECT]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 12


async def test_a_final_under_a_key_holding_another_patients_preliminary_is_kept(
    lab: Lab, database: str
) -> None:
    """Review 201: S-100's preliminary CRP of ORD-A stands; S-200's final of the same
    source, order and test was stored beside it (AA), while with S-100's final there it is
    refused. It is refused and kept alike (result-of-another-patient), on the fast path
    (S-200 remembered: its write finds the key holding a row) as on the careful one."""
    await publish(lab, database, [enrolled_as(lab, "S-200", "MRN4799")])
    other = "PID|1||MRN4799^^^HOSP^MR"
    (warm,) = await exchange(lab, j(msh("K-0"), other, *crp("ORD-B", "F", "30")))
    assert warm[1] == "AA", warm
    acks = await exchange(
        lab,
        j(msh("K-1"), OLD, *crp("ORD-A", "P", "40")),
        j(msh("K-2"), other, *crp("ORD-A", "F", "45")),
        j(msh("K-3"), other, *crp("ORD-A", "C", "46")),
    )
    assert [a[1] for a in acks] == ["AA", "AE", "AE"], acks
    rejections = await kept(lab)
    assert [(r["control_id"], r["reason_code"]) for r in rejections] == [
        ("K-2", "result-of-another-patient"), ("K-3", "result-of-another-patient"),
    ]  # fmt: skip
    rows = await lab.pool.fetch(
        "SELECT subject_id, value, status FROM results WHERE cancelled_at IS NULL "
        "ORDER BY recorded_at"
    )
    assert [tuple(r) for r in rows] == [("S-200", 30.0, "F"), (SUBJECT, 40.0, "P")]
    (own,) = await exchange(lab, j(msh("K-4"), OLD, *crp("ORD-A", "F", "41")))
    assert own[1] == "AA", own  # S-100's own final of the preliminary is stored
