"""Through real MLLP and ``POST /v1/lab-results`` (PostgreSQL and broker): a correction resent
under a new message id (review 171). An interface engine's late copy of an older correction
(F 50, C 51, C 52, then C 51 again) published 51 as corrected over the standing 52, and a
copy of the standing correction published a second identical one. The report time (HL7
OBR-22, JSON ``reported_at``) tells a resend from a correction back to an earlier value;
without one, a restated earlier version is refused, never applied."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from tests.integration.lab_fixtures import MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_review121_fhir_reports import _obs

pytestmark = pytest.mark.integration

STANDING = """
SELECT r.value FROM results r
 WHERE r.cancelled_at IS NULL AND r.status IN ('F', 'C')
   AND NOT EXISTS (SELECT 1 FROM results s WHERE s.supersedes_result_id = r.result_id)
"""
EMITTED = "SELECT count(*) FROM outbox WHERE topic = 'lab.results.v1'"


def _reported(message: str, reported: str) -> str:
    """``message`` with its report time (OBR-22) ``reported``."""
    obr7 = "|||20261120081500+0100\r"
    return message.replace(obr7, obr7[:-1] + "|" * 15 + reported + "\r", 1)


def _crp(control_id: str, value: str, status: str, reported: str | None, order: str) -> str:
    message = oru(control_id, [obx("1988-5", value, "mg/L", status=status)], order=order)
    return message if reported is None else _reported(message, f"20261120{reported}+0100")


async def _send(lab: Lab, *messages: str) -> list[list[str]]:
    client = await lab.mllp()
    acks = []
    for message in messages:
        acks.append(msa(await client.exchange(message)))
        await asyncio.sleep(0.05)  # each its own batch: the chain is read from the database
    await client.close()
    return acks


async def test_a_late_copy_of_an_older_correction_never_replaces_the_newer_one(lab: Lab) -> None:
    """F 50, C 51, C 52, then C 51's copy under a new MSH-10 with its report time: the copy
    is a duplicate, 52 stands; a correction back to 51 reported later is applied."""
    acks = await _send(
        lab,
        _crp("L-1", "50", "F", "090000", "ORDB"),
        _crp("L-2", "51", "C", "100000", "ORDB"),
        _crp("L-3", "52", "C", "110000", "ORDB"),
        _crp("L-2R", "51", "C", "100000", "ORDB"),
    )
    assert [ack[1] for ack in acks] == ["AA"] * 4 and "duplicate" in acks[3][3], acks
    assert await lab.pool.fetchval(EMITTED) == 3
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [52.0]
    # 51 reported before the standing correction, at no time C 51 was: no copy of it, no
    # correction back either (OBX-19's time beside OBR-22's, a coarser precision): refused,
    # the lab told, never dropped (review 177)
    (ack,) = await _send(lab, _crp("L-2S", "51", "C", "103000", "ORDB"))
    assert ack[1] == "AE" and ack[3].startswith("correct back to an older value"), ack
    (ack,) = await _send(lab, _crp("L-4", "51", "C", "120000", "ORDB"))
    assert ack[1] == "AA" and "1 result(s) stored" in ack[3], ack
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [51.0]
    # the late copy of 52 that the correction back replaced is a copy again
    (ack,) = await _send(lab, _crp("L-3R", "52", "C", "110000", "ORDB"))
    assert ack[1] == "AA" and "duplicate" in ack[3], ack
    assert await lab.pool.fetchval(EMITTED) == 4
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 1


async def test_the_standing_correction_resent_under_a_new_id_is_a_duplicate(lab: Lab) -> None:
    """K-2's copy with its report time says what stands: a duplicate, nothing published.
    Without report times, a correction restating the standing result is stored as before
    (a lab's correction may change what a result's content leaves out)."""
    acks = await _send(
        lab,
        _crp("K-1", "40", "F", "090000", "ORDA"),
        _crp("K-2", "41", "C", "100000", "ORDA"),
        _crp("K-2R", "41", "C", "100000", "ORDA"),
        _crp("M-1", "30", "F", None, "ORDC"),
        _crp("M-2", "31", "C", None, "ORDC"),
        _crp("M-2R", "31", "C", None, "ORDC"),
    )
    assert [ack[1] for ack in acks] == ["AA"] * 6, acks
    assert "duplicate" in acks[2][3] and "1 result(s) stored" in acks[5][3], acks
    assert await lab.pool.fetchval(EMITTED) == 5
    assert sorted(r["value"] for r in await lab.pool.fetch(STANDING)) == [31.0, 41.0]


async def test_an_older_version_restated_without_report_times_is_refused(lab: Lab) -> None:
    """F 50, C 51, C 52, then C 51 under a new MSH-10, no report time anywhere: a late copy
    or a correction back cannot be told apart, so it is refused (AE, kept), 52 stands."""
    acks = await _send(
        lab,
        _crp("N-1", "50", "F", None, "ORDB"),
        _crp("N-2", "51", "C", None, "ORDB"),
        _crp("N-3", "52", "C", None, "ORDB"),
        _crp("N-2R", "51", "C", None, "ORDB"),
    )
    assert [ack[1] for ack in acks] == ["AA", "AA", "AA", "AE"], acks
    assert acks[3][3].startswith("correct back to an older value with a report time (OBR-22)")
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [52.0]
    assert await lab.pool.fetchval(EMITTED) == 3
    kept = await lab.pool.fetchrow("SELECT reason_code, reason FROM rejections")
    assert kept["reason_code"] == "ambiguous-version", kept
    assert "late resend" in kept["reason"] and "OBR-22" in kept["reason"], kept
    (event,) = await lab.events(LAB_REJECTED, 1)
    assert event.payload["reason_code"] == "ambiguous-version"


def _json(message_id: str, value: str, status: str, reported: str | None) -> dict[str, Any]:
    result = {"result_id": "R-9", "loinc": "1988-5", "value": value, "unit": "mg/L",
              "status": status, "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    if reported is not None:
        result["reported_at"] = f"2026-11-20T{reported}+01:00"
    return {"message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN}, "results": [result]}  # fmt: skip


async def test_json_corrections_resent_under_new_message_ids(lab: Lab) -> None:
    """The same over JSON: the late copy of an older correction and the standing one's copy
    are duplicates (200); the older value restated without ``reported_at`` is refused 422
    in JSON's words; a correction back reported later is applied."""
    answers = [
        await lab.post_lab_results(_json(message_id, value, status, reported))
        for message_id, value, status, reported in (
            ("J-1", "60", "final", "09:00:00"),
            ("J-2", "61", "corrected", "10:00:00"),
            ("J-3", "62", "corrected", "11:00:00"),
            ("J-2R", "61", "corrected", "10:00:00"),
            ("J-3R", "62", "corrected", "11:00:00"),
            ("J-2S", "61", "corrected", None),
        )
    ]  # fmt: skip
    assert [status for status, _ in answers] == [202, 202, 202, 200, 200, 422], answers
    detail = answers[5][1]["detail"]
    assert "ambiguous-version" in detail and "(reported_at)" in detail, detail
    assert "OBR-22" not in detail and "order and test" not in detail, detail
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [62.0]
    assert await lab.pool.fetchval(EMITTED) == 3
    status, answer = await lab.post_lab_results(_json("J-4", "61", "corrected", "12:00:00"))
    assert status == 202 and answer["results_stored"] == 1, answer
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [61.0]


