"""Task 195 through the real MLLP socket, database and broker: a final or preliminary result
sent under a subject's former hospital number (their enrolment corrected on
trial.subjects.v1 since) for an order or sample holding the subject's result is refused and
kept, never discarded; and an enrolled number written only in PID-4 (PID-3 naming nobody)
is refused and kept, never discarded nor matched."""

from __future__ import annotations

import asyncio

import pytest

from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.service_layer.batch_reading import SOURCES_TTL_SECONDS
from shared.contracts.topics import LAB_REJECTED
from tests.integration.test_lab_ingestion import Lab
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
