"""A unit component naming a real unit the service does not convert is no description to
pass over.

PROTOCOL section 6: "A unit the platform cannot convert is a rejection with a reason, never a
guess." The README (Normalisation) and ``resolve_unit``: components or repetitions of OBX-6,
or a FHIR code and unit, naming units that disagree are rejected, never chosen between; the
FHIR reader's own docstring: "a display that disagrees with a code this service knows is
refused".

Before, a component was compared only when it is one of the service's listed spellings; any
other unit (``%``, ``ng/mL``, ``g/100mL``, ``10*12/L``, ``nkat/L``: UCUM codes every laboratory
system writes) is passed over as if it were a description, and the other component is used
alone. A neutrophil percentage (``5`` with ``%`` beside ``10*9/L``) is then published as an
absolute count of 5 x10^9/L (normal; the true count may be grade 4), a haemoglobin of 12
g/100mL labelled ``g/L`` too is published as 1.2 g/dL (grade 3), a CRP in ng/mL as mg/L
(x1000).
"""

from __future__ import annotations

import decimal
import json
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from tests.unit.lab_ingestion.fhir_samples import lab_observation
from tests.unit.lab_ingestion.hl7_samples import one_result_oru, planned

UCUM = "http://unitsofmeasure.org"


def _planned_hl7(obx3: str, value: str, obx6: str) -> Any:
    return planned(one_result_oru(obx3, value, obx6))


def _describe(planned: Any) -> str:
    if isinstance(planned, Rejected):
        return f"rejected {planned.code}"
    return "published " + ", ".join(f"{r.value} {r.unit} ({r.original_unit!r})" for _, r in planned)


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "what"),
    [
        # a neutrophil percentage: text (or the unit itself) says %, the identifier a count
        ("751-8^Neutrophils^LN", "5", "10*9/L^%^UCUM", "neutrophil % read as a count"),
        ("751-8^Neutrophils^LN", "5", "%^percent^UCUM^10*9/L^^99LAB", "% beside 10*9/L"),
        ("751-8^Neutrophils^LN", "5", "10*9/L~%", "a repeated OBX-6 naming %"),
        # haemoglobin: g/100mL (= g/dL) beside g/L, a tenfold disagreement
        ("718-7^Hemoglobin^LN", "12", "g/L^^UCUM^g/100mL^^L", "g/L beside g/100mL"),
        # CRP: ng/mL beside mg/dL, ten thousandfold
        ("1988-5^CRP^LN", "5", "mg/dL^^UCUM^ng/mL^^L", "mg/dL beside ng/mL"),
        # platelets: 10*12/L (a red cell count's unit) beside 10*9/L, thousandfold
        ("777-3^Platelets^LN", "150", "10*9/L^^UCUM^10*12/L^^L", "10*9/L beside 10*12/L"),
        # ALT: nkat/L beside U/L (1 U/L = 16.67 nkat/L)
        ("1742-6^ALT^LN", "40", "U/L^^UCUM^nkat/L^^L", "U/L beside nkat/L"),
    ],
)
def test_an_hl7_unit_beside_another_unit_it_disagrees_with_is_rejected(
    obx3: str, value: str, obx6: str, what: str
) -> None:
    planned = _planned_hl7(obx3, value, obx6)
    assert isinstance(planned, Rejected), f"{what}: {_describe(planned)}"
    assert planned.code is RejectionCode.UNCONVERTIBLE_UNIT


def _fhir_neutrophils(value: float, code: str, display: str) -> Any:
    quantity = {"value": value, "unit": display, "system": UCUM, "code": code}
    resource = lab_observation("OBS-78", "751-8", valueQuantity=quantity)
    decoded = json.loads(json.dumps(resource), parse_float=decimal.Decimal)
    return planned(parse_observation(decoded, "LIS", "HOSP"))


def test_a_fhir_count_code_shown_as_a_percentage_is_rejected_not_published_as_a_count() -> None:
    """UCUM code 10*9/L, display %: the code and unit disagree (a percentage of 5 is no
    absolute count of 5 x10^9/L); the reverse (code %, display 10^9/L) is already refused."""
    planned = _fhir_neutrophils(5, "10*9/L", "%")
    assert isinstance(planned, Rejected), _describe(planned)
    assert planned.code is RejectionCode.UNCONVERTIBLE_UNIT


def test_the_reverse_fhir_case_is_refused_too() -> None:
    planned = _fhir_neutrophils(5, "%", "10^9/L")
    assert isinstance(planned, Rejected)
    assert planned.code is RejectionCode.UNCONVERTIBLE_UNIT


def test_a_description_beside_the_unit_is_still_read() -> None:
    """What the fix must keep: OBX-6 text and coding system are no units."""
    planned = _planned_hl7("751-8^Neutrophils^LN", "0.4", "10*9/L^billion per litre^UCUM")
    assert not isinstance(planned, Rejected), planned
    [(_, result)] = planned
    assert (result.value, result.unit) == (0.4, "10*9/L")
