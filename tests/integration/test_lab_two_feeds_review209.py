"""One sample over HL7 and the lab's FHIR feed: review 209's known limits of the copy rule
(task 210). Patient A = MRN4711 (S-100), CRP of order ORD7 collected 20 November 08:15; B =
MRN4799 (S-200), whose preliminary CRP shares the HL7 order and test; HL7 = LIS^HOSP over
MLLP (and ``POST /v1/hl7``), FHIR = the lab's token, identifier FILL=ORD7.

1. a duplicate HL7 withdrawal of A's result the FHIR feed already withdrew was refused
   ``unknown-corrected-result`` when B's preliminary shared the order (counted as one A's
   withdrawal could act on): left out, ``AA``, as without B's preliminary;
2. an HL7 final saying what the FHIR feed's standing final of the sample says was refused
   ``result-of-another-patient`` when B's preliminary shared the order (the shared-key
   refusal ran before the copy rule): left out as its duplicate, nothing stored beside B's
   preliminary; a final saying another value keeps its refusal (``ambiguous-version``
   naming the FHIR sender);
3. a correction under a key holding nothing, whose other feed's chain of the sample was
   withdrawn, was told "send the final result first" (following that advice, the same value
   is refused as a late copy): refused ``unknown-corrected-result`` saying the sample's
   result was withdrawn over the other feed.

Each across batches (the fast path, whose plan is read again: nothing answered without a
read) and in one commit batch, on the careful path too."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import obx, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _hl7, _reason
from tests.integration.test_lab_review197 import _enrol
from tests.integration.test_lab_two_feeds_review192 import _send
from tests.integration.test_lab_two_feeds_review202 import (
    LATER,
    Send,
    _events,
    _fhir_send,
    _fhir_sender,
    _hl7_send,
    _one_batch,
    _post,
    _rejections,
    _standing,
)

pytestmark = pytest.mark.integration

OTHER = "MRN4799"  # patient B (S-200), whose preliminary shares A's HL7 order and test
SEND_FINAL_FIRST = "send the final result first"
PRELIMINARIES = (
    "SELECT subject_id, value FROM results WHERE status = 'P' AND cancelled_at IS NULL"
    " ORDER BY recorded_at"
)


async def _others_preliminary(lab: Lab, control_id: str = "B-1") -> None:
    """B's preliminary CRP 30 under the HL7 order and test of A's result (ORD7)."""
    await _enrol(lab, "S-200", OTHER)
    message = oru(control_id, [obx("1988-5", "30", "mg/L", status="P")], mrn=OTHER, order="ORD7")
    assert (await _send(lab, message))[1] == "AA", await _reason(lab)


def _others_preliminary_send(lab: Lab) -> Send:
    message = oru("B-1", [obx("1988-5", "30", "mg/L", status="P")], mrn=OTHER, order="ORD7")
    return lambda: _send(lab, message)


async def _preliminaries(lab: Lab) -> list[tuple[str, float]]:
    return [(r["subject_id"], r["value"]) for r in await lab.pool.fetch(PRELIMINARIES)]


def _careful(lab: Lab, careful: bool) -> list[Send]:
    """A correction of another order (ORDQ) first in the batch: it is read (the careful
    path) from the start; else planned without a read (the fast path) until a result needs
    one."""
    return [_hl7_send(lab, "Q-2", "3", "C", "ORDQ", "20261118081500+0100")] if careful else []


# --- 1: a duplicate withdrawal beside another patient's preliminary --------------------------


@pytest.mark.parametrize("status", ["W", "D"])
async def test_a_duplicate_hl7_withdrawal_beside_another_patients_preliminary_is_left_out(
    lab: Lab, status: str
) -> None:
    """FHIR F 12 of A, its entered-in-error; B's HL7 P 30 under ORD7; A's HL7 W (D): a
    duplicate of the FHIR withdrawal, AA, nothing stored, B's preliminary untouched."""
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    assert (await _post(lab, _fhir_crp(12, "entered-in-error", issued=LATER)))[0] == 200
    await _others_preliminary(lab)
    ack = await _hl7(lab, "H-1", "12", status)
    assert ack[1] == "AA" and "another sender" in ack[-1], (ack, await _reason(lab))
    assert await _rejections(lab) == []
    assert await _preliminaries(lab) == [("S-200", 30.0)]
    assert [e[0] for e in await _events(lab)] == ["LabResultRecorded", "LabResultCancelled"]


