"""One sample over HL7 and the lab's FHIR feed: the patient's own withdrawn preliminary
beside the other feed's results (review 233, task 239). Patient MRN1, CRP of order ORD7;
HL7 = LIS^HOSP over MLLP, FHIR = the lab's token, identifier FILL=ORD7.

D-A. HL7 P 12, W, the FHIR preliminary 12, then the HL7 W (or X) again under a new MSH-10:
     refused "withdraw it through sender ... FHIR" while the FHIR feed held only an
     unpublished preliminary (fixer 231's D5 turned the patient's own withdrawn preliminary
     off as a chain); a duplicate before it (README: a cancellation sent again for a result
     already withdrawn). So too the mirror over FHIR (422 naming LIS^HOSP), and a C 13 was
     told "correct it through sender ... FHIR" instead of "correction of a withdrawn
     result". Only the other feed's standing final or corrected result of the sample turns
     the patient's own chain answer off (D5: still refused naming it);
D-C. HL7 [P 12, W] in one message, the FHIR preliminary 12 and its entered-in-error, then
     HL7 X: answered "1 result(s) already held by another sender" while nothing was held
     anywhere."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import obx, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _fhir_sender, _hl7, _reason
from tests.integration.test_lab_two_feeds_review192 import _send
from tests.integration.test_lab_two_feeds_review202 import (
    LATER,
    _fhir_send,
    _hl7_send,
    _one_batch,
    _rejections,
    _standing,
)

pytestmark = pytest.mark.integration

AGAIN = "2026-11-20T10:05:00+01:00"  # the FHIR entered-in-error sent again, a new issued time


async def _reasons(lab: Lab) -> list[str]:
    rows = await lab.pool.fetch("SELECT reason FROM rejections ORDER BY received_at")
    return [str(r["reason"]) for r in rows]


# --- D-A: a withdrawal sent again -------------------------------------------------------------


@pytest.mark.parametrize(("status", "value"), [("W", "12"), ("X", "")])
@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_an_hl7_withdrawal_sent_again_after_its_withdrawn_preliminary_is_a_duplicate(
    lab: Lab, status: str, value: str, batched: bool
) -> None:
    """The FHIR feed holds only a preliminary 12 (never published): the resent W or X acts
    on the patient's own withdrawn chain, a duplicate as with nothing over FHIR."""
    sends = [
        _hl7_send(lab, "H-1", "12", "P"), _hl7_send(lab, "H-2", value, status),
        _fhir_send(lab, _fhir_crp(12, "preliminary")), _hl7_send(lab, "H-3", value, status),
    ]  # fmt: skip
    if batched:
        answers = await _one_batch(lab, sends)
    else:
        answers = [await send() for send in sends]
    assert answers[1][1] == "AA" and answers[2][0] == 201, answers
    assert answers[3][1] == "AA", (answers, await _reasons(lab))
    assert "another sender" not in answers[3][3], answers
    assert await _rejections(lab) == []
    assert await _standing(lab) == []


@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_a_fhir_withdrawal_sent_again_after_its_withdrawn_preliminary_is_a_duplicate(
    lab: Lab, batched: bool
) -> None:
    """The mirror: FHIR preliminary 12 and entered-in-error, HL7 P 12 (unpublished), then
    the entered-in-error again under a new issued time: 200, nothing created."""
    sends = [
        _fhir_send(lab, _fhir_crp(12, "preliminary")),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        _hl7_send(lab, "H-1", "12", "P"),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=AGAIN)),
    ]
    if batched:
        answers = await _one_batch(lab, sends)
    else:
        answers = [await send() for send in sends]
    assert [answers[0][0], answers[1][0], answers[2][1]] == [201, 200, "AA"], answers
    assert answers[3][0] == 200, (answers, await _reasons(lab))
    assert await _rejections(lab) == []
    assert await _standing(lab) == []


# --- D-A follow-on: a correction ---------------------------------------------------------------


