"""One sample over HL7 and the lab's FHIR feed (review 181, fixer 184, review 188): what review
192 found the copy rule doing wrongly.

- the rule is for a lab's HL7 feed and its FHIR feed only: two HL7 laboratories (two
  allow-listed senders) whose order numbers coincide are two namespaces, as two FHIR
  senders' identifier systems are. The second lab's CRP of a sample collected within the
  same minute is a result of its own, stored over MLLP and ``POST /v1/hl7`` alike (before:
  left out as "already held by another sender", or refused naming the first lab), and each
  lab's correction applies to its own result;
- a correction or withdrawal sent over the feed whose copy was left out, saying what the
  holder's chain already says (its standing value; a withdrawal: the chain withdrawn), is a
  duplicate: left out, answered AA or FHIR 200 with nothing created, the message's other
  results stored. One saying anything else is still refused ``unknown-corrected-result``."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_fhir_cancelled_never_resulted import _diagnostics
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _hl7, _reason

pytestmark = pytest.mark.integration

STANDING = """
SELECT r.source, r.analyte, r.value FROM results r
 WHERE r.cancelled_at IS NULL AND r.status IN ('F', 'C')
   AND NOT EXISTS (SELECT 1 FROM results s WHERE s.supersedes_result_id = r.result_id
                   AND s.cancelled_at IS NULL AND s.status IN ('F', 'C'))
 ORDER BY r.recorded_at
