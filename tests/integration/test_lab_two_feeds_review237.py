"""Review 237 over MLLP and FHIR on PostgreSQL and the broker: one commit batch, or one FHIR
Bundle, answers and stores what the same messages one at a time do. A = MRN4711, order
ORD7, CRP; HL7 = LIS^HOSP, the FHIR token bound to it.

D1 (patient safety): a FHIR final carrying FILL=ORD7 and an untyped urn:lab|R-1, moved onto
R-1 (the key of A's result planned earlier in the batch), was compared with HL7's results
under parts of no key of its own, and stored beside HL7's final 12 of the sample: two
published finals of one sample. D2: an HL7 X after the FHIR feed's preliminary of the batch
was left out (AA) where one at a time it is refused naming the FHIR sender."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.lab_fixtures import obx, oru
from tests.integration.test_lab_fhir_cancelled_never_resulted import _bundle
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _hl7
from tests.integration.test_lab_two_feeds_review192 import _send
from tests.integration.test_lab_two_feeds_review202 import (
    LATER,
    _fhir_send,
    _fhir_sender,
    _one_batch,
    _post,
    _standing,
)

pytestmark = pytest.mark.integration
BATCHED = pytest.mark.parametrize("batched", [False, True], ids=["across", "one-batch"])
R1 = {"system": "urn:lab", "value": "R-1"}
FILL_ORD7 = {
    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                         "code": "FILL"}]},
    "value": "ORD7",
}  # fmt: skip
FINAL_40 = _fhir_crp(40, issued="2026-11-20T11:00:00+01:00") | {"identifier": [FILL_ORD7, R1]}


def _under_r1_alone(withdrawn: bool) -> list[dict[str, Any]]:
    """A's CRP under urn:lab|R-1 alone: a preliminary 12, or a final 12 and its
    entered-in-error."""
    if withdrawn:
        return [
            _fhir_crp(12) | {"identifier": [R1]},
            _fhir_crp(12, "entered-in-error", issued=LATER) | {"identifier": [R1]},
        ]
    return [_fhir_crp(12, "preliminary") | {"identifier": [R1]}]


@pytest.mark.parametrize("withdrawn", [False, True], ids=["P-then-F", "F-D-then-F"])
@BATCHED
async def test_a_fhir_final_moved_onto_a_key_of_its_batch_is_checked_against_hl7(
    lab: Lab, withdrawn: bool, batched: bool
) -> None:
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    bodies = [*_under_r1_alone(withdrawn), FINAL_40]
    if batched:
        answers = await _one_batch(lab, [_fhir_send(lab, b) for b in bodies])
    else:
        answers = [await _post(lab, b) for b in bodies]
    standing = await _standing(lab)
    assert answers[-1][0] == 422, (answers, standing)
    assert "LIS^HOSP" in answers[-1][1], answers
    assert standing == [("LIS^HOSP", 12.0)], (answers, standing)


@pytest.mark.parametrize("kind", ["batch", "transaction"])
async def test_a_fhir_final_moved_onto_a_key_of_its_bundle_is_checked_against_hl7(
    lab: Lab, kind: str
) -> None:
    assert (await _hl7(lab, "H-1", "12"))[1] == "AA"
    prelim = _fhir_crp(12, "preliminary") | {"identifier": [R1]}
    status, answer = await lab.post_fhir("/fhir", _bundle(kind, prelim, FINAL_40))
    standing = await _standing(lab)
    assert standing == [("LIS^HOSP", 12.0)], (status, answer, standing)
    assert "LIS^HOSP" in str(answer), answer


def _x(control_id: str, *also: str) -> str:
    results = [obx("1988-5", "", "mg/L", status="X", observed="20261120081500+0100")]
    results += [obx("1988-5", v, "mg/L", observed="20261120081500+0100") for v in also]
    return oru(control_id, results, order="ORD7")


@pytest.mark.parametrize("also", [(), ("12",)], ids=["X", "X-then-F-12"])
@BATCHED
async def test_an_hl7_x_after_the_fhir_feeds_preliminary_is_refused_naming_it(
    lab: Lab, also: tuple[str, ...], batched: bool
) -> None:
    prelim = _fhir_crp(12, "preliminary")
    x = _x("H-1", *also)
    if batched:
        answers = await _one_batch(lab, [_fhir_send(lab, prelim), lambda: _send(lab, x)])
    else:
        answers = [await _post(lab, prelim), await _send(lab, x)]
    assert answers[0][0] == 201, answers
    assert answers[1][1] == "AE", answers
    named = (await _fhir_sender(lab)).replace("^", "\\S\\")  # MSA-3 escapes ^ as \S\
    assert f"withdraw it through sender '{named}'" in answers[1][3], answers
    assert await _standing(lab) == [], answers  # nothing published: the preliminary alone
