"""A reference range text listing one range per sex or age is no range of this result.

PROTOCOL section 5 grades by the result's own LLN and ULN, else the protocol's; which of
several listed ranges is the patient's is not known here, so none is read, on every
channel (HL7 OBX-7 and its repetitions, FHIR ``referenceRange.text``, JSON
``reference_range``). The result itself is still accepted; one range with a label
(``12-16 g/dL (F)``) is read as before.
"""

from __future__ import annotations

import decimal
import json
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.json_parser import parse_lab_results
from services.lab_ingestion.domain.model import LabMessage
from services.lab_ingestion.domain.normalise import parse_reference_range
from tests.unit.lab_ingestion.fhir_samples import lab_observation, quantity
from tests.unit.lab_ingestion.hl7_samples import fake_hash, one_result_oru, only_result
from tests.unit.lab_ingestion.test_json_parser import body

PER_SEX = "<33 U/L (F), <41 U/L (M)"


def _range_of(message: LabMessage | str) -> tuple[float | None, float | None]:
    result = only_result(message)
    return result.reference_low, result.reference_high


def _hl7(obx3: str, unit: str, obx7: str) -> str:
    return one_result_oru(obx3, "40", unit, obx7)


@pytest.mark.parametrize(
    "obx7",
    ["<33 U/L (F)~<41 U/L (M)", "<33 U/L~<41 U/L", "10-32 U/L (F)~10-40 U/L (M)", "<33~<41"],
)
def test_a_repeated_obx7_gives_no_range(obx7: str) -> None:
    assert _range_of(_hl7("1742-6^ALT^LN", "U/L", obx7)) == (None, None)


def test_a_repeated_obx7_of_another_test_is_read_as_before() -> None:
    """Its first repetition, as stored before: a stored message's resend stays a duplicate."""
    text = _hl7("2345-7^Glucose^LN", "mg/dL", "70-99 mg/dL~70-140 mg/dL")
    message, _ = parse_oru(text, identify=fake_hash)
    assert message.observations[0].reference_range == "70-99 mg/dL"


@pytest.mark.parametrize(
    ("obx7", "expected"),
    [
        ("<41 U/L (M)", (None, 41.0)),
        ("10-40 U/L (adult)", (10.0, 40.0)),
        ("<41 U/L~", (None, 41.0)),  # an empty repetition is no other range
    ],
)
def test_one_labelled_range_is_still_read(obx7: str, expected: tuple[float, float]) -> None:
    assert _range_of(_hl7("1742-6^ALT^LN", "U/L", obx7)) == expected


def _fhir(reference_range: dict[str, Any]) -> LabMessage:
    resource = lab_observation("OBS-RR", "1742-6", **quantity(40, "U/L"))
    resource["referenceRange"] = [reference_range]
    decoded = json.loads(json.dumps(resource), parse_float=decimal.Decimal)
    return parse_observation(decoded, "LIS", "HOSP")


def test_a_fhir_range_text_listing_one_range_per_sex_gives_none() -> None:
    assert _range_of(_fhir({"text": PER_SEX})) == (None, None)
    assert _range_of(_fhir({"text": "<41 U/L"})) == (None, 41.0)


def test_a_fhir_range_whose_code_and_display_are_different_units_gives_none() -> None:
    """ALT's range in U/L shown as nkat/L: read as either, the ULN may be 16 times off."""
    bound = {"value": 41, "unit": "nkat/L", "system": "http://unitsofmeasure.org", "code": "U/L"}
    assert _range_of(_fhir({"high": bound})) == (None, None)
    assert _range_of(_fhir({"high": {**bound, "unit": "U/L"}})) == (None, 41.0)


def test_a_json_range_listing_one_range_per_sex_gives_none() -> None:
    alt = {"loinc": "1742-6", "value": "40", "unit": "U/L"}
    assert _range_of(parse_lab_results(body(**alt, reference_range=PER_SEX))) == (None, None)
    assert _range_of(parse_lab_results(body(**alt, reference_range="<41 U/L (M)"))) == (
        None,
        41.0,
    )


@pytest.mark.parametrize(
    "text",
    [PER_SEX, "0-5 mg/L (F); 0-6 mg/L (M)", "0-5 mg/L >60 y: 0-8", "<5 mg/L, \u22646 mg/L"],
)
def test_parse_reference_range_reads_no_list(text: str) -> None:
    assert parse_reference_range(text) == (None, None)
