"""UCUM codes of trial units written with UCUM's own notation (review 55): ``[IU]/L`` (the
international unit, an enzyme's U) and the annotation ``{cells}/uL`` are converted, not
refused unconvertible-unit."""

from __future__ import annotations

import copy

import pytest

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.model import Rejected
from services.lab_ingestion.domain.normalise import normalise
from tests.unit.lab_ingestion.route_fakes import CRP


@pytest.mark.parametrize(
    ("loinc", "value", "code", "display"),
    [
        ("1742-6", 30, "[IU]/L", "IU/L"),  # UCUM's international unit per litre
        ("751-8", 3100, "{cells}/uL", "cells/uL"),  # UCUM annotation: per microlitre
    ],
)
def test_a_valid_ucum_code_of_a_trial_unit_is_converted(
    loinc: str, value: int, code: str, display: str
) -> None:
    resource = copy.deepcopy(CRP)
    resource["code"] = {"coding": [{"system": "http://loinc.org", "code": loinc}]}
    resource["valueQuantity"] = {
        "value": value, "unit": display, "system": "http://unitsofmeasure.org", "code": code,
    }  # fmt: skip
    result = normalise(parse_observation(resource, "LIS", "FHIR").observations[0])
    assert not isinstance(result, Rejected), result
    assert result is not None and result.value == (30.0 if code == "[IU]/L" else 3.1)
