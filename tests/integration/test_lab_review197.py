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
from typing import Any

import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import MRN, msa, obx, oru
from tests.integration.test_lab_fhir_versions import version
from tests.integration.test_lab_ingestion import Lab

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
    ``unknown-analyte``, the reason naming the code to send; kept and published."""
    unit = UNITS[meant]
    body = _body("Z-1", _item("N1", "777-3", "150"), _item("C1", loinc, value, unit=unit))
    status, answer = await lab.post_lab_results(body)
    assert status == 422, answer
    detail = answer["detail"]
    assert detail.startswith("results[1]: unknown-analyte: "), detail
    assert f"loinc {meant}" in detail and repr(loinc) in detail, detail
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
