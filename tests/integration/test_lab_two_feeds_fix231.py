"""One sample over HL7 and the lab's FHIR feed: review 226's preliminary cases (task 231).
Patient MRN1, CRP of order ORD7; HL7 = LIS^HOSP over MLLP, FHIR = the lab's token,
identifier FILL=ORD7.

D2. the FHIR feed holds only a preliminary 12 of the sample: one HL7 message [F 12, C 13]
    or [F 12, W] was refused whole (AE, naming the FHIR sender) across batches, while [F 12]
    alone was stored and the same message in one batch too. A preliminary is never
    published: the message is stored, its C or W acting on its own F;
D3. HL7 F 12, W, then P 12 (a new preliminary), then the FHIR feed's entered-in-error of
    its 12: across batches it was refused naming the HL7 sender (its preliminary counted
    as the result the withdrawal was meant for), in one batch left out as a duplicate of
    HL7's withdrawal. The sample's published result was withdrawn already: a duplicate
    (200, nothing created) both ways;
D5. HL7 P 12 withdrawn by HL7 W, then the FHIR final 12 (stored, standing), then HL7 W: it
    was answered AA "duplicate" (the patient's withdrawn preliminary turned the check
    against the other feed off) and C 15 "correction of a withdrawn result" while FHIR's 12
    stood published. Refused naming the FHIR sender (a C saying 12 left out as its
    duplicate), as after another patient's withdrawn result (review 219)."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import obx, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _fhir_sender, _hl7, _reason
from tests.integration.test_lab_two_feeds_review192 import _send
from tests.integration.test_lab_two_feeds_review202 import (
    LATER,
    _events,
    _fhir_send,
    _hl7_send,
    _one_batch,
    _post,
    _rejections,
    _standing,
)

pytestmark = pytest.mark.integration

SHAPES = {"F12-C13": [("12", "F"), ("13", "C")], "F12-W": [("12", "F"), ("12", "W")]}


def _message(shape: str) -> str:
    return oru("H-1", [obx("1988-5", v, "mg/L", status=s) for v, s in SHAPES[shape]],
               order="ORD7")  # fmt: skip


# --- D2: the other feed holds only a preliminary --------------------------------------------


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_a_final_and_its_change_in_one_message_beside_the_other_feeds_preliminary(
    lab: Lab, shape: str, batched: bool
) -> None:
    message = _message(shape)
    preliminary = _fhir_crp(12, "preliminary")
    if batched:
        answers = await _one_batch(lab, [_fhir_send(lab, preliminary), lambda: _send(lab, message)])
        assert answers[0][0] == 201, answers
    else:
        assert (await _post(lab, preliminary))[0] == 201
        answers = [await _send(lab, message)]
    assert answers[-1][1] == "AA", (answers, await _reason(lab))
    assert await _rejections(lab) == []
    # ORD7's events (a batch's filler order ORDQ says 1 and 2); a correction is recorded
    ord7 = [(kind, value) for kind, _, value in await _events(lab) if value not in (1.0, 2.0)]
    if shape == "F12-C13":
        assert await _standing(lab) == [("LIS^HOSP", 13.0)]
        assert ord7 == [("LabResultRecorded", 12.0), ("LabResultRecorded", 13.0)], ord7
    else:
        assert await _standing(lab) == []
        assert ord7 == [("LabResultRecorded", 12.0), ("LabResultCancelled", None)], ord7


# --- D3: the other feed's preliminary beside its withdrawn final ------------------------------


@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_a_withdrawal_of_a_result_withdrawn_over_hl7_is_a_duplicate_beside_its_preliminary(
    lab: Lab, batched: bool
) -> None:
    gone = _fhir_crp(12, "entered-in-error", issued=LATER)
    if batched:
        answers = await _one_batch(lab, [
            _hl7_send(lab, "H-1", "12"), _hl7_send(lab, "H-2", "12", "W"),
            _hl7_send(lab, "H-3", "12", "P"), _fhir_send(lab, gone),
        ])  # fmt: skip
        assert [a[1] for a in answers[:3]] == ["AA"] * 3, answers
    else:
        assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
        assert (await _hl7(lab, "H-2", "12", "W"))[1] == "AA"
        assert (await _hl7(lab, "H-3", "12", "P"))[1] == "AA"
        answers = [await _post(lab, gone)]
    assert answers[-1][0] == 200, answers
    assert await _rejections(lab) == []
    assert await _standing(lab) == []
    fhir = await lab.pool.fetchval("SELECT count(*) FROM results r JOIN messages m"
                                   " USING (message_id) WHERE m.channel = 'fhir'")  # fmt: skip
    assert fhir == 0


# --- D5: the patient's own withdrawn preliminary -----------------------------------------------


@pytest.mark.parametrize("batched", [False, True], ids=["across-batches", "one-batch"])
async def test_after_the_patients_withdrawn_preliminary_a_change_is_checked_against_fhir(
    lab: Lab, batched: bool
) -> None:
    assert (await _hl7(lab, "H-1", "12", "P"))[1] == "AA"
    assert (await _hl7(lab, "H-2", "12", "W"))[1] == "AA"
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    fhir = await _fhir_sender(lab)
    changes = [("H-3", "12", "W"), ("H-4", "15", "C"), ("H-5", "12", "C")]
    if batched:
        answers = await _one_batch(lab, [_hl7_send(lab, *change) for change in changes])
        reasons = [
            str(r["reason"]) for r in await lab.pool.fetch(
                "SELECT reason FROM rejections ORDER BY received_at")
        ]  # fmt: skip
    else:
        answers, reasons = [], []
        for change in changes:
            answers.append(await _hl7(lab, *change))
            if answers[-1][1] == "AE":
                reasons.append(await _reason(lab))
    assert [a[1] for a in answers] == ["AE", "AE", "AA"], (answers, reasons)
    assert "already held by another sender" in answers[2][3], answers
    assert len(reasons) == 2
    assert reasons[0].startswith("withdraw it through sender") and repr(fhir) in reasons[0]
    assert reasons[1].startswith("correct it through sender") and repr(fhir) in reasons[1]
    assert await _rejections(lab) == ["unknown-corrected-result"] * 2
    assert await _standing(lab) == [(fhir, 12.0)]
