"""One sample over HL7 and the lab's FHIR feed: the copy rule beside another patient's
withdrawn result under the shared order, and a correction after its key's preliminary or
withdrawal in one message (task 223, review 219). Patient A = MRN4711 (S-100), CRP of order
ORD7 collected 20 November 08:15; B = MRN4799 (S-200), whose result 30 under the same order
and test was withdrawn; HL7 = LIS^HOSP over MLLP (and ``POST /v1/hl7``), FHIR = the lab's
token, identifier FILL=ORD7.

D1: B's withdrawn result (final or preliminary) under A's HL7 key turned the two-feed rule
off for A's corrections and withdrawals (each patient's withdrawn versions counted as A's):
A's HL7 W while the FHIR final 12 stood was told "cancellation of nothing stored" (12 stayed
published, nobody told to withdraw it over FHIR); a C 12 saying what FHIR says was refused
instead of left out; a C 15 told "send the final result first"; after the FHIR feed withdrew
its 12, a duplicate W was refused and a C told "send the final result first". Only A's own
withdrawn versions under the key leave A's change to the chain checks; B's are nothing A's
change could act on. So too the mirror (B's FHIR result under the identifier withdrawn),
across batches and in one commit batch, on the fast and careful path. A key holding B's
standing final keeps the chain checks' refusal (result-of-another-patient), as for a final.

D2: after the FHIR feed withdrew its 12, an HL7 message P 13 then C 14 (or W 12 then C 14)
was told "send the final result first"; only a final or corrected result the message stores
under the key before the correction is one it corrects: refused "correction of a withdrawn
result" naming the FHIR sender, as in two messages."""

from __future__ import annotations

from typing import Any

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
from tests.integration.test_lab_two_feeds_review209 import _careful

pytestmark = pytest.mark.integration

OTHER = "MRN4799"  # patient B (S-200)
SEND_FINAL_FIRST = "send the final result first"
NOTHING_STORED = "cancellation of nothing stored"


def _others(status: str, control_id: str, value: str = "30") -> str:
    """B's HL7 result under ORD7 (A's order and test)."""
    return oru(control_id, [obx("1988-5", value, "mg/L", status=status)], mrn=OTHER, order="ORD7")


async def _others_withdrawn(lab: Lab, status: str = "F") -> None:
    """B's HL7 result 30 (final or preliminary) under ORD7, then B's W of it."""
    await _enrol(lab, "S-200", OTHER)
    assert (await _send(lab, _others(status, "B-1")))[1] == "AA", await _reason(lab)
    assert (await _send(lab, _others("W", "B-2")))[1] == "AA", await _reason(lab)


def _others_withdrawn_sends(lab: Lab, status: str = "F") -> list[Send]:
    first, then = _others(status, "B-1"), _others("W", "B-2")
    return [lambda: _send(lab, first), lambda: _send(lab, then)]


async def _fhir_withdrew_12(lab: Lab) -> None:
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    assert (await _post(lab, _fhir_crp(12, "entered-in-error", issued=LATER)))[0] == 200


def _names(said: str, sender: str) -> None:
    assert repr(sender) in said, said
    assert SEND_FINAL_FIRST not in said and NOTHING_STORED not in said, said


def _withdrawn_through(said: str, sender: str) -> None:
    _names(said, sender)
    assert "correction of a withdrawn result" in said, said


def _others_fhir(value: float, status: str = "final", issued: str = LATER) -> dict[str, Any]:
    """B's FHIR CRP under the identifier FILL=ORD7."""
    return _fhir_crp(value, status, issued=issued) | {
        "subject": {"identifier": {"system": "urn:hosp", "value": OTHER}}
    }


# --- D1: B's withdrawn HL7 result under A's HL7 key -----------------------------------------