async def test_corrections_report_times_cannot_order_are_refused_never_dropped(lab: Lab) -> None:
    """Review 176: a correction back reported in the same minute as the standing one (OBR-22
    to the minute), and one whose report time is OBX-19's analysis time, which a clerical
    correction keeps, were answered AA duplicate and dropped, the older value standing. A
    tie orders nothing: refused (AE, kept), the lab told."""
    minute = oru("M-3", [obx("1988-5", "50", "mg/L", status="C")], order="ORDM")
    acks = await _send(
        lab,
        _crp("M-1", "50", "F", "0900", "ORDM"),
        _crp("M-2", "51", "C", "1100", "ORDM"),
        _reported(minute, "202611201100+0100"),
        *(
            oru(cid, [obx("1988-5", v, "mg/L", status=s) + "|||||20261120085000+0100"],
                order="ORDA")
            for cid, v, s in (("A-1", "50", "F"), ("A-2", "51", "C"), ("A-3", "50", "C"))
        ),
    )  # fmt: skip
    assert [ack[1] for ack in acks] == ["AA", "AA", "AE", "AA", "AA", "AE"], acks
    assert acks[2][3].startswith("correct back to an older value"), acks[2]
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [51.0, 51.0]
    codes = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert [r["reason_code"] for r in codes] == ["ambiguous-version"] * 2


