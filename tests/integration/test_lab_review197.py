"""Review 197, through the real ``POST /v1/lab-results`` and MLLP (PostgreSQL and broker).

1. A JSON correction or withdrawal under a wrong ``loinc`` (a check digit wrong, a valid
   LOINC code the trial does not follow), beside another trial result, was left out as
   another test's (202, the stored CRP standing): where its ``result_id`` holds the
   patient's trial result it is refused and kept, whatever its ``loinc`` says.
2. A JSON result whose ``loinc`` is no LOINC code (check digit wrong, a trial code written
   with leading zeros) was left out beside another trial result, its value lost: refused
   ``unknown-analyte``, naming the code to send; a valid code of another test is still left
   out.
3. A correction without a report time against a standing correction that has one replaced
   it (F 50 at 09:00, C 52 at 11:00, then C 51 untimed stood): refused ``ambiguous-version``
   over HL7, JSON and FHIR alike; over an untimed chain, or correcting the final, applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import LAB_REJECTED
from shared.secrets import subject_hmac_key
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, obx, oru, payload_searched
from tests.integration.test_lab_correction_resends import _crp, _reported, _send
from tests.integration.test_lab_fhir_versions import version
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

STANDING = """
SELECT r.value FROM results r
 WHERE r.cancelled_at IS NULL AND r.status IN ('F', 'C')
   AND NOT EXISTS (SELECT 1 FROM results s WHERE s.supersedes_result_id = r.result_id)
 ORDER BY r.value
