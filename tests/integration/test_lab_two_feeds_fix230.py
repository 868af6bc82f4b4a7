"""One sample over HL7 and the lab's FHIR feed: a commit batch that frees a result key
answers as the same messages across batches do (review 226, D1 and D1b). Patient A = MRN4711,
B = MRN4799 (S-200); CRP of order ORD7; HL7 = LIS^HOSP over MLLP, FHIR = the lab's token,
identifier FILL=ORD7; "one batch" = ``_one_batch``.

D1: B's HL7 final 30 under ORD7 and A's FHIR final 12 stand. B's HL7 withdrawal and then
A's HL7 result under ORD7 in one batch: the batch's read found the key holding B's final,
so it read none of A's FHIR results, and A's final 40 was stored beside A's FHIR final 12
(two standing finals of one sample), A's F 12 stored as a second copy, and A's W and C 15
refused as changing nothing of A's. Across batches: 40 is refused naming the FHIR sender,
12 is left out as its duplicate, W and C 15 refused naming it. The mirror over FHIR too.

D1b: HL7 [F 13, W] withdrew A's 13; FHIR final 12 stands. FHIR's entered-in-error of its 12
and then its final 13 in one batch stored 13, a late copy of HL7's withdrawn 13 (refused
``ambiguous-version`` across batches)."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import obx, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _hl7, _reason
from tests.integration.test_lab_review197 import _enrol
from tests.integration.test_lab_two_feeds_fix223 import OTHER, _others, _others_fhir
from tests.integration.test_lab_two_feeds_review192 import _send
from tests.integration.test_lab_two_feeds_review202 import (
    LATER,
    _fhir_send,
    _fhir_sender,
    _hl7_send,
    _one_batch,
    _post,
    _rejections,
    _standing,
)

pytestmark = pytest.mark.integration

A_HL7 = {"F40": ("40", "F"), "F12": ("12", "F"), "W": ("12", "W"), "C15": ("15", "C")}


@pytest.mark.parametrize("what", list(A_HL7))
@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_a_hl7_result_after_another_patients_withdrawal_in_its_batch(
    lab: Lab, what: str, batched: bool
) -> None:
    await _enrol(lab, "S-200", OTHER)
    assert (await _send(lab, _others("F", "B-1")))[1] == "AA", await _reason(lab)
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    others_w = _others("W", "B-2")
    value, status = A_HL7[what]
    if batched:
        answers = await _one_batch(lab, [
            lambda: _send(lab, others_w), _hl7_send(lab, "H-1", value, status),
        ])  # fmt: skip
    else:
        answers = [await _send(lab, others_w), await _hl7(lab, "H-1", value, status)]
    fhir = await _fhir_sender(lab)
    assert answers[0][1] == "AA", answers
    assert await _standing(lab) == [(fhir, 12.0)]  # never two finals of A's sample
    if what == "F12":  # the FHIR result's duplicate, left out
        assert answers[1][1] == "AA" and "another sender" in answers[1][-1], answers
    else:  # refused naming the FHIR sender
        assert answers[1][1] == "AE", answers
        assert repr(fhir) in await _reason(lab)
        if what == "F40":  # a second final of the sample: which version stands is unclear
            assert (await _rejections(lab))[-1] == "ambiguous-version"


@pytest.mark.parametrize("value", [40, 12])
@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_a_fhir_result_after_another_patients_withdrawal_in_its_batch(
    lab: Lab, value: int, batched: bool
) -> None:
    """A's HL7 F 12; B's FHIR final 30 under FILL=ORD7; B's entered-in-error, A's FHIR final."""
    await _enrol(lab, "S-200", OTHER)
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    assert (await _post(lab, _others_fhir(30, issued="2026-11-20T09:00:00+01:00")))[0] == 201
    gone = _others_fhir(30, "entered-in-error", issued=LATER)
    mine = _fhir_crp(value, issued=LATER)
    if batched:
        answers = await _one_batch(lab, [_fhir_send(lab, gone), _fhir_send(lab, mine)])
    else:
        answers = [await _post(lab, gone), await _post(lab, mine)]
    assert answers[0][0] == 200, answers
    assert await _standing(lab) == [("LIS^HOSP", 12.0)]
    assert answers[1][0] == (200 if value == 12 else 422), answers


@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_a_late_copy_after_its_own_feeds_withdrawal_in_its_batch(
    lab: Lab, batched: bool
) -> None:
    msg = oru("H-1", [obx("1988-5", "13", "mg/L", status="F"),
                      obx("1988-5", "13", "mg/L", status="W")], order="ORD7")  # fmt: skip
    assert (await _send(lab, msg))[1] == "AA"
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    gone = _fhir_crp(12, "entered-in-error", issued=LATER)
    late = _fhir_crp(13, issued="2026-11-20T11:00:00+01:00")
    if batched:
        answers = await _one_batch(lab, [_fhir_send(lab, gone), _fhir_send(lab, late)])
    else:
        answers = [await _post(lab, gone), await _post(lab, late)]
    assert answers[0][0] == 200, answers
    assert answers[1][0] == 422, answers  # HL7's withdrawn 13, again
    assert (await _rejections(lab))[-1] == "ambiguous-version"
    assert await _standing(lab) == []