async def test_a_correction_reported_before_the_standing_one_is_refused(lab: Lab) -> None:
    """Review 176: F 50, C 52 (11:00), then the original C 51 (10:00) delivered late, then
    C 52 resent: C 51 was applied and the resend taken for a duplicate, 51 standing. A
    correction reported before the standing result is refused; the newest stands."""
    acks = await _send(
        lab,
        _crp("O-1", "50", "F", "090000", "ORDO"),
        _crp("O-3", "52", "C", "110000", "ORDO"),
        _crp("O-2", "51", "C", "100000", "ORDO"),
        _crp("O-3R", "52", "C", "110000", "ORDO"),
    )
    assert [ack[1] for ack in acks] == ["AA", "AA", "AE", "AA"], acks
    assert acks[2][3].startswith("send the newest version again"), acks[2]
    assert "duplicate" in acks[3][3], acks[3]
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [52.0]
    assert await lab.pool.fetchval(EMITTED) == 2


async def test_a_correction_back_timed_by_another_field_or_precision_is_refused(lab: Lab) -> None:
    """Review 177: F 50 (OBR-22 10:00), C 52 (OBR-22 11:00), then C 50 back
    timed only by OBX-19's 09:30, or by OBR-22 to the minute (11:00 beside 11:00:30): each
    was taken for a late copy of F 50, answered AA duplicate, and 52 stood. Neither is a
    copy of a version (no version said 50 at that time): refused, the lab told."""
    obx19 = oru("X2-3", [obx("1988-5", "50", "mg/L", status="C") + "|||||20261120093000+0100"],
                order="ORDX")  # fmt: skip
    minute = oru("X4-3", [obx("1988-5", "50", "mg/L", status="C")], order="ORDY")
    acks = await _send(
        lab,
        _crp("X2-1", "50", "F", "100000", "ORDX"),
        _crp("X2-2", "52", "C", "110000", "ORDX"),
        obx19,
        _crp("X4-1", "50", "F", "100000", "ORDY"),
        _crp("X4-2", "52", "C", "110030", "ORDY"),
        _reported(minute, "202611201100+0100"),
    )
    assert [ack[1] for ack in acks] == ["AA", "AA", "AE"] * 2, acks
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [52.0, 52.0]


def _analysed(control_id: str, value: str, status: str, analysed: str, order: str) -> str:
    """A CRP timed by OBX-19 (the analysis time) alone: OBR-22 left empty."""
    observed = obx("1988-5", value, "mg/L", status=status) + f"|||||20261120{analysed}+0100"
    return oru(control_id, [observed], order=order)


def _timed_both(control_id: str, value: str, status: str, order: str) -> str:
    """A CRP released at 10:00 (OBR-22), analysed at 09:30 (OBX-19)."""
    return _reported(_analysed(control_id, value, status, "093000", order), "20261120100000+0100")