@pytest.mark.parametrize("careful", [False, True])
async def test_in_one_batch_a_duplicate_withdrawal_beside_another_patients_preliminary(
    lab: Lab, careful: bool
) -> None:
    """The same in one commit batch: FHIR F 12, its entered-in-error, B's HL7 P, A's HL7 W."""
    await _enrol(lab, "S-200", OTHER)
    sends = [
        *_careful(lab, careful), _fhir_send(lab, _fhir_crp(12)),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        _others_preliminary_send(lab), _hl7_send(lab, "H-1", "12", "W"),
    ]  # fmt: skip
    answers = await _one_batch(lab, sends)
    ack = answers[-1]
    assert ack[1] == "AA" and "another sender" in ack[-1], (answers, await _reason(lab))
    assert await _rejections(lab) == []
    assert await _preliminaries(lab) == [("S-200", 30.0)]


# --- 2: a duplicate final beside another patient's preliminary -----------------------------


@pytest.mark.parametrize("over_http", [False, True])
async def test_a_duplicate_hl7_final_beside_another_patients_preliminary_is_left_out(
    lab: Lab, over_http: bool
) -> None:
    """FHIR F 12 of A; B's HL7 P 30 under ORD7; A's HL7 F 12: left out as the FHIR final's
    duplicate (AA "already held by another sender"), nothing stored beside B's
    preliminary; A's HL7 F 40 keeps its refusal: ambiguous-version naming the FHIR sender."""
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    fhir = await _fhir_sender(lab)
    await _others_preliminary(lab)
    copy = oru("H-1", [obx("1988-5", "12", "mg/L")], order="ORD7")
    ack = await _send(lab, copy, over_http=over_http)
    assert ack[1] == "AA" and "another sender" in ack[-1], (ack, await _reason(lab))
    assert await _rejections(lab) == []
    assert await _standing(lab) == [(fhir, 12.0)]
    assert await _preliminaries(lab) == [("S-200", 30.0)]
    other = oru("H-2", [obx("1988-5", "40", "mg/L")], order="ORD7")
    refused = await _send(lab, other, over_http=over_http)
    assert refused[1] == "AE" and repr(fhir) in await _reason(lab), refused
    assert await _rejections(lab) == ["ambiguous-version"]
    assert await _standing(lab) == [(fhir, 12.0)]
    assert [e[0] for e in await _events(lab)] == ["LabResultRecorded"]


@pytest.mark.parametrize("careful", [False, True])
async def test_in_one_batch_a_duplicate_final_beside_another_patients_preliminary(
    lab: Lab, careful: bool
) -> None:
    """The same in one commit batch: FHIR F 12, B's HL7 P, A's HL7 F 12 (left out)."""
    await _enrol(lab, "S-200", OTHER)
    sends = [
        *_careful(lab, careful), _fhir_send(lab, _fhir_crp(12)), _others_preliminary_send(lab),
        _hl7_send(lab, "H-1", "12"),
    ]  # fmt: skip
    answers = await _one_batch(lab, sends)
    ack = answers[-1]
    assert ack[1] == "AA" and "another sender" in ack[-1], (answers, await _reason(lab))
    assert await _rejections(lab) == []
    assert await _standing(lab) == [(await _fhir_sender(lab), 12.0)]
    assert await _preliminaries(lab) == [("S-200", 30.0)]


