"""One sample's CRP reported over HL7 and over the lab's FHIR feed (review 181, defect 2).

Each sender keeps its results under its own keys: the HL7 CRP of order ORD7 as
``ORD7|1988-5|`` (sender LIS^HOSP), the FHIR Observation whose identifier typed FILL is ORD7
as ``ORD7|1988-5`` (the token's sender). Before, the second feed's copy was a second result,
so a correction or withdrawal sent one way left the other copy standing, and crp-monitor
served the stale value beside the corrected one. Now a result over either feed whose own key
holds nothing, while the patient's result of the test sharing its order number (and, for a
final result, collected at the same time) stands under the other sender, is refused naming
that sender (kept, ``lab.rejected.v1``): a final result as a second copy, a correction or
withdrawal told to go through the feed that holds the result, never "send the final result
first" (which made the copy). A final copy saying the same is a duplicate, left out (review
188). A final result of another sample or order is stored."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_fhir_cancelled_never_resulted import (
    _diagnostics,
    _observation,
    _results,
)
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

FILL = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "FILL"}]}
SAMPLE = "2026-11-20T08:15:00+01:00"  # the HL7 fixtures' OBX-14 (lab_fixtures.TS)
REJECTED = "SELECT count(*) FROM outbox WHERE topic = $1"


def _fhir_crp(value: float | None, status: str = "final", order: str = "ORD7",
              effective: str = SAMPLE, issued: str = "2026-11-20T09:00:00+01:00",
              ) -> dict[str, Any]:  # fmt: skip
    """The lab's FHIR copy of the CRP of ``order`` (identifier typed FILL)."""
    return _observation("unused", "1988-5", value, status=status, issued=issued) | {
        "identifier": [{"type": FILL, "value": order}],
        "effectiveDateTime": effective,
    }


async def _hl7(
    lab: Lab, control_id: str, value: str, status: str = "F", order: str = "ORD7",
    observed: str = "20261120081500+0100",
) -> list[str]:  # fmt: skip
    client = await lab.mllp()
    try:
        ack = await client.exchange(
            oru(control_id, [obx("1988-5", value, "mg/L", status=status, observed=observed)],
                order=order)
        )  # fmt: skip
    finally:
        await client.close()
    return msa(ack)


async def _reason(lab: Lab) -> str:
    """The reason of the rejection kept last (an ACK's MSA-3 is cut at 80 characters)."""
    return str(
        await lab.pool.fetchval("SELECT reason FROM rejections ORDER BY received_at DESC LIMIT 1")
    )


async def _fhir_sender(lab: Lab) -> str:
    """The FHIR token's sender name, as the answers name it."""
    return str(
        await lab.pool.fetchval("SELECT source FROM messages WHERE channel = 'fhir' LIMIT 1")
    )


async def test_a_fhir_copy_of_an_hl7_result_is_refused_and_its_correction_names_hl7(
    lab: Lab,
) -> None:
    """Input A: HL7 F 40; the FHIR correction to 4 is told to go through LIS^HOSP, never
    "send the final result first"; a FHIR final 41 is refused as a second copy, the FHIR
    final 40 it would have sent is left out as a duplicate (review 188); the HL7 correction
    then corrects the one result."""
    assert (await _hl7(lab, "H-1", "40"))[1] == "AA"
    status, outcome = await lab.post_fhir(
        "/fhir/Observation", _fhir_crp(4, "corrected", issued="2026-11-20T10:00:00+01:00")
    )
    said = _diagnostics(outcome)
    assert status == 422 and "unknown-corrected-result" in said, (status, said)
    assert "'LIS^HOSP'" in said and "send the final result first" not in said, said
    status, outcome = await lab.post_fhir("/fhir/Observation", _fhir_crp(41))
    said = _diagnostics(outcome)
    assert status == 422 and "ambiguous-version" in said, (status, said)
    assert "'LIS^HOSP'" in said, said
    # saying what the HL7 result says, it is a duplicate of it (review 188): nothing stored
    status, outcome = await lab.post_fhir("/fhir/Observation", _fhir_crp(40))
    assert status == 200 and "another sender" in _diagnostics(outcome), outcome
    assert await _results(lab) == [("crp", 40.0, False)]
    assert await lab.pool.fetchval(REJECTED, LAB_REJECTED) == 2  # kept, and published
    assert (await _hl7(lab, "H-2", "4", "C"))[1] == "AA"
    assert await _results(lab) == [("crp", 40.0, False), ("crp", 4.0, False)]


async def test_an_hl7_copy_of_a_fhir_result_is_refused_on_the_fast_path_too(lab: Lab) -> None:
    """Input B: the FHIR final 40 first. The patient is known from an earlier HL7 message
    (another order), so the HL7 final takes the fast path, whose write finds the FHIR copy
    and has it read and refused (AE naming the FHIR sender; saying 40 as the FHIR result does,
    it is left out as a duplicate, AA: review 188); its correction and withdrawal
    over HL7 are refused likewise, never "send the final result first" nor left out as a
    test never resulted while the FHIR result stands."""
    assert (await _hl7(lab, "H-0", "3", order="ORD1", observed="20261119081500+0100"))[1] == "AA"
    status, outcome = await lab.post_fhir("/fhir/Observation", _fhir_crp(40))
    assert status == 201, outcome
    fhir = await _fhir_sender(lab)
    final = await _hl7(lab, "H-1", "41")
    assert final[1] == "AE" and repr(fhir) in await _reason(lab), (final, await _reason(lab))
    # saying what the FHIR result says, it is a duplicate of it (review 188): nothing stored
    same = await _hl7(lab, "H-1b", "40")
    assert same[1] == "AA" and "another sender" in same[-1], same
    corrected = await _hl7(lab, "H-2", "4", "C")
    said = await _reason(lab)
    assert corrected[1] == "AE" and repr(fhir) in said, (corrected, said)
    assert "send the final result first" not in said, said
    withdrawn = await _hl7(lab, "H-3", "", "X")
    assert withdrawn[1] == "AE" and repr(fhir) in await _reason(lab), withdrawn
    assert await _results(lab) == [("crp", 3.0, False), ("crp", 40.0, False)]
    assert await lab.pool.fetchval(REJECTED, LAB_REJECTED) == 3


async def test_another_sample_or_order_over_the_other_feed_is_stored(lab: Lab) -> None:
    """The copy is refused only for the same sample: a FHIR CRP of order ORD7 collected a
    day later (another draw under the order), or of order ORD8, is a result of its own."""
    assert (await _hl7(lab, "H-1", "40"))[1] == "AA"
    later = _fhir_crp(12, effective="2026-11-21T08:15:00+01:00", issued="2026-11-21T09:00:00+01:00")
    assert (await lab.post_fhir("/fhir/Observation", later))[0] == 201
    other = _fhir_crp(7, order="ORD8")
    assert (await lab.post_fhir("/fhir/Observation", other))[0] == 201
    assert await _results(lab) == [("crp", 40.0, False), ("crp", 12.0, False), ("crp", 7.0, False)]