"""
UNITS = {"1988-5": "mg/L", "751-8": "10*9/L", "777-3": "10*9/L"}


def _item(result_id: str, loinc: str, value: str, status: str = "final",
          unit: str | None = None, reported: str | None = None) -> dict[str, Any]:  # fmt: skip
    item = {"result_id": result_id, "loinc": loinc, "status": status,
            "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    if value:
        item["value"], item["unit"] = value, unit or UNITS.get(loinc, "mg/L")
    if reported is not None:
        item["reported_at"] = f"2026-11-20T{reported}+01:00"
    return item


def _body(message_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN}, "results": list(items)}  # fmt: skip


async def _standing(lab: Lab) -> list[float]:
    return [row["value"] for row in await lab.pool.fetch(STANDING)]


async def _kept(lab: Lab) -> list[tuple[str, str]]:
    rows = await lab.pool.fetch("SELECT reason_code, reason FROM rejections ORDER BY received_at")
    return [(row["reason_code"], row["reason"]) for row in rows]


async def test_a_json_change_under_a_wrong_loinc_is_refused_never_left_out(lab: Lab) -> None:
    """R1 CRP 80 and R2 neutrophils 2.0 stored; then beside a new trial result each of: R1
    entered-in-error under 1988-6 (check digit wrong), R2 corrected to 0.4 under 751-9, R1
    cancelled under 26464-8 (a valid LOINC code the trial does not follow). Each was answered
    202 with nothing cancelled, the CRP and the count standing: each is refused 422, kept,
    published on lab.rejected.v1, nothing of its message stored."""
    first = _body("W-1", _item("R1", "1988-5", "80"), _item("R2", "751-8", "2.0"))
    assert (await lab.post_lab_results(first))[0] == 202
    changes = [
        _item("R1", "1988-6", "", "entered-in-error"),
        _item("R2", "751-9", "0.4", "corrected", unit="10*9/L"),
        _item("R1", "26464-8", "", "cancelled"),
    ]
    answers = [
        await lab.post_lab_results(_body(f"W-{n}", _item(f"N{n}", "777-3", "150"), change))
        for n, change in enumerate(changes, start=2)
    ]
    assert [status for status, _ in answers] == [422] * 3, answers
    for _, answer in answers:
        assert answer["detail"].startswith("results[1]: "), answer
    assert "1988-5" in answers[0][1]["detail"] and "751-8" in answers[1][1]["detail"], answers
    assert "result-of-another-analyte" in answers[2][1]["detail"], answers[2]
    assert "1988-5" in answers[2][1]["detail"], answers[2]
    assert await _standing(lab) == [2.0, 80.0]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 2
    kept = await _kept(lab)
    assert len(kept) == 3 and all("OBX" not in reason for _, reason in kept), kept
    assert [code for code, _ in kept][2] == "result-of-another-analyte", kept
    events = await lab.events(LAB_REJECTED, 3)
    assert len(events) == 3
    # alone, under another trial analyte's code, as before: refused
    status, answer = await lab.post_lab_results(_body("W-9", _item("R1", "751-8", "", "cancelled")))
    assert status == 422 and "result-of-another-analyte" in answer["detail"], answer
    # a valid code of another test under a result_id holding nothing: another test's, as
    # documented (left out, the result beside it stored)
    other = _body("W-10", _item("N10", "777-3", "150"), _item("G1", "2345-7", "", "cancelled"))
    status, answer = await lab.post_lab_results(other)
    assert status == 202 and answer["results_stored"] == 1, answer


@pytest.mark.parametrize(
    ("loinc", "value", "meant"),
    [("1988-6", "80", "1988-5"), ("01988-5", "80", "1988-5"), ("0751-8", "0.3", "751-8")],
)
async def test_a_json_loinc_that_is_no_loinc_code_is_refused(
    lab: Lab, loinc: str, value: str, meant: str
) -> None:
    """Beside another trial result, a CRP under 1988-6 (check digit wrong) or 01988-5 (zero
    padded), a neutrophil count under 0751-8, was left out (202), its value lost: refused
    ``unknown-analyte``, the reason naming the code to send (never the code sent); kept and
    published."""
    unit = UNITS[meant]
    body = _body("Z-1", _item("N1", "777-3", "150"), _item("C1", loinc, value, unit=unit))
    status, answer = await lab.post_lab_results(body)
    assert status == 422, answer
    detail = answer["detail"]
    assert detail.startswith("results[1]: unknown-analyte: "), detail
    assert f"loinc {meant}" in detail and "results[1].loinc is no LOINC code" in detail, detail
    assert repr(loinc) not in detail, detail  # the code sent is never quoted (review 205)
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    ((code, reason),) = await _kept(lab)
    assert code == "unknown-analyte" and meant in reason, reason
    (event,) = await lab.events(LAB_REJECTED, 1)
    assert event.payload["reason_code"] == "unknown-analyte"


async def test_a_json_result_of_another_test_is_still_left_out(lab: Lab) -> None:
    body = _body("Y-1", _item("N1", "777-3", "150"), _item("G1", "2345-7", "5.4", unit="mmol/L"))
    status, answer = await lab.post_lab_results(body)
    assert status == 202 and answer["results_stored"] == 1, answer
    assert await _kept(lab) == []


# --- 3: an untimed correction against a timed standing correction ---------------------------


async def test_an_untimed_correction_over_a_timed_correction_is_refused_over_hl7(
    lab: Lab,
) -> None:
    """F 50 (OBR-22 09:00), C 52 (11:00), then C 51 with OBR-22 empty: it was AA and 51
    stood over 52. Refused AE ambiguous-version (kept), asking for the report time; over an
    untimed chain, and correcting a timed final, it is applied as before."""
    acks = await _send(
        lab,
        _crp("T-1", "50", "F", "090000", "ORDT"),
        _crp("T-2", "52", "C", "110000", "ORDT"),
        _crp("T-3", "51", "C", None, "ORDT"),
    )
    assert [ack[1] for ack in acks] == ["AA", "AA", "AE"], acks
    assert "report time (OBR-22)" in acks[2][3], acks[2]
    assert await _standing(lab) == [52.0]
    ((code, reason),) = await _kept(lab)
    assert code == "ambiguous-version" and "OBR-22" in reason, reason
    (event,) = await lab.events(LAB_REJECTED, 1)
    assert event.payload["reason_code"] == "ambiguous-version"
    acks = await _send(
        lab,
        _crp("U-1", "40", "F", None, "ORDU"),
        _crp("U-2", "42", "C", None, "ORDU"),
        _crp("U-3", "41", "C", None, "ORDU"),  # never timed: applied, as before
        _crp("V-1", "30", "F", "090000", "ORDV"),
        _crp("V-2", "31", "C", None, "ORDV"),  # corrects the final: applied, as before
    )
    assert [ack[1] for ack in acks] == ["AA"] * 5, acks
    assert await _standing(lab) == [31.0, 41.0, 52.0]


async def test_an_untimed_correction_over_a_timed_correction_is_refused_over_json(
    lab: Lab,
) -> None:
    statuses = [
        (await lab.post_lab_results(_body(mid, _item("R1", "1988-5", value, status, None, at))))
        for mid, value, status, at in (
            ("J-1", "50", "final", "09:00:00"),
            ("J-2", "52", "corrected", "11:00:00"),
            ("J-3", "51", "corrected", None),
        )
    ]
    assert [s for s, _ in statuses] == [202, 202, 422], statuses
    detail = statuses[2][1]["detail"]
    assert "ambiguous-version" in detail and "(reported_at)" in detail, detail
    assert "OBR-22" not in detail and "order and test" not in detail, detail
    assert await _standing(lab) == [52.0]


async def test_an_untimed_version_over_an_issued_correction_is_refused_over_fhir(
    lab: Lab,
) -> None:
    statuses = []
    for value, status, issued in ((50, "final", "09"), (52, "corrected", "11"),
                                  (51, "corrected", None)):  # fmt: skip
        statuses.append(await lab.post_fhir("/fhir/Observation", version(value, status, issued)))
    assert [s for s, _ in statuses] == [201, 201, 422], statuses
    text = str(statuses[2][1])
    assert "ambiguous-version" in text or "Observation.issued" in text, text
    assert await _standing(lab) == [52.0]
    ((code, _),) = await _kept(lab)
    assert code == "ambiguous-version"


# --- review 205 -----------------------------------------------------------------------------
# 1. A correction whose report time was sent but dropped (unreadable, a date alone, in a
#    clock change's repeated hour, before 2000, in the future) was refused as untimed, asked
#    for a report time the lab had sent (a resend refused the same way): applied as before
#    fixer 198. Only a correction sent with no report time at all is refused so.
# 2. The patient's number, written as a JSON ``loinc`` (``4711234-0``), was quoted in the
#    unknown-analyte reason, stored and published on lab.rejected.v1: no code of the sender's
#    is quoted, only the field (``results[1].loinc``) and a trial code to send.
# 3. A JSON change of another patient's stored trial result under a code of no trial analyte
#    was left out (202, their result standing): refused result-of-another-patient.


def _future(hours: int = 30) -> datetime:
    """A time a day ahead of now: a report time dropped as in the future."""
    return datetime.now(UTC) + timedelta(hours=hours)


def _obx19(message: str, analysed: str) -> str:
    """``message`` with its OBX's OBX-19 (the analysis time) ``analysed``."""
    head, _, tail = message.partition("\rOBX|")
    obx_segment, _, rest = tail.partition("\r")
    return f"{head}\rOBX|{obx_segment}|||||{analysed}\r{rest}"


