"""Review 241 over MLLP and FHIR on PostgreSQL and the broker: a FHIR ``cancelled`` without a
value (review 165: refused while a result it may be meant for stands, whatever its time) is
answered in one commit batch as one at a time. Patient MRN4711, CRP of order ORD7 collected
20 November 08:15; HL7 = LIS^HOSP; the cancellation carries FILL=ORD7, effective 10:15.

D1: after HL7's final (or preliminary) 12 of ORD7, or another token's FHIR final 12 of ORD7,
in the same commit batch, the cancellation was answered 200 "nothing stored" and the 12
stood; one at a time it is refused ``unknown-corrected-result`` naming the holder.

D2: an HL7 X beside the FHIR feed's preliminary was told that result "stands there" and that
a final sent here "is refused"; that final is stored."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from shared.auth import Role, create_token
from tests.integration.test_lab_fhir_cancelled_never_resulted import _diagnostics
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _hl7, _reason
from tests.integration.test_lab_two_feeds_review192 import _send
from tests.integration.test_lab_two_feeds_review202 import (
    Send,
    _fhir_send,
    _fhir_sender,
    _hl7_send,
    _one_batch,
    _post,
)
from tests.integration.test_lab_two_feeds_review237 import _x

pytestmark = pytest.mark.integration
BATCHED = pytest.mark.parametrize("batched", [False, True], ids=["across", "one-batch"])
CANCELLED = _fhir_crp(None, "cancelled", effective="2026-11-20T10:15:00+01:00")
HELD = """
SELECT source, status, value FROM results
 WHERE cancelled_at IS NULL AND collected_at = '2026-11-20T08:15:00+01:00'
 ORDER BY recorded_at
"""


async def _held(lab: Lab) -> list[tuple[str, str, float]]:
    """The sample's results not withdrawn, preliminary ones too."""
    return [(r["source"], r["status"], r["value"]) for r in await lab.pool.fetch(HELD)]


async def _post_as(lab: Lab, token: str, body: dict[str, Any]) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/fhir/Observation", json=body, headers=headers) as answer,
    ):
        outcome = await answer.json()
    return answer.status, _diagnostics(outcome) if "issue" in outcome else ""


def _sent_as(lab: Lab, token: str, body: dict[str, Any]) -> Send:
    return lambda: _post_as(lab, token, body)


@pytest.mark.parametrize("status", ["F", "P"])
@BATCHED
async def test_a_fhir_cancellation_at_another_time_is_refused_beside_hl7s_result(
    lab: Lab, status: str, batched: bool
) -> None:
    """HL7 F (or P) 12 of ORD7 collected 08:15, then the FHIR cancellation effective 10:15:
    refused naming LIS^HOSP, the 12 kept, in one batch as one at a time."""
    if batched:
        sends = [_hl7_send(lab, "H-1", "12", status), _fhir_send(lab, CANCELLED)]
        answers = await _one_batch(lab, sends)
    else:
        answers = [await _hl7(lab, "H-1", "12", status), await _post(lab, CANCELLED)]
    held = await _held(lab)
    assert answers[0][1] == "AA", answers
    assert answers[1][0] == 422, (answers, held)
    assert "LIS^HOSP" in answers[1][1], answers
    assert held == [("LIS^HOSP", status, 12.0)], held


@BATCHED
async def test_a_fhir_cancellation_under_another_token_is_refused_beside_its_result(
    lab: Lab, batched: bool
) -> None:
    """The lab token's FHIR final 12 of ORD7, then another lab token's cancellation of ORD7:
    refused naming the first token's sender, the 12 kept, in one batch as one at a time."""
    async with lab.pool.acquire() as conn:
        other = await create_token(conn, "central-lab-2", Role.LAB)
    final = _fhir_crp(12)
    cancelled = _fhir_crp(None, "cancelled")
    if batched:
        answers = await _one_batch(lab, [_fhir_send(lab, final), _sent_as(lab, other, cancelled)])
    else:
        answers = [await _post(lab, final), await _post_as(lab, other, cancelled)]
    held = await _held(lab)
    sender = await _fhir_sender(lab)
    assert answers[0][0] == 201, answers
    assert answers[1][0] == 422, (answers, held)
    assert sender in answers[1][1], (sender, answers)
    assert held == [(sender, "F", 12.0)], held


@BATCHED
async def test_an_hl7_x_beside_the_fhir_feeds_preliminary_is_told_it_is_held_there(
    lab: Lab, batched: bool
) -> None:
    """D2: the FHIR feed's preliminary 12 of ORD7, then HL7's X of ORD7: refused naming the
    FHIR sender, told it holds a preliminary (not that a result "stands there" nor that a
    final "is refused"); HL7's final 12 sent next is stored."""
    prelim = _fhir_crp(12, "preliminary")
    x = _x("H-1")
    if batched:
        answers = await _one_batch(lab, [_fhir_send(lab, prelim), lambda: _send(lab, x)])
    else:
        answers = [await _post(lab, prelim), await _send(lab, x)]
    assert answers[1][1] == "AE", answers
    named = (await _fhir_sender(lab)).replace("^", "\\S\\")  # MSA-3 escapes ^ as \S\
    assert f"withdraw it through sender '{named}'" in answers[1][3], answers
    reason = await _reason(lab)  # MSA-3 is cut at 80 characters
    assert "preliminary" in reason and "stands there" not in reason, reason
    assert "is refused" not in reason and "or another identifier" in reason, reason
    assert (await _hl7(lab, "H-2", "12"))[1] == "AA"
    assert ("LIS^HOSP", "F", 12.0) in await _held(lab)