@pytest.mark.parametrize("over_http", [False, True])
@pytest.mark.parametrize("b_status", ["F", "P"])
async def test_a_withdrawal_while_the_fhir_final_stands_names_it_beside_others_withdrawn(
    lab: Lab, b_status: str, over_http: bool
) -> None:
    """B's HL7 30 withdrawn; A's FHIR F 12 standing; A's HL7 W: refused naming the FHIR
    sender (withdraw it there), 12 standing, as without B. Before: "cancellation of nothing
    stored under this order and test", nobody told the FHIR result stands."""
    await _others_withdrawn(lab, b_status)
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    fhir = await _fhir_sender(lab)
    withdrawal = oru("H-1", [obx("1988-5", "12", "mg/L", status="W")], order="ORD7")
    ack = await _send(lab, withdrawal, over_http=over_http)
    said = await _reason(lab)
    assert ack[1] == "AE", (ack, said)
    _names(said, fhir)
    assert await _rejections(lab) == ["unknown-corrected-result"]
    assert await _standing(lab) == [(fhir, 12.0)]


@pytest.mark.parametrize("b_status", ["F", "P"])
async def test_a_correction_while_the_fhir_final_stands_beside_others_withdrawn(
    lab: Lab, b_status: str
) -> None:
    """B's HL7 30 withdrawn; A's FHIR F 12 standing; A's HL7 C 12 is its duplicate (AA,
    "already held by another sender"), C 15 refused naming the FHIR sender."""
    await _others_withdrawn(lab, b_status)
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    fhir = await _fhir_sender(lab)
    dup = await _hl7(lab, "H-1", "12", "C")
    assert dup[1] == "AA" and "another sender" in dup[-1], (dup, await _reason(lab))
    assert await _rejections(lab) == []
    other = await _hl7(lab, "H-2", "15", "C")
    said = await _reason(lab)
    assert other[1] == "AE", (other, said)
    _names(said, fhir)
    assert await _standing(lab) == [(fhir, 12.0)]


@pytest.mark.parametrize("b_status", ["F", "P"])
async def test_after_the_fhir_withdrawal_beside_others_withdrawn(lab: Lab, b_status: str) -> None:
    """B's HL7 30 withdrawn; A's FHIR F 12 withdrawn; A's HL7 W: a duplicate of the FHIR
    withdrawal (AA); A's HL7 C 15: "correction of a withdrawn result" naming the FHIR
    sender (following "send the final result first" led to a late copy)."""
    await _others_withdrawn(lab, b_status)
    await _fhir_withdrew_12(lab)
    fhir = await _fhir_sender(lab)
    dup = await _hl7(lab, "H-1", "12", "W")
    assert dup[1] == "AA" and "another sender" in dup[-1], (dup, await _reason(lab))
    assert await _rejections(lab) == []
    ack = await _hl7(lab, "H-2", "15", "C")
    said = await _reason(lab)
    assert ack[1] == "AE", (ack, said)
    _withdrawn_through(said, fhir)
    assert await _standing(lab) == []


@pytest.mark.parametrize("careful", [False, True])
async def test_in_one_batch_a_withdrawal_beside_others_withdrawn_names_the_fhir_final(
    lab: Lab, careful: bool
) -> None:
    """The same in one commit batch: B's F 30, B's W, A's FHIR F 12, A's HL7 W (refused
    naming FHIR); then, in another, A's FHIR withdrawal and A's HL7 W (left out)."""
    await _enrol(lab, "S-200", OTHER)
    sends = [
        *_careful(lab, careful), *_others_withdrawn_sends(lab), _fhir_send(lab, _fhir_crp(12)),
        _hl7_send(lab, "H-1", "12", "W"),
    ]  # fmt: skip
    answers = await _one_batch(lab, sends)
    fhir = await _fhir_sender(lab)
    assert answers[-1][1] == "AE", (answers, await _reason(lab))
    _names(await _reason(lab), fhir)
    assert await _standing(lab) == [(fhir, 12.0)]
    sends = [
        *_careful(lab, careful), _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        _hl7_send(lab, "H-2", "12", "W"), _hl7_send(lab, "H-3", "15", "C"),
    ]  # fmt: skip
    answers = await _one_batch(lab, sends, tag="2")
    assert answers[-2][1] == "AA" and "another sender" in answers[-2][-1], answers
    assert answers[-1][1] == "AE", answers
    _withdrawn_through(await _reason(lab), fhir)
    assert await _standing(lab) == []


