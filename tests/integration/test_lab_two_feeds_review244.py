"""Review 244: the patient's withdrawn preliminary beside another patient's final under the
shared order. Patient A = MRN4711 (S-100), B = MRN4799 (S-200); HL7 = LIS^HOSP over MLLP,
FHIR = the lab's token, identifier FILL=ORD7.

HL7 A P 12, A W (A's withdrawn preliminary under ORD7|1988-5|), FHIR A final 12 (stored,
published), HL7 B F 30 under ORD7 (B's final heads the shared key), then HL7 A W / D again:
answered AA "duplicate" with nothing withdrawn while A's FHIR final 12 stayed published;
now refused (result-of-another-patient), as without the withdrawn preliminary.
README (fixer 239): the patient's withdrawn preliminary is their chain "unless the lab's
other feed holds a standing final or corrected result of the sample"; (fixer 231/review 226)
"after HL7 P 12 and W, while the FHIR feed's final 12 stands, an HL7 W is refused naming that
sender"; (review 219) "Another patient's result still standing under the key is refused
result-of-another-patient". The control without A's withdrawn preliminary is refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.lab_fixtures import obx, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp
from tests.integration.test_lab_review197 import _enrol
from tests.integration.test_lab_two_feeds_review192 import _send
from tests.integration.test_lab_two_feeds_review202 import (
    LATER,
    _fhir_send,
    _hl7_send,
    _one_batch,
    _standing,
)

pytestmark = pytest.mark.integration
OTHER = "MRN4799"
AGAIN = "2026-11-20T10:05:00+01:00"


def _b_final(lab: Lab, cid: str = "B-1") -> Any:
    message = oru(cid, [obx("1988-5", "30", "mg/L", status="F")], mrn=OTHER, order="ORD7")
    return lambda: _send(lab, message)


def _careful(lab: Lab) -> list[Any]:
    return [_hl7_send(lab, "Q-2", "3", "C", "ORDQ", "20261118081500+0100")]


async def _sent(lab: Lab, mode: str, sends: list[Any]) -> list[Any]:
    if mode == "across":
        return [await s() for s in sends]
    extra = _careful(lab) if mode == "careful" else []
    return (await _one_batch(lab, extra + sends))[len(extra) :]


@pytest.mark.parametrize("status", ["W", "D"])
@pytest.mark.parametrize("mode", ["across", "batch", "careful"])
async def test_hl7_withdrawal_after_own_withdrawn_preliminary_beside_another_patients_final(
    lab: Lab, mode: str, status: str
) -> None:
    await _enrol(lab, "S-200", OTHER)
    sends = [
        _hl7_send(lab, "H-1", "12", "P"), _hl7_send(lab, "H-2", "12", "W"),
        _fhir_send(lab, _fhir_crp(12)), _b_final(lab), _hl7_send(lab, "H-3", "12", status),
    ]  # fmt: skip
    answers = await _sent(lab, mode, sends)
    fhir = str(await lab.pool.fetchval("SELECT source FROM messages WHERE channel = 'fhir'"))
    assert [answers[0][1], answers[1][1], answers[2][0], answers[3][1]] == ["AA", "AA", 201, "AA"]
    # A's FHIR final 12 stands published; the lab's HL7 withdrawal must not be AA "duplicate"
    assert (fhir, 12.0) in await _standing(lab)
    assert answers[4][1] == "AE", ("withdrawal answered as a duplicate", answers[4])


@pytest.mark.parametrize("mode", ["across", "batch"])
async def test_control_without_the_withdrawn_preliminary_is_refused(lab: Lab, mode: str) -> None:
    await _enrol(lab, "S-200", OTHER)
    sends = [_fhir_send(lab, _fhir_crp(12)), _b_final(lab), _hl7_send(lab, "H-3", "12", "W")]
    answers = await _sent(lab, mode, sends)
    assert answers[2][1] == "AE", answers


@pytest.mark.parametrize("mode", ["across", "batch"])
async def test_fhir_mirror(lab: Lab, mode: str) -> None:
    """FHIR A preliminary 12 and entered-in-error, HL7 A F 12, FHIR B final 30 under ORD7,
    then FHIR A entered-in-error again (new issued): 200 'duplicate' while HL7's 12 stands."""
    await _enrol(lab, "S-200", OTHER)
    b = _fhir_crp(30) | {"subject": {"identifier": {"system": "urn:hosp", "value": OTHER}}}
    sends = [
        _fhir_send(lab, _fhir_crp(12, "preliminary")),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=LATER)),
        _hl7_send(lab, "H-1", "12", "F"), _fhir_send(lab, b),
        _fhir_send(lab, _fhir_crp(12, "entered-in-error", issued=AGAIN)),
    ]  # fmt: skip
    answers = await _sent(lab, mode, sends)
    assert [answers[0][0], answers[1][0], answers[2][1], answers[3][0]] == [201, 200, "AA", 201]
    assert ("LIS^HOSP", 12.0) in await _standing(lab)
    assert answers[4][0] == 422, ("entered-in-error answered as a duplicate", answers[4])
