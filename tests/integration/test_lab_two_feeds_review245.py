"""Review 245: a resent withdrawal of the patient's withdrawn preliminary under another
patient's final, the lab's other feed holding nothing of the sample. Patient A = MRN4711
(S-100), B = MRN4799 (S-200); HL7 = LIS^HOSP over MLLP, FHIR = the lab's token.

HL7 A P 12, A W (A's withdrawn preliminary under ORD7|1988-5|), HL7 B F 30 under ORD7 (B's
final heads the shared key), then A's W (or D) again under a new MSH-10: refused
result-of-another-patient since 7c3db43 (review 244's fix), telling the lab to correct B's
result, where it is a duplicate (AA, nothing stored or published), as without B's result.
So too the FHIR mirror (200), across messages and in one commit batch. Review 244's case
(A's FHIR final 12 standing on the other feed) stays refused:
test_lab_two_feeds_review244.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _fhir_sender, _reason
from tests.integration.test_lab_review197 import _enrol
from tests.integration.test_lab_two_feeds_review202 import (
    LATER,
    _events,
    _fhir_send,
    _hl7_send,
    _one_batch,
    _rejections,
    _standing,
)
from tests.integration.test_lab_two_feeds_review244 import AGAIN, OTHER, _b_final

pytestmark = pytest.mark.integration
RESULTS = "SELECT count(*) FROM results WHERE collected_at = '2026-11-20T08:15:00+01:00'"
ORDQ = {1.0, 2.0, 3.0}  # the values the batches' corrections of another order hold


async def _sent(lab: Lab, mode: str, sends: list[Any], tag: str = "") -> list[Any]:
    """One at a time, in one commit batch, or in one batch that a correction of another
    order sends down the careful path (the chains read first)."""
    if mode == "across":
        return [await s() for s in sends]
    extra = [_hl7_send(lab, f"Q-2{tag}", "3", "C", f"ORDQ{tag}", "20261118081500+0100")]
    extra = extra if mode == "careful" else []
    return (await _one_batch(lab, extra + sends, tag))[len(extra) :]


async def _sample_events(lab: Lab) -> list[Any]:
    """lab.results.v1's events of the sample (not of the other order the batches held)."""
    return [e for e in await _events(lab) if e[2] not in ORDQ]


async def _nothing_more(lab: Lab, results: int, events: int) -> None:
    """The resend stored, published and refused nothing; B's final 30 stands alone."""
    assert await lab.pool.fetchval(RESULTS) == results
    assert len(await _sample_events(lab)) == events
    assert await _rejections(lab) == []
    assert [value for _, value in await _standing(lab)] == [30.0]


@pytest.mark.parametrize("status", ["W", "D"])
@pytest.mark.parametrize("mode", ["across", "batch", "careful"])
async def test_hl7_resent_withdrawal_of_the_withdrawn_preliminary_is_a_duplicate(
    lab: Lab, mode: str, status: str
) -> None:
    await _enrol(lab, "S-200", OTHER)
    sends = [_hl7_send(lab, "H-1", "12", "P"), _hl7_send(lab, "H-2", "12", status), _b_final(lab)]
    answers = await _sent(lab, mode, sends)
    assert [a[1] for a in answers] == ["AA", "AA", "AA"], answers
    results, events = await lab.pool.fetchval(RESULTS), len(await _sample_events(lab))
    again = await _sent(lab, mode, [_hl7_send(lab, "H-3", "12", status)], "b")
    assert again[0][1] == "AA", ("resent withdrawal refused", again[0])
    assert "duplicate" in again[0][3], again[0]
    await _nothing_more(lab, results, events)


@pytest.mark.parametrize("status", ["W", "D"])
@pytest.mark.parametrize("mode", ["batch", "careful"])
async def test_hl7_resent_withdrawal_in_the_same_batch(lab: Lab, mode: str, status: str) -> None:
    await _enrol(lab, "S-200", OTHER)
    sends = [
        _hl7_send(lab, "H-1", "12", "P"), _hl7_send(lab, "H-2", "12", status),
        _b_final(lab), _hl7_send(lab, "H-3", "12", status),
    ]  # fmt: skip
    answers = await _sent(lab, mode, sends)
    assert [a[1] for a in answers] == ["AA", "AA", "AA", "AA"], answers
    assert "duplicate" in answers[3][3], answers[3]
    assert await _rejections(lab) == []
    assert [value for _, value in await _standing(lab)] == [30.0]


@pytest.mark.parametrize("mode", ["across", "batch"])
async def test_fhir_resent_entered_in_error_of_the_withdrawn_preliminary_is_a_duplicate(
    lab: Lab, mode: str
) -> None:
    await _enrol(lab, "S-200", OTHER)
    b = _fhir_crp(30) | {"subject": {"identifier": {"system": "urn:hosp", "value": OTHER}}}
    sends = [
        _fhir_send(lab, _fhir_crp(12, "preliminary")),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        _fhir_send(lab, b),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=AGAIN)),
    ]  # fmt: skip
    answers = await _sent(lab, mode, sends)
    assert [a[0] for a in answers] == [201, 200, 201, 200], answers
    assert await _rejections(lab) == []
    assert [value for _, value in await _standing(lab)] == [30.0]


@pytest.mark.parametrize("mode", ["across", "batch"])
async def test_beside_the_other_feeds_final_the_refusal_names_its_sender(
    lab: Lab, mode: str
) -> None:
    """Review 244's case (A's FHIR final 12 stands): the resent W is refused naming the FHIR
    sender that holds A's result, not told to correct B's; nothing withdrawn."""
    await _enrol(lab, "S-200", OTHER)
    sends = [
        _hl7_send(lab, "H-1", "12", "P"), _hl7_send(lab, "H-2", "12", "W"),
        _fhir_send(lab, _fhir_crp(12)), _b_final(lab), _hl7_send(lab, "H-3", "12", "W"),
    ]  # fmt: skip
    answers = await _sent(lab, mode, sends)
    assert answers[4][1] == "AE", answers
    assert await _rejections(lab) == ["unknown-corrected-result"]
    reason = await _reason(lab)
    assert repr(await _fhir_sender(lab)) in reason, reason
    assert "another patient" not in reason, reason
    assert sorted(value for _, value in await _standing(lab)) == [12.0, 30.0]