@pytest.mark.parametrize("careful", [False, True])
async def test_in_one_batch_with_others_withdrawal_in_it(lab: Lab, careful: bool) -> None:
    """B's F 30 stored; in one commit batch: A's FHIR F 12, B's W, A's HL7 C 15: refused
    naming the FHIR sender (B's W withdrew B's chain in the batch, nothing of A's)."""
    await _enrol(lab, "S-200", OTHER)
    assert (await _send(lab, _others("F", "B-1")))[1] == "AA", await _reason(lab)
    others_w = _others("W", "B-2")
    sends = [
        *_careful(lab, careful), _fhir_send(lab, _fhir_crp(12)), lambda: _send(lab, others_w),
        _hl7_send(lab, "H-1", "15", "C"),
    ]  # fmt: skip
    answers = await _one_batch(lab, sends)
    assert answers[-2][1] == "AA", answers
    assert answers[-1][1] == "AE", (answers, await _reason(lab))
    fhir = await _fhir_sender(lab)
    _names(await _reason(lab), fhir)
    assert await _standing(lab) == [(fhir, 12.0)]


async def test_the_patients_own_withdrawn_result_keeps_the_chain_checks_answer(lab: Lab) -> None:
    """A's own HL7 F 13 withdrawn under ORD7, A's FHIR F 12 withdrawn: A's HL7 W is a resend
    of A's own withdrawal (AA), A's C 15 "correction of a withdrawn result" (the chain's)."""
    assert (await _hl7(lab, "H-1", "13"))[1] == "AA"
    assert (await _hl7(lab, "H-2", "13", "W"))[1] == "AA"
    await _fhir_withdrew_12(lab)
    ack = await _hl7(lab, "H-3", "13", "W")
    assert ack[1] == "AA", (ack, await _reason(lab))
    ack = await _hl7(lab, "H-4", "15", "C")
    said = await _reason(lab)
    assert ack[1] == "AE" and "correction of a withdrawn result" in said, (ack, said)


async def test_a_key_holding_another_patients_standing_final_is_the_chain_checks(
    lab: Lab,
) -> None:
    """B's HL7 F 30 standing under ORD7; A's FHIR F 12: A's HL7 W and C are refused
    result-of-another-patient (the order is B's: the lab fixes that first), as A's final
    there is; nothing of B's or the FHIR feed's changes."""
    await _enrol(lab, "S-200", OTHER)
    assert (await _send(lab, _others("F", "B-1")))[1] == "AA", await _reason(lab)
    assert (await _post(lab, _fhir_crp(12)))[0] == 201
    for n, (value, status) in enumerate([("12", "W"), ("12", "C"), ("15", "C"), ("15", "F")]):
        ack = await _hl7(lab, f"H-{n}", value, status)
        assert ack[1] == "AE", (status, ack)
    assert await _rejections(lab) == ["result-of-another-patient"] * 4
    assert sorted(await _standing(lab)) == sorted(
        [("LIS^HOSP", 30.0), (await _fhir_sender(lab), 12.0)]
    )


# --- D1, the mirror: B's withdrawn FHIR result under A's FHIR key ---------------------------


async def _others_fhir_withdrawn(lab: Lab) -> None:
    await _enrol(lab, "S-200", OTHER)
    first = _others_fhir(30, issued="2026-11-20T09:00:00+01:00")
    assert (await _post(lab, first))[0] == 201, await _rejections(lab)
    assert (await _post(lab, _others_fhir(30, "entered-in-error")))[0] == 200


