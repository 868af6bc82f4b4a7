"""A FHIR ``cancelled`` without a value meant for a result stored over HL7 (review 165).

A CRP of order ``ORD7`` is stored over MLLP (key ``ORD7|1988-5|``, sender LIS^HOSP); the
lab's FHIR feed then cancels it: an Observation ``cancelled``, code 1988-5, no value, its
identifier the filler order number ``ORD7`` (key ``ORD7|1988-5``), beside a grade-4 ANC.
Its key never held anything under the token's name, but the patient's CRP under order ORD7
stands under the HL7 sender's: it is refused (the lab told which sender holds it), never
left out as a test never resulted while that CRP still counts toward the dose. A
cancellation sharing no identifier with the CRP (another order) is left out as before."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_fhir_cancelled_never_resulted import (
    LOINC,
    _anc,
    _bundle,
    _diagnostics,
    _entries,
    _observation,
    _post,
    _results,
)
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

FILL = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "FILL"}]}


def _crp_cancelled(order: str) -> dict[str, Any]:
    """The CRP of ``order`` cancelled, without a value, named by its filler order number."""
    return _observation("unused", "1988-5", status="cancelled") | {
        "identifier": [{"type": FILL, "value": order}]
    }


async def _crp_over_hl7(lab: Lab) -> None:
    client = await lab.mllp()
    ack = await client.exchange(oru("H-1", [obx("1988-5", "45", "mg/L")], order="ORD7"))
    await client.close()
    assert msa(ack)[1] == "AA", ack
    assert await _results(lab) == [("crp", 45.0, False)]


async def test_a_fhir_cancelled_for_a_crp_stored_over_hl7_is_refused_naming_the_sender(
    lab: Lab,
) -> None:
    await _crp_over_hl7(lab)
    status, answer = await _post(
        lab, "/fhir", _bundle("transaction", _crp_cancelled("ORD7"), _anc("CX-ANC7"))
    )
    assert status == 422, answer
    said = _diagnostics(answer)
    assert "unknown-corrected-result" in said, said
    assert "LIS^HOSP" in said and "HL7" in said, said
    assert await _results(lab) == [("crp", 45.0, False)]  # nothing of the transaction stored
    # alone too
    status, outcome = await _post(lab, "/fhir/Observation", _crp_cancelled("ORD7"))
    assert status == 422, outcome
    assert "LIS^HOSP" in _diagnostics(outcome), outcome


async def test_a_fhir_cancelled_of_another_order_is_still_left_out(lab: Lab) -> None:
    """The CRP of ORD7 stands; a CRP of ORD8 cancelled before it was resulted shares no
    identifier with it: left out, the ANC beside it stored."""
    await _crp_over_hl7(lab)
    status, answer = await _post(
        lab, "/fhir", _bundle("transaction", _crp_cancelled("ORD8"), _anc("CX-ANC8"))
    )
    assert status == 200, answer
    assert [s for s, _ in _entries(answer)] == ["200 OK", "201 Created"], answer
    assert await _results(lab) == [("crp", 45.0, False), ("neutrophils", 0.2, False)]


async def test_a_fhir_result_under_a_system_is_found_by_its_order_number(lab: Lab) -> None:
    """A CRP stored over FHIR under ``urn:sys|ORD9|1988-5`` (its own token): a cancellation
    keyed ``ORD9|1988-5`` (no system) finds nothing under its key, but shares ORD9."""
    stored = _observation("unused", "1988-5", 45) | {
        "identifier": [{"type": FILL, "system": "urn:sys", "value": "ORD9"}]
    }
    assert (await _post(lab, "/fhir/Observation", stored))[0] == 201
    status, outcome = await _post(lab, "/fhir/Observation", _crp_cancelled("ORD9"))
    assert status == 422, outcome
    assert "central-lab^FHIR" in _diagnostics(outcome), outcome
    assert await _results(lab) == [("crp", 45.0, False)]
    assert LOINC