@pytest.fixture
async def zlab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    """The lab, its sender ``LIS^HOSP`` writing local times of Europe/Zurich."""
    async with running_lab(settings, database) as lab:
        async with lab.pool.acquire() as conn:
            await add_source(conn, "LIS", "HOSP", time_zone="Europe/Zurich")
        await asyncio.sleep(2.5)  # the README: a source's settings are live within 2 s
        yield lab


def _dst(control_id: str, value: str, status: str, released: str) -> str:
    """A CRP drawn at 00:30 on the night the clocks go back, released at ``released``."""
    sample = "20261025003000"
    message = oru(control_id, [obx("1988-5", value, "mg/L", status=status, observed=sample)],
                  order="ORDZ", order_time=sample)  # fmt: skip
    obr7 = f"|||{sample}\r"
    return message.replace(obr7, obr7[:-1] + "|" * 15 + released + "\r", 1)


async def test_a_correction_released_in_the_repeated_hour_is_applied(zlab: Lab) -> None:
    """F 50 released 01:00, C 52 01:30, C 51 released 02:30 (the hour the clocks repeat,
    after 01:30 either way): its release time is dropped, never asked for again; applied."""
    acks = await _send(
        zlab,
        _dst("Z-1", "50", "F", "20261025010000"),
        _dst("Z-2", "52", "C", "20261025013000"),
        _dst("Z-3", "51", "C", "20261025023000"),
    )
    assert [ack[1] for ack in acks] == ["AA"] * 3, acks
    assert await _standing(zlab) == [51.0]
    assert await _kept(zlab) == []