# --- 3: a correction of a result withdrawn over the other feed ------------------------------


def _withdrawn_over_the_other_feed(said: str, sender: str) -> None:
    assert "withdrawn" in said and repr(sender) in said, said
    assert "order number of its own" in said or "identifier of its own" in said, said  # FHIR
    assert SEND_FINAL_FIRST not in said, said


@pytest.mark.parametrize("value", ["15", "12"])
async def test_an_hl7_correction_of_a_result_withdrawn_over_fhir_is_refused_so(
    lab: Lab, value: str
) -> None:
    """FHIR F 12, its entered-in-error; HL7 C 15 (or 12) under the empty HL7 key: refused
    unknown-corrected-result saying the sample's result was withdrawn over the other feed,
    never "send the final result first"; nothing stored."""
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    assert (await _post(lab, _fhir_crp(12, "entered-in-error", issued=LATER)))[0] == 200
    fhir = await _fhir_sender(lab)
    ack = await _hl7(lab, "H-1", value, "C")
    said = await _reason(lab)
    assert ack[1] == "AE", (ack, said)
    _withdrawn_over_the_other_feed(said, fhir)
    assert SEND_FINAL_FIRST not in ack[3] and "withdrawn" in ack[3], ack  # MSA-3
    assert await _rejections(lab) == ["unknown-corrected-result"]
    assert await _standing(lab) == []
    assert [e[0] for e in await _events(lab)] == ["LabResultRecorded", "LabResultCancelled"]


@pytest.mark.parametrize("status", ["corrected", "amended"])
async def test_a_fhir_correction_of_a_result_withdrawn_over_hl7_is_refused_so(
    lab: Lab, status: str
) -> None:
    """HL7 F 12, HL7 W; the FHIR feed's corrected (amended) 15 under its empty key: 422
    unknown-corrected-result saying the result was withdrawn through LIS^HOSP."""
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    assert (await _hl7(lab, "H-2", "12", "W"))[1] == "AA"
    answer, said = await _post(lab, _fhir_crp(15, status, issued=LATER))
    assert answer == 422 and "unknown-corrected-result" in said, (answer, said)
    _withdrawn_over_the_other_feed(said, "LIS^HOSP")
    assert await _rejections(lab) == ["unknown-corrected-result"]
    assert await _standing(lab) == []


@pytest.mark.parametrize("careful", [False, True])
async def test_in_one_batch_a_correction_of_a_result_withdrawn_over_the_other_feed(
    lab: Lab, careful: bool
) -> None:
    """The same in one commit batch: FHIR F 12, its entered-in-error, HL7 C 15."""
    sends = [
        *_careful(lab, careful), _fhir_send(lab, _fhir_crp(12)),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        _hl7_send(lab, "H-1", "15", "C"),
    ]  # fmt: skip
    answers = await _one_batch(lab, sends)
    assert answers[-1][1] == "AE", answers
    fhir = await _fhir_sender(lab)
    _withdrawn_over_the_other_feed(await _reason(lab), fhir)
    assert await _rejections(lab) == ["unknown-corrected-result"]
    assert await _standing(lab) == []


async def test_a_correction_after_a_new_final_in_its_message_is_applied(lab: Lab) -> None:
    """FHIR F 12 withdrawn; one HL7 message holding F 13 (a new result: another value) and
    then C 14 of it: both applied (the message's own chain), 14 standing."""
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    assert (await _post(lab, _fhir_crp(12, "entered-in-error", issued=LATER)))[0] == 200
    both = oru(
        "H-1", [obx("1988-5", "13", "mg/L"), obx("1988-5", "14", "mg/L", status="C")],
        order="ORD7",
    )  # fmt: skip
    ack = await _send(lab, both)
    assert ack[1] == "AA", (ack, await _reason(lab))
    assert await _standing(lab) == [("LIS^HOSP", 14.0)]
