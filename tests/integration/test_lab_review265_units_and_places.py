"""Review 265 through MLLP, POST /v1/lab-results and /fhir/Observation (PostgreSQL, broker):
what review 262's and fixer 263's changes got wrong.

- D1 (PHI): ``NO`` (Norway, Novara) after a city was taken for a compass point: ``Oslo`` kept.
- (review 266) a JSON city value's first comma part is its name (``Thun, Schweiz``): a
  fix for review 265's D2 (``Praxis, Bern`` cut ``Praxis``) left it in notes; PHI first.
- D3: a one-word street named as a canton (``Jura 5``) searched ``Jura`` alone.
- D4: a FHIR range bound shown as words then the symbol of its code's unit (``Milligramm pro
  Liter (mg/l)``) was dropped (the laboratory's ULN lost); the value so shown was refused.
- D5: a range bound shown ``Milligramm/Liter`` was dropped where the value so shown is read.
"""

from __future__ import annotations

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_review232 import _json
from tests.integration.test_lab_review261_codes_ranges_comparators import (
    MG_L,
    UCUM,
    _crp,
    _observation,
    _stored,
)
from tests.integration.test_lab_review262_streets_and_areas import _nte

pytestmark = pytest.mark.integration


# D1 (PHI): Norway's or Novara's NO after a blank is a region ("Thun BE" the contrast)
async def test_an_hl7_city_before_no_after_a_blank_is_scrubbed(lab: Lab) -> None:
    kept = await _nte(lab, "R265-1", "Storgata 3^^Oslo NO^^0150^NO", "bor i Oslo")
    assert "Oslo" not in kept, kept


async def test_a_json_city_before_no_after_a_blank_is_scrubbed(lab: Lab) -> None:
    _, _, copy = await _json(lab, {"city": "Oslo NO"}, reference_range="bor i Oslo")
    assert "Oslo" not in copy["results"][0]["reference_range"], copy


async def test_a_city_before_a_canton_after_a_blank_is_scrubbed(lab: Lab) -> None:
    kept = await _nte(lab, "R265-1C", "Gartenweg 3^^Thun BE^^3600^CH", "wohnt in Thun")
    assert "Thun" not in kept, kept


# D3: a one-word street named as a canton is never searched for alone
async def test_a_one_word_street_named_as_a_canton_keeps_kanton_in_notes(lab: Lab) -> None:
    note = "Kanton Jura informiert"
    assert await _nte(lab, "R265-2", "Jura 5^^Delémont^^2800^CH", note) == note


# review 266: a city value's first comma part is its name, the country in words after it
@pytest.mark.parametrize(
    ("city", "note"),
    [("Thun, Schweiz", "wohnt in Thun"), ("Lugano, Svizzera", "residente a Lugano")],
)
async def test_a_json_citys_first_comma_part_is_scrubbed(lab: Lab, city: str, note: str) -> None:
    _, _, copy = await _json(lab, {"city": city}, reference_range=note)
    kept = copy["results"][0]["reference_range"]
    assert city.split(",", maxsplit=1)[0] not in kept, copy


# D5: a range bound shown as 'Milligramm/Liter' is read, as the value's display is
async def test_a_fhir_range_shown_in_slash_words_of_its_codes_unit_is_read(lab: Lab) -> None:
    bound = {"value": 5, "system": UCUM, "code": "mg/L", "unit": "Milligramm/Liter"}
    resource = _crp("CRP-SL", MG_L | {"value": 8}, referenceRange=[{"high": bound}])
    status, answer = await lab.post_fhir("/fhir/Observation", resource)
    assert status == 201, answer
    assert await _stored(lab) == [("crp", 8.0, "1988-5", None, None, 5.0)]


async def test_a_fhir_value_shown_in_slash_words_of_its_codes_unit_is_read(lab: Lab) -> None:
    value = {"value": 8, "system": UCUM, "code": "mg/L", "unit": "Milligramm/Liter"}
    bound = {"value": 5} | MG_L
    resource = _crp("CRP-SV", value, referenceRange=[{"high": bound}])
    status, answer = await lab.post_fhir("/fhir/Observation", resource)
    assert status == 201, answer
    assert await _stored(lab) == [("crp", 8.0, "1988-5", None, None, 5.0)]


# D4: a range bound shown 'words (symbol)' naming the code's own unit is read
@pytest.mark.parametrize(
    ("code", "display", "value"),
    [
        ("mg/L", "Milligramm pro Liter (mg/l)", 8),
        ("mg/L", "milligrams per litre (mg/L)", 8),
        ("umol/L", "Mikromol pro Liter (µmol/l)", 30),
    ],
)
async def test_a_fhir_range_shown_as_words_then_symbol_of_its_codes_unit_is_read(
    lab: Lab, code: str, display: str, value: float
) -> None:
    unit = {"system": UCUM, "code": code, "unit": code}
    bound = {"value": 5 if code == "mg/L" else 21, "system": UCUM, "code": code, "unit": display}
    loinc = "1988-5" if code == "mg/L" else "1975-2"
    resource = _observation(
        "R-WS",
        [{"system": "http://loinc.org", "code": loinc}],
        valueQuantity=unit | {"value": value},
        referenceRange=[{"high": bound}],
    )
    status, answer = await lab.post_fhir("/fhir/Observation", resource)
    assert status == 201, answer
    ((*_, high),) = await _stored(lab)
    assert high is not None, await _stored(lab)