async def test_a_fhir_change_while_the_hl7_final_stands_beside_others_withdrawn(
    lab: Lab,
) -> None:
    """B's FHIR 30 withdrawn under FILL=ORD7; A's HL7 F 12 standing: A's FHIR corrected 12
    is its duplicate (200), corrected 15 and entered-in-error refused naming LIS^HOSP."""
    await _others_fhir_withdrawn(lab)
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    at = "2026-11-20T11:0{}:00+01:00"
    status, said = await _post(lab, _fhir_crp(12, "corrected", issued=at.format(1)))
    assert status == 200, (status, said)
    for n, (value, change) in enumerate([(15, "corrected"), (12, "entered-in-error")]):
        status, said = await _post(lab, _fhir_crp(value, change, issued=at.format(n + 2)))
        assert status == 422 and "unknown-corrected-result" in said, (change, status, said)
        _names(said, "LIS^HOSP")
    assert await _standing(lab) == [("LIS^HOSP", 12.0)]


async def test_a_fhir_change_after_the_hl7_withdrawal_beside_others_withdrawn(
    lab: Lab,
) -> None:
    """B's FHIR 30 withdrawn; A's HL7 F 12 and W: A's FHIR entered-in-error is a duplicate
    (200), corrected 15 refused "withdrawn" naming LIS^HOSP."""
    await _others_fhir_withdrawn(lab)
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    assert (await _hl7(lab, "H-2", "12", "W"))[1] == "AA"
    status, said = await _post(lab, _fhir_crp(12, "entered-in-error", issued=LATER))
    assert status == 200, (status, said)
    status, said = await _post(lab, _fhir_crp(15, "corrected", issued="2026-11-20T11:00:00+01:00"))
    assert status == 422 and "withdrawn" in said, (status, said)
    _names(said, "LIS^HOSP")
    assert await _standing(lab) == []


# --- D2: a correction after its key's preliminary or withdrawal in one message ---------------


@pytest.mark.parametrize("first", [("13", "P"), ("12", "W")])
@pytest.mark.parametrize("over_http", [False, True])
async def test_a_correction_after_a_preliminary_or_withdrawal_in_its_message(
    lab: Lab, first: tuple[str, str], over_http: bool
) -> None:
    """A's FHIR F 12 withdrawn; one HL7 message P 13 (or W 12) then C 14 under ORD7: refused
    "correction of a withdrawn result" naming the FHIR sender, as in two messages; nothing
    stored. Before: "send the final result first"."""
    await _fhir_withdrew_12(lab)
    fhir = await _fhir_sender(lab)
    value, status = first
    both = oru(
        "H-1",
        [obx("1988-5", value, "mg/L", status=status), obx("1988-5", "14", "mg/L", status="C")],
        order="ORD7",
    )  # fmt: skip
    ack = await _send(lab, both, over_http=over_http)
    said = await _reason(lab)
    assert ack[1] == "AE", (ack, said)
    _withdrawn_through(said, fhir)
    assert await _rejections(lab) == ["unknown-corrected-result"]
    assert await _standing(lab) == []
    assert [e[0] for e in await _events(lab)] == ["LabResultRecorded", "LabResultCancelled"]


@pytest.mark.parametrize("careful", [False, True])
async def test_in_one_batch_a_correction_after_a_preliminary_in_its_message(
    lab: Lab, careful: bool
) -> None:
    both = oru(
        "H-1", [obx("1988-5", "13", "mg/L", status="P"), obx("1988-5", "14", "mg/L", status="C")],
        order="ORD7",
    )  # fmt: skip
    sends = [
        *_careful(lab, careful), _fhir_send(lab, _fhir_crp(12)),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        lambda: _send(lab, both),
    ]  # fmt: skip
    answers = await _one_batch(lab, sends)
    assert answers[-1][1] == "AE", answers
    _withdrawn_through(await _reason(lab), await _fhir_sender(lab))
    assert await _standing(lab) == []