async def test_a_correction_timed_by_another_field_is_applied(lab: Lab) -> None:
    """Fixer 178 (review 177): F 50 released at 10:00 (OBR-22, analysed at 09:30), then a
    first correction C 55 from a system that leaves OBR-22 empty, timed by OBX-19's 09:30
    or 09:40: refused as reported before the standing result, though an analysis time and
    a release time order nothing. A new value timed by another field is applied as a
    correction, and published; so the other way round (a chain timed by OBX-19, a
    correction by OBR-22, released after the final's analysis). Each result's stored field
    says where its time came from."""
    acks = await _send(
        lab,
        _timed_both("Y1-1", "50", "F", "ORDY1"),
        _analysed("Y1-2", "55", "C", "093000", "ORDY1"),
        _timed_both("Y2-1", "50", "F", "ORDY2"),
        _analysed("Y2-2", "56", "C", "094000", "ORDY2"),
        _analysed("Y3-1", "50", "F", "100000", "ORDY3"),
        _crp("Y3-2", "57", "C", "103000", "ORDY3"),
    )
    assert [ack[1] for ack in acks] == ["AA"] * 6, acks
    assert all("1 result(s) stored" in ack[3] for ack in acks), acks
    assert sorted(r["value"] for r in await lab.pool.fetch(STANDING)) == [55.0, 56.0, 57.0]
    assert await lab.pool.fetchval(EMITTED) == 6
    published = [e.payload for e in await lab.events(LAB_RESULTS, 6)]
    corrected = [(p["value"], p["status"]) for p in published if p["status"] == "corrected"]
    assert sorted(corrected) == [(55.0, "corrected"), (56.0, "corrected"), (57.0, "corrected")]
    fields = await lab.pool.fetch("SELECT value, report_field FROM results ORDER BY value")
    assert [(r["value"], r["report_field"]) for r in fields] == [
        (50.0, "OBR-22"), (50.0, "OBR-22"), (50.0, "OBX-19"),
        (55.0, "OBX-19"), (56.0, "OBX-19"), (57.0, "OBR-22"),
    ]  # fmt: skip


async def test_report_times_of_one_field_still_order_corrections(lab: Lab) -> None:
    """A chain timed by OBX-19 alone is ordered by it as one timed by OBR-22 is: a late copy
    of an older correction is a duplicate, a new value analysed before the standing one is
    refused (the reason names OBX-19, the field compared), a correction back analysed
    later is applied. Across fields, an earlier version's value is a duplicate only as an
    exact copy of that version, else refused (F 50 at OBR-22 10:00, C 52 at OBX-19 09:40,
    then C 50 at OBX-19 09:30)."""
    acks = await _send(
        lab,
        _analysed("Z-1", "50", "F", "093000", "ORDZ"),
        _analysed("Z-2", "51", "C", "094000", "ORDZ"),
        _analysed("Z-3", "52", "C", "095000", "ORDZ"),
        _analysed("Z-2R", "51", "C", "094000", "ORDZ"),
        _analysed("Z-4", "53", "C", "093500", "ORDZ"),
        _analysed("Z-5", "51", "C", "100000", "ORDZ"),
        _timed_both("W-1", "50", "F", "ORDW"),
        _analysed("W-2", "52", "C", "094000", "ORDW"),
        _analysed("W-2R", "52", "C", "094000", "ORDW"),
        _analysed("W-3", "50", "C", "093000", "ORDW"),
    )
    assert [ack[1] for ack in acks] == ["AA"] * 4 + ["AE", "AA"] + ["AA"] * 3 + ["AE"], acks
    assert "duplicate" in acks[3][3] and "duplicate" in acks[8][3], acks
    assert acks[4][3].startswith(
        "send the newest version again, or correct with a report time (OBX-19)"
    )
    assert acks[9][3].startswith("correct back to an older value with a report time (OBX-19)")
    assert sorted(r["value"] for r in await lab.pool.fetch(STANDING)) == [51.0, 52.0]
    assert await lab.pool.fetchval(EMITTED) == 6


async def test_a_late_correction_timed_by_another_field_never_stands_over_a_newer_one(
    lab: Lab,
) -> None:
    """Review 187: F 50 released at 10:00, C 52 released at 11:00 (OBR-22), then the earlier
    C 51 delivered late from a system that leaves OBR-22 empty, analysed at 09:30 (OBX-19):
    it was applied and 51 stood. An analysis before the standing correction's release
    orders nothing: refused, 52 stands. A correction back to 50 analysed at 12:00, after
    the standing release, is newer whatever its field: applied (it was refused)."""
    acks = await _send(
        lab,
        _crp("D1-1", "50", "F", "100000", "ORDD1"),
        _crp("D1-2", "52", "C", "110000", "ORDD1"),
        _analysed("D1-3", "51", "C", "093000", "ORDD1"),
    )
    assert [ack[1] for ack in acks] == ["AA", "AA", "AE"], acks
    assert acks[2][3].startswith("send the correction with a report time (OBR-22)"), acks
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [52.0]
    (ack,) = await _send(lab, _analysed("D1-4", "50", "C", "120000", "ORDD1"))
    assert ack[1] == "AA" and "1 result(s) stored" in ack[3], ack
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [50.0]
    published = [e.payload for e in await lab.events(LAB_RESULTS, 3)]
    assert [p["value"] for p in published] == [50.0, 52.0, 50.0]