@pytest.mark.parametrize(
    "written",
    ["obr22-date", "obr22-before-2000", "obr22-future", "obr22-unreadable", "obx19-future"],
)
async def test_an_hl7_correction_whose_report_time_is_dropped_is_applied(
    lab: Lab, written: str
) -> None:
    """F 50 (OBR-22 09:00), C 52 (11:00), then C 51 with a report time the service drops: it
    was AE "send the correction again with a report time", which the lab had sent."""
    third = oru("D-3", [obx("1988-5", "51", "mg/L", status="C")], order="ORDD")
    future = f"{_future():%Y%m%d%H%M%S}+0000"
    field, text = written.split("-", 1)
    time = {"date": "20261120", "before-2000": "19991120110000+0100", "future": future,
            "unreadable": "2026-11-20 11h"}[text]  # fmt: skip
    third = _reported(third, time) if field == "obr22" else _obx19(third, time)
    acks = await _send(
        lab, _crp("D-1", "50", "F", "090000", "ORDD"), _crp("D-2", "52", "C", "110000", "ORDD"),
        third,
    )  # fmt: skip
    assert [ack[1] for ack in acks] == ["AA"] * 3, acks
    assert await _standing(lab) == [51.0]
    assert await _kept(lab) == []


@pytest.mark.parametrize("when", ["future", "before-2000"])
async def test_a_json_correction_whose_reported_at_is_dropped_is_applied(
    lab: Lab, when: str
) -> None:
    dropped = _future().isoformat() if when == "future" else "1999-11-20T11:00:00+01:00"
    third = _item("R1", "1988-5", "51", "corrected")
    third["reported_at"] = dropped
    first = _item("R1", "1988-5", "50", "final", None, "09:00:00")
    second = _item("R1", "1988-5", "52", "corrected", None, "11:00:00")
    answers = [
        await lab.post_lab_results(_body(mid, item))
        for mid, item in (("J-1", first), ("J-2", second), ("J-3", third))
    ]
    assert [status for status, _ in answers] == [202] * 3, answers
    assert await _standing(lab) == [51.0]


@pytest.mark.parametrize("when", ["future", "before-2000"])
async def test_a_fhir_correction_whose_issued_is_dropped_is_applied(lab: Lab, when: str) -> None:
    third = version(51, "corrected", None)
    third["issued"] = _future().isoformat() if when == "future" else "1999-11-20T11:00:00+01:00"
    answers = [
        await lab.post_fhir("/fhir/Observation", version(50, "final", "09")),
        await lab.post_fhir("/fhir/Observation", version(52, "corrected", "11")),
        await lab.post_fhir("/fhir/Observation", third),
    ]
    assert [status for status, _ in answers] == [201] * 3, answers
    assert await _standing(lab) == [51.0]


async def test_a_correction_sent_without_any_report_time_is_still_refused(lab: Lab) -> None:
    """OBR-22 and OBX-19 both empty (review 197's rule stands)."""
    acks = await _send(
        lab,
        _crp("E-1", "50", "F", "090000", "ORDE"),
        _crp("E-2", "52", "C", "110000", "ORDE"),
        _crp("E-3", "51", "C", None, "ORDE"),
    )
    assert [ack[1] for ack in acks] == ["AA", "AA", "AE"], acks
    assert await _standing(lab) == [52.0]


NUMBER = "4711234"  # a hospital number in the shape of a LOINC code's number