"""
WITHDRAWN = "SELECT count(*) FROM results WHERE cancelled_at IS NOT NULL"
CORRECTED = "2026-11-20T10:00:00+01:00"  # the FHIR correction's issued time


async def _standing(lab: Lab) -> list[tuple[str, str, float]]:
    return [(r["source"], r["analyte"], r["value"]) for r in await lab.pool.fetch(STANDING)]


async def _allow_central(lab: Lab) -> None:
    """A second laboratory, LAB2^CENTRAL, on the allow-list."""
    assert lab.runtime.pool is not None
    async with lab.runtime.pool.acquire() as conn:
        await add_source(conn, "LAB2", "CENTRAL")
    await asyncio.sleep(2.5)  # the allow-list is re-read within SOURCES_TTL_SECONDS


async def _send(lab: Lab, message: str, *, over_http: bool = False) -> list[str]:
    """``message`` over MLLP, or over ``POST /v1/hl7`` as the lab: its MSA fields."""
    if over_http:
        headers = {"Authorization": f"Bearer {lab.lab_token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{lab.http}/v1/hl7", data=message, headers=headers) as answer,
        ):
            return msa(await answer.text())
    client = await lab.mllp()
    try:
        return msa(await client.exchange(message))
    finally:
        await client.close()


def _central_crp(control_id: str, value: str, status: str = "F") -> str:
    """LAB2^CENTRAL's CRP of its own order ORD1, collected 30 s after the local lab's."""
    return oru(
        control_id, [obx("1988-5", value, "mg/L", status=status, observed="20261120081530+0100")],
        application="LAB2", facility="CENTRAL", order="ORD1",
    )  # fmt: skip


@pytest.mark.parametrize(("value", "over_http"), [("40", False), ("38", True)])
async def test_two_hl7_labs_under_coinciding_order_numbers_are_two_results(
    lab: Lab, value: str, over_http: bool
) -> None:
    """LIS^HOSP's CRP 40 of its order ORD1 and LAB2^CENTRAL's CRP (40: same value; 38) of its
    own order ORD1, of the same subject half a minute later: both stored; each lab's
    correction applies to its own result."""
    await _allow_central(lab)
    assert (await _hl7(lab, "L-1", "40", order="ORD1"))[1] == "AA"
    central = await _send(lab, _central_crp("C-1", value), over_http=over_http)
    assert central[1] == "AA" and "another sender" not in central[-1], (
        central, await _reason(lab)
    )  # fmt: skip
    assert await _standing(lab) == [
        ("LIS^HOSP", "crp", 40.0), ("LAB2^CENTRAL", "crp", float(value))
    ]  # fmt: skip
    corrected = await _send(lab, _central_crp("C-2", "35", "C"), over_http=over_http)
    assert corrected[1] == "AA", (corrected, await _reason(lab))
    assert (await _hl7(lab, "L-2", "41", "C", order="ORD1"))[1] == "AA", await _reason(lab)
    assert sorted(await _standing(lab)) == [
        ("LAB2^CENTRAL", "crp", 35.0), ("LIS^HOSP", "crp", 41.0)
    ]  # fmt: skip


async def test_a_fhir_correction_saying_what_the_hl7_chain_says_is_a_duplicate(lab: Lab) -> None:
    """HL7 F 12, its FHIR copy left out; HL7 C 15; the FHIR feed's correction to 15 is a
    duplicate (200, nothing created); its correction to 16 still refused, naming LIS^HOSP."""
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    status, outcome = await lab.post_fhir("/fhir/Observation", _fhir_crp(12))
    assert status == 200 and "another sender" in _diagnostics(outcome), outcome
    assert (await _hl7(lab, "H-2", "15", "C"))[1] == "AA"
    status, outcome = await lab.post_fhir(
        "/fhir/Observation", _fhir_crp(15, "corrected", issued=CORRECTED)
    )
    assert status == 200 and "another sender" in _diagnostics(outcome), (status, outcome)
    status, outcome = await lab.post_fhir(
        "/fhir/Observation", _fhir_crp(16, "corrected", issued=CORRECTED)
    )
    said = _diagnostics(outcome)
    assert status == 422 and "unknown-corrected-result" in said and "'LIS^HOSP'" in said, said
    assert await _standing(lab) == [("LIS^HOSP", "crp", 15.0)]


async def test_an_hl7_correction_saying_what_the_fhir_chain_says_is_left_out_beside_its_panel(
    lab: Lab,
) -> None:
    """The FHIR feed holds CRP 12 corrected to 15; the HL7 feed's message correcting the CRP
    to 15 with the order's platelet count: AA, the platelets stored, the CRP left out; its
    correction to 16 refuses its message (AE naming the FHIR sender)."""
    assert (await lab.post_fhir("/fhir/Observation", _fhir_crp(12)))[0] == 201
    corrected = _fhir_crp(15, "corrected", issued=CORRECTED)
    assert (await lab.post_fhir("/fhir/Observation", corrected))[0] == 201
    fhir = str(
        await lab.pool.fetchval("SELECT source FROM messages WHERE channel = 'fhir' LIMIT 1")
    )
    panel = [obx("1988-5", "15", "mg/L", status="C"), obx("777-3", "180", "10*9/L")]
    ack = await _send(lab, oru("H-1", panel, order="ORD7"))
    assert ack[1] == "AA" and "another sender" in ack[-1], (ack, await _reason(lab))
    refused = await _hl7(lab, "H-2", "16", "C")
    assert refused[1] == "AE" and repr(fhir) in await _reason(lab), refused
    assert "unknown-corrected-result" in str(
        await lab.pool.fetchval("SELECT reason_code FROM rejections")
    )
    assert await _standing(lab) == [(fhir, "crp", 15.0), ("LIS^HOSP", "platelets", 180.0)]


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
async def test_a_withdrawal_of_a_chain_withdrawn_over_the_other_feed_is_a_duplicate(
    lab: Lab, status: str
) -> None:
    """HL7 F 12, its FHIR copy left out, HL7 D: the FHIR feed's withdrawal (with its value)
    is a duplicate (200, nothing created); and the other way: the FHIR feed's result
    withdrawn, the HL7 feed's D is answered AA, nothing stored."""
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    assert (await lab.post_fhir("/fhir/Observation", _fhir_crp(12)))[0] == 200
    assert (await _hl7(lab, "H-2", "12", "D"))[1] == "AA"
    answer, outcome = await lab.post_fhir(
        "/fhir/Observation", _fhir_crp(12, status, issued=CORRECTED)
    )
    assert answer == 200 and "another sender" in _diagnostics(outcome), (answer, outcome)
    ord8 = {"order": "ORD8", "effective": "2026-11-21T08:15:00+01:00",
            "issued": "2026-11-21T09:00:00+01:00"}  # fmt: skip
    assert (await lab.post_fhir("/fhir/Observation", _fhir_crp(7, **ord8)))[0] == 201
    withdrawn = _fhir_crp(7, status, **ord8 | {"issued": "2026-11-21T10:00:00+01:00"})
    assert (await lab.post_fhir("/fhir/Observation", withdrawn))[0] == 200
    ack = await _hl7(lab, "H-3", "7", "D", order="ORD8", observed="20261121081500+0100")
    assert ack[1] == "AA" and "another sender" in ack[-1], (ack, await _reason(lab))
    assert await _standing(lab) == []
    assert await lab.pool.fetchval(WITHDRAWN) == 2
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 0


async def test_a_withdrawal_while_the_other_feed_holds_a_standing_result_is_refused(
    lab: Lab,
) -> None:
    """HL7 F 12 standing: the FHIR feed's entered-in-error of its copy is refused as before
    (withdrawn through the feed that holds it)."""
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    answer, outcome = await lab.post_fhir(
        "/fhir/Observation", _fhir_crp(12, "entered-in-error", issued=CORRECTED)
    )
    said = _diagnostics(outcome)
    assert answer == 422 and "unknown-corrected-result" in said and "'LIS^HOSP'" in said, said
    assert await _standing(lab) == [("LIS^HOSP", "crp", 12.0)]