async def test_a_correction_with_obr22_and_obx19_orders_against_an_obx19_chain(lab: Lab) -> None:
    """Review 188: F 50 and C 51 timed by OBX-19 alone, then C 52 released at 10:00 (OBR-22)
    and analysed at 09:30 (OBX-19): its analysis time, of the chain's field, orders it after
    C 51, and it is applied (it was refused, asking for the OBX-19 it carried)."""
    acks = await _send(
        lab,
        _analysed("E-1", "50", "F", "080000", "ORDE"),
        _analysed("E-2", "51", "C", "090000", "ORDE"),
        _reported(_analysed("E-3", "52", "C", "093000", "ORDE"), "20261120100000+0100"),
    )
    assert [ack[1] for ack in acks] == ["AA"] * 3, acks
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [52.0]


async def test_results_stored_before_their_report_field_was_kept_compare_as_before(
    lab: Lab,
) -> None:
    """A result stored before migration 0032 (its report field NULL, unknown): its report
    time is compared with a correction's whatever the correction's field, as it was
    before (a new value reported before it refused, never applied over it)."""
    (ack,) = await _send(lab, _timed_both("V-1", "50", "F", "ORDV"))
    assert ack[1] == "AA", ack
    await lab.pool.execute("UPDATE results SET report_field = NULL")
    (ack,) = await _send(lab, _analysed("V-2", "55", "C", "093000", "ORDV"))
    assert ack[1] == "AE" and ack[3].startswith("send the newest version again"), ack
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [50.0]


def _fhir(value: int, status: str, issued: str | None) -> dict[str, Any]:
    """A FHIR CRP of order O1 with its report time (``issued``) at ``issued`` o'clock."""
    times = {} if issued is None else {"issued": f"2026-11-20T{issued}:00:00+01:00"}
    return _obs("O1", value=value, status=status, **times)


async def test_a_fhir_correction_issued_before_the_standing_one_is_refused(lab: Lab) -> None:
    """Review 181: final 50 issued 09:00, corrected 52 issued 11:00, then corrected 51
    issued 10:00 delivered last (a POST retried after a 503): refused as delivered out of
    order, never applied over 52; a correction back to 51 issued later is applied, and
    the refused version sent again is refused again."""
    for body in (_fhir(50, "final", "09"), _fhir(52, "corrected", "11")):
        status, answer = await lab.post_fhir("/fhir/Observation", body)
        assert status == 201, answer
    status, answer = await lab.post_fhir("/fhir/Observation", _fhir(51, "corrected", "10"))
    assert status == 422, answer
    assert "issued" in str(answer) and "ambiguous-version" in str(answer), answer
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [52.0]
    status, answer = await lab.post_fhir("/fhir/Observation", _fhir(51, "corrected", "10"))
    assert status == 422, answer
    status, answer = await lab.post_fhir("/fhir/Observation", _fhir(51, "corrected", "12"))
    assert status == 201, answer
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [51.0]
    assert await lab.pool.fetchval(EMITTED) == 3  # final 50, corrected 52, corrected 51


async def test_fhir_versions_not_issued_before_the_standing_one_are_applied(lab: Lab) -> None:
    """A FHIR version's copy has its id (content and issued): another version is a
    correction, back to an earlier value too, unless issued before the standing one."""
    for body in (_fhir(50, "final", None), _fhir(52, "corrected", None)):
        status, answer = await lab.post_fhir("/fhir/Observation", body)
        assert status == 201, answer
    status, answer = await lab.post_fhir("/fhir/Observation", _fhir(50, "corrected", None))
    assert status == 201, answer
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [50.0]
    for value in (53, 54):  # issued at the standing version's time: a tie orders nothing
        status, answer = await lab.post_fhir("/fhir/Observation", _fhir(value, "corrected", "11"))
        assert status == 201, answer
    assert [r["value"] for r in await lab.pool.fetch(STANDING)] == [54.0]