@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_a_correction_after_the_withdrawn_preliminary_is_told_it_was_withdrawn(
    lab: Lab, batched: bool
) -> None:
    """HL7 P 12, W, the FHIR preliminary 12, then HL7 C 13: "correction of a withdrawn
    result" (its own chain's answer), never "correct it through sender ... FHIR"."""
    sends = [
        _hl7_send(lab, "H-1", "12", "P"), _hl7_send(lab, "H-2", "12", "W"),
        _fhir_send(lab, _fhir_crp(12, "preliminary")), _hl7_send(lab, "H-3", "13", "C"),
    ]  # fmt: skip
    if batched:
        answers = await _one_batch(lab, sends)
    else:
        answers = [await send() for send in sends]
    assert answers[3][1] == "AE", answers
    reasons = await _reasons(lab)
    assert len(reasons) == 1 and reasons[0].startswith("correction of a withdrawn result"), reasons
    assert "FHIR" not in reasons[0], reasons
    assert await _rejections(lab) == ["unknown-corrected-result"]
    assert await _standing(lab) == []


# --- D5 kept: the other feed's final planned in the same batch ----------------------------------


async def test_a_change_after_the_withdrawn_preliminary_names_a_fhir_final_of_the_batch(
    lab: Lab,
) -> None:
    """HL7 P 12 and W; then, in one batch, the FHIR final 12 and HL7 W, C 15: the published
    FHIR 12 of the batch refuses them naming its sender, as when it was stored before (fixer
    231's D5): the patient's withdrawn preliminary is no chain beside it."""
    assert (await _hl7(lab, "H-1", "12", "P"))[1] == "AA"
    assert (await _hl7(lab, "H-2", "12", "W"))[1] == "AA"
    answers = await _one_batch(lab, [
        _fhir_send(lab, _fhir_crp(12)), _hl7_send(lab, "H-3", "12", "W"),
        _hl7_send(lab, "H-4", "15", "C"),
    ])  # fmt: skip
    fhir = await _fhir_sender(lab)
    reasons = await _reasons(lab)
    assert answers[0][0] == 201, answers
    assert [a[1] for a in answers[1:]] == ["AE", "AE"], (answers, reasons)
    assert reasons[0].startswith("withdraw it through sender") and repr(fhir) in reasons[0]
    assert reasons[1].startswith("correct it through sender") and repr(fhir) in reasons[1]
    assert await _standing(lab) == [(fhir, 12.0)]


# --- D-C: nothing held anywhere -----------------------------------------------------------------


@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_an_x_beside_two_withdrawn_preliminaries_is_not_told_held_by_another_sender(
    lab: Lab, batched: bool
) -> None:
    """HL7 [P 12, W] in one message, the FHIR preliminary 12 and its entered-in-error, then
    HL7 X: both feeds hold only withdrawn preliminaries, so nothing is another sender's."""
    message = oru("H-1", [obx("1988-5", "12", "mg/L", status="P"),
                          obx("1988-5", "12", "mg/L", status="W")], order="ORD7")  # fmt: skip
    sends = [
        lambda: _send(lab, message),
        _fhir_send(lab, _fhir_crp(12, "preliminary")),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        _hl7_send(lab, "H-2", "", "X"),
    ]
    if batched:
        answers = await _one_batch(lab, sends)
    else:
        answers = [await send() for send in sends]
    assert [answers[0][1], answers[1][0], answers[2][0]] == ["AA", 201, 200], answers
    assert answers[3][1] == "AA", (answers, await _reason(lab))
    assert "another sender" not in answers[3][3], answers
    assert await _rejections(lab) == []
    assert await _standing(lab) == []


@pytest.mark.parametrize(("status", "value"), [("W", "12"), ("X", "")])
@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_a_withdrawal_beside_the_other_feeds_withdrawn_preliminary_alone(
    lab: Lab, status: str, value: str, batched: bool
) -> None:
    """The FHIR preliminary 12 and its entered-in-error, then an HL7 W or X with nothing of
    its own: no published result of the sample was withdrawn, so it repeats nothing (across
    batches it was "1 result(s) already held by another sender"): a W is refused
    "cancellation of nothing stored", an X a first report, alike in one batch."""
    sends = [
        _fhir_send(lab, _fhir_crp(12, "preliminary")),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        _hl7_send(lab, "H-1", value, status),
    ]
    if batched:
        answers = await _one_batch(lab, sends)
    else:
        answers = [await send() for send in sends]
    assert [answers[0][0], answers[1][0]] == [201, 200], answers
    assert "another sender" not in answers[2][3], answers
    if status == "W":
        assert answers[2][1] == "AE", answers
        assert (await _reason(lab)).startswith("cancellation of nothing stored")
        assert await _rejections(lab) == ["unknown-corrected-result"]
    else:
        assert answers[2][1] == "AA", answers
        assert await _rejections(lab) == []
    assert await _standing(lab) == []