async def _enrol(lab: Lab, subject: str, number: str) -> None:
    await lab.pool.execute(
        "INSERT INTO enrolled_subjects (subject_id, site_id, site_timezone, hospital_id_hmac,"
        " day1, enrolled_at) VALUES ($1, 'CH-01', 'Europe/Zurich', $2, '2026-11-02', now())",
        subject, hospital_id_hmac(subject_hmac_key(lab.settings), number),
    )  # fmt: skip
    await asyncio.sleep(0.5)


@pytest.mark.parametrize("status", ["final", "corrected"])
async def test_a_loinc_written_from_the_patients_number_is_never_quoted(
    lab: Lab, status: str
) -> None:
    """The patient 4711234 (enrolled), a CRP under loinc 4711234-0 beside a platelet count:
    refused unknown-analyte (a new result) or result-of-another-analyte (a correction of the
    CRP stored under its result_id); the number in no answer, reason nor event."""
    await _enrol(lab, "S-101", NUMBER)
    first = _body("PHI-1", _item("C1", "1988-5", "70"))
    first["patient"]["identifier"] = NUMBER
    assert (await lab.post_lab_results(first))[0] == 202
    result_id = "C1" if status == "corrected" else "C2"  # C1 holds the CRP
    written = _item(result_id, f"{NUMBER}-0", "80", status)
    body = _body("PHI-2", _item("N1", "777-3", "150"), written)
    body["patient"]["identifier"] = NUMBER
    answer_status, answer = await lab.post_lab_results(body)
    assert answer_status == 422, answer
    detail = answer["detail"]
    assert NUMBER not in detail, detail
    assert "results[1].loinc" in detail, detail
    if status == "final":
        assert "unknown-analyte" in detail, detail
    else:
        assert "result-of-another-analyte" in detail and "loinc 1988-5" in detail, detail
    rows = await lab.pool.fetch("SELECT reason, payload::text AS kept FROM rejections")
    assert len(rows) == 1 and NUMBER not in rows[0]["reason"], rows
    assert NUMBER not in rows[0]["kept"]
    (event,) = await lab.events(LAB_REJECTED, 1)
    assert NUMBER not in payload_searched(event.payload), event.payload


async def test_a_check_digit_slip_is_named_by_its_field_alone(lab: Lab) -> None:
    body = _body("PHI-3", _item("N1", "777-3", "150"), _item("X1", "4711234-0", "80"))
    status, answer = await lab.post_lab_results(body)
    assert status == 422, answer
    assert answer["detail"] == (
        "results[1]: unknown-analyte: send each result with its LOINC code: results[1].loinc "
        "is no LOINC code (its check digit is wrong), and which test was meant cannot be told "
        "(it may be a trial result)"
    ), answer


@pytest.mark.parametrize(
    ("code", "status", "value", "unit"),
    [("26464-8", "corrected", "5", "10*9/L"), ("26464-8", "cancelled", "", None),
     ("26464-8", "entered-in-error", "", None), ("1988-6", "cancelled", "", None)],
)  # fmt: skip
async def test_a_change_of_another_patients_result_under_another_code_is_refused(
    lab: Lab, code: str, status: str, value: str, unit: str | None
) -> None:
    """Patient A stores R1 CRP 80; patient B (MRN999) changes R1 under a code of no trial
    analyte beside a platelet count: it was 202, A's CRP standing, the change lost. Refused
    result-of-another-patient, as under 1988-5; nothing of B's stored."""
    await _enrol(lab, "S-102", "MRN999")
    assert (await lab.post_lab_results(_body("A-1", _item("R1", "1988-5", "80"))))[0] == 202
    body = _body("B-1", _item("NB", "777-3", "150"), _item("R1", code, value, status, unit))
    body["patient"]["identifier"] = "MRN999"
    answer_status, answer = await lab.post_lab_results(body)
    assert answer_status == 422, answer
    assert answer["detail"].startswith("results[1]: result-of-another-patient: "), answer
    assert await _standing(lab) == [80.0]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    ((reason_code, _),) = await _kept(lab)
    assert reason_code == "result-of-another-patient"
