"""Over the real MLLP socket and FHIR endpoint (PostgreSQL, broker; review 261): how a
result's codes, a FHIR range bound's unit and a FHIR comparator are read.

- D2: a second trial analyte's LOINC code under a coding system that is not LOINC's
  (``https://loinc.org``, ``LOINC-2.7``, ``urn:lab``, HL7 ``99LAB``) beside a first under
  LOINC's was passed over: 0.4 10*9/L under ``751-8`` and platelets' ``777-3`` was stored
  and published as neutrophils. It makes the result ambiguous (``ambiguous-analyte``), as
  the same code under LOINC's system does; one of the same analyte (hs-CRP beside CRP) and
  a local code that is no trial code stay one result.
- D3: a FHIR range bound whose unit display names another unit in words (``milligrams per
  decilitre`` beside code ``mg/L``) was read in the code's unit (ULN 1 mg/L published; with
  0.8 the whole result refused as a unit slip). The range is dropped, the result stored.
- D4: a FHIR ``valueQuantity.comparator`` outside R4's QuantityComparator codes (``≤``) was
  read as ``<=``: it is invalid (400 ``code-invalid``), as a status outside R4's set is; a
  comparator on a reference range bound (a SimpleQuantity has none: invariant sqty-1) was
  dropped and the bound read as a plain limit: it is refused (400 ``invariant``), as a
  range bound written as a string is (400), never read.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import MRN, TS, msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ANC = {"value": 0.4, "unit": "10*9/L", "system": UCUM, "code": "10*9/L"}
MG_L = {"system": UCUM, "code": "mg/L", "unit": "mg/L"}


def _observation(identifier: str, codings: list[dict[str, str]], **rest: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": "urn:lab", "value": identifier}],
        "code": {"coding": codings},
        "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        **rest,
    }


def _crp(identifier: str, value: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return _observation(
        identifier, [{"system": LOINC, "code": "1988-5"}], valueQuantity=value, **rest
    )


async def _stored(lab: Lab) -> list[tuple[Any, ...]]:
    rows = await lab.pool.fetch(
        "SELECT analyte, value, loinc, comparator, reference_low, reference_high FROM results"
    )
    return [tuple(row) for row in rows]


async def _kept(lab: Lab) -> list[tuple[str, str]]:
    rows = await lab.pool.fetch("SELECT reason_code, reason FROM rejections")
    return [(row["reason_code"], row["reason"]) for row in rows]


# --- D2: a trial code under another system's name beside a first trial code -------------


@pytest.mark.parametrize(
    "codings",
    [
        [{"system": LOINC, "code": "751-8"}, {"system": "https://loinc.org", "code": "777-3"}],
        [{"system": LOINC, "code": "751-8"}, {"system": "LOINC-2.7", "code": "777-3"}],
        [{"system": LOINC, "code": "751-8"}, {"system": "urn:lab", "code": "777-3"}],
        [{"system": "urn:lab", "code": "777-3"}, {"system": LOINC, "code": "751-8"}],
        [{"system": LOINC, "code": "751-8"}, {"system": "urn:lab", "code": "778-1"}],
    ],
    ids=["https-loinc", "loinc-2.7", "urn-lab", "elsewhere-first", "same-test-code"],
)
async def test_fhir_a_trial_code_of_another_analyte_under_another_system_is_ambiguous(
    lab: Lab, codings: list[dict[str, str]]
) -> None:
    status, answer = await lab.post_fhir(
        "/fhir/Observation", _observation("ANC-1", codings, valueQuantity=ANC)
    )
    assert status == 422, (status, answer, await _stored(lab))
    assert "ambiguous-analyte" in json.dumps(answer), answer
    assert await _stored(lab) == []
    ((code, reason),) = await _kept(lab)
    assert code == "ambiguous-analyte" and "'751-8'" in reason, reason


@pytest.mark.parametrize(
    ("codings", "loinc"),
    [
        ([{"system": LOINC, "code": "1988-5"}, {"system": "urn:lab", "code": "30522-7"}],
         "1988-5"),
        ([{"system": LOINC, "code": "1988-5"}, {"system": "urn:lab", "code": "CRP"}], "1988-5"),
        ([{"system": LOINC, "code": "1988-5"}, {"system": "urn:lab", "code": "1968-7"}],
         "1988-5"),
    ],
    ids=["hs-crp-elsewhere", "a-local-code", "another-tests-loinc-elsewhere"],
)  # fmt: skip
async def test_fhir_one_analytes_codes_and_local_codes_stay_one_result(
    lab: Lab, codings: list[dict[str, str]], loinc: str
) -> None:
    status, answer = await lab.post_fhir(
        "/fhir/Observation", _observation("CRP-1", codings, valueQuantity=MG_L | {"value": 12})
    )
    assert status == 201, answer
    assert [(r[0], r[1], r[2]) for r in await _stored(lab)] == [("crp", 12.0, loinc)]


@pytest.mark.parametrize(
    "obx3",
    [
        "751-8^ANC^LN^777-3^PLT^99LAB",
        "777-3^PLT^99LAB^751-8^ANC^LN",
        "751-8^ANC^LN^777-3^PLT^LOINC-2.7",
        "751-8^ANC^LN^26515-7^PLT^L",
    ],
    ids=["99lab", "elsewhere-first", "loinc-2.7", "local-system-l"],
)
async def test_hl7_a_trial_code_of_another_analyte_under_another_system_is_ambiguous(
    lab: Lab, obx3: str
) -> None:
    client = await lab.mllp()
    try:
        ack = await client.exchange(oru("R261-1", [f"NM|{obx3}||0.4|10*9/L|1.8-7.7||||F|||{TS}"]))
    finally:
        await client.close()
    fields = msa(ack)
    assert fields[1] == "AE", (ack, await _stored(lab))
    assert await _stored(lab) == []
    ((code, _),) = await _kept(lab)
    assert code == "ambiguous-analyte"


@pytest.mark.parametrize(
    ("obx3", "analyte"),
    [
        ("1988-5^CRP^LN^30522-7^hsCRP^99LAB", "crp"),
        ("751-8^ANC^LN^NEUT^Neutrophils^99LAB", "neutrophils"),
    ],
    ids=["hs-crp-elsewhere", "a-local-code"],
)
async def test_hl7_one_analytes_codes_and_local_codes_stay_one_result(
    lab: Lab, obx3: str, analyte: str
) -> None:
    unit = "mg/L" if analyte == "crp" else "10*9/L"
    client = await lab.mllp()
    try:
        ack = await client.exchange(oru("R261-2", [f"NM|{obx3}||4|{unit}|||||F|||{TS}"]))
    finally:
        await client.close()
    assert msa(ack)[1] == "AA", ack
    assert [(r[0], r[1]) for r in await _stored(lab)] == [(analyte, 4.0)]


# --- D3: a range bound's unit in words naming another unit than its code -----------------


@pytest.mark.parametrize(
    "display",
    [
        "milligrams per decilitre",
        "mg per dL",
        "mg/dL (milligrams per decilitre)",
        "Milligramm pro Deziliter",
        "milligrams per litre of serum",  # words that cannot be read as one unit
        "mg/dL",  # the contrast: already dropped before
    ],
)
@pytest.mark.parametrize("high", [1, 0.8])
async def test_fhir_a_range_bound_whose_display_names_another_unit_is_dropped(
    lab: Lab, display: str, high: float
) -> None:
    bound = {"value": high, "system": UCUM, "code": "mg/L", "unit": display}
    resource = _crp("CRP-W", MG_L | {"value": 8}, referenceRange=[{"high": bound}])
    status, answer = await lab.post_fhir("/fhir/Observation", resource)
    assert status == 201, answer
    assert await _stored(lab) == [("crp", 8.0, "1988-5", None, None, None)]
    (raw,) = await lab.read(LAB_RESULTS, 1)
    payload = json.loads(raw)["payload"]
    assert (payload["reference_low"], payload["reference_high"]) == (None, None), payload


async def test_fhir_a_range_whose_bounds_units_differ_in_words_is_dropped(lab: Lab) -> None:
    low = {"value": 0} | MG_L
    high = {"value": 0.5, "system": UCUM, "code": "mg/L", "unit": "milligrams per decilitre"}
    resource = _crp("CRP-LH", MG_L | {"value": 3}, referenceRange=[{"low": low, "high": high}])
    status, answer = await lab.post_fhir("/fhir/Observation", resource)
    assert status == 201, answer
    assert await _stored(lab) == [("crp", 3.0, "1988-5", None, None, None)]


@pytest.mark.parametrize("display", ["milligrams per litre", "Milligramm pro Liter", "mg/l"])
async def test_fhir_a_range_bound_whose_words_name_its_codes_unit_is_read(
    lab: Lab, display: str
) -> None:
    bound = {"value": 5, "system": UCUM, "code": "mg/L", "unit": display}
    resource = _crp("CRP-R", MG_L | {"value": 8}, referenceRange=[{"high": bound}])
    status, answer = await lab.post_fhir("/fhir/Observation", resource)
    assert status == 201, answer
    assert await _stored(lab) == [("crp", 8.0, "1988-5", None, None, 5.0)]


# --- D4: comparators --------------------------------------------------------------------


@pytest.mark.parametrize("comparator", ["\u2264", "=<", "=", "<>", "lt", "~", "ad"])
async def test_fhir_a_value_comparator_outside_r4s_codes_is_invalid(
    lab: Lab, comparator: str
) -> None:
    resource = _crp("CRP-C", MG_L | {"value": 5, "comparator": comparator})
    status, answer = await lab.post_fhir("/fhir/Observation", resource)
    assert status == 400, (status, answer, await _stored(lab))
    ((issue),) = answer["issue"]
    assert issue["code"] == "code-invalid", answer
    assert issue["expression"] == ["Observation.valueQuantity.comparator"], answer
    assert comparator not in issue.get("diagnostics", "").replace("<, <=, >=, >", "")
    assert await _stored(lab) == []
    ((code, _),) = await _kept(lab)
    assert code == "malformed-message"


async def test_fhir_in_a_batch_an_unlisted_comparator_fails_its_entry_only(lab: Lab) -> None:
    entries = [
        {"resource": _crp(identifier, MG_L | value),
         "request": {"method": "POST", "url": "Observation"}}
        for identifier, value in (("CRP-B1", {"value": 5, "comparator": "\u2264"}),
                                  ("CRP-B2", {"value": 5, "comparator": "<="}))
    ]  # fmt: skip
    status, answer = await lab.post_fhir(
        "/fhir", {"resourceType": "Bundle", "type": "batch", "entry": entries}
    )
    assert status == 200, answer
    statuses = [entry["response"]["status"][:3] for entry in answer["entry"]]
    assert statuses == ["400", "201"], answer
    assert await _stored(lab) == [("crp", 5.0, "1988-5", "<=", None, None)]


@pytest.mark.parametrize("side", ["low", "high"])
@pytest.mark.parametrize("comparator", [">", "<", "<=", "ad"])
async def test_fhir_a_comparator_on_a_range_bound_is_refused(
    lab: Lab, side: str, comparator: str
) -> None:
    bounds = {"low": {"value": 1} | MG_L, "high": {"value": 5} | MG_L}
    bounds[side] = bounds[side] | {"comparator": comparator}
    resource = _crp("CRP-RC", MG_L | {"value": 12}, referenceRange=[bounds])
    status, answer = await lab.post_fhir("/fhir/Observation", resource)
    assert status == 400, (status, answer, await _stored(lab))
    ((issue),) = answer["issue"]
    assert issue["code"] == "invariant", answer
    assert issue["expression"] == [f"Observation.referenceRange[0].{side}.comparator"], answer
    assert await _stored(lab) == []
    ((code, _),) = await _kept(lab)
    assert code == "malformed-message"
