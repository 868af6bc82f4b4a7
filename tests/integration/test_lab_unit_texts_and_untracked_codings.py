"""Unit texts beside the unit, and untracked FHIR keys, end to end through the service.

- A neutrophil count whose unit field names a percentage, written with its words
  (OBX-6 ``10*9/L^% (percent)^L``, or a FHIR Quantity coded 10*9/L shown as ``% (percent)``),
  must be refused as ``10*9/L^%`` is (f519261): read as a count, a neutrophil percentage of
  8 % is published as 8.0 x10^9/L (normal) for a patient whose count may be grade 3-4.
- A neutrophil count whose OBX-6 text component (or FHIR Quantity.unit) shows the coded
  unit as LIS text writes it (``10*3/uL^K/ul^UCUM``; Cerner's ``x10^3/mcL`` in the unit
  test) was stored
  before f519261; it is now refused as "units that disagree": the ANC, the dose-deciding
  result, is lost behind an AE / 422 though both components say the same unit.
- A FHIR result without an identifier is keyed by collection time and "code" (e5ef0ed),
  the code being the first coding's. FHIR R4 (CodeableConcept): "the ordering of the codings
  is undefined and SHALL NOT be used to infer meaning". A correction (or resend) of the same
  CRP that lists the same codings in another order must find its original: it must not
  stand beside the wrong value.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.integration.lab_fixtures import crp_observation, msa, obx, oru
from tests.integration.test_lab_fhir_subject_and_untracked_ids import post
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

LOCAL_CRP = {"system": "http://lab.example.org/codes", "code": "CRP", "display": "CRP"}
LOINC_CRP = {"system": "http://loinc.org", "code": "1988-5"}


async def test_a_neutrophil_percentage_with_its_words_beside_a_count_unit_is_refused(
    lab: Lab,
) -> None:
    client = await lab.mllp()
    try:
        ack = await client.exchange(oru("U81-1", [obx("751-8", "8", "10*9/L^% (percent)^L")]))
    finally:
        await client.close()
    # the unit field says both a count and a percentage: which one cannot be told
    assert msa(ack)[1] == "AE", ack
    stored = await lab.pool.fetch("SELECT analyte, value FROM results")
    assert [tuple(r) for r in stored] == []
    assert await lab.pool.fetchval("SELECT reason_code FROM rejections") == "unconvertible-unit"


async def test_a_fhir_count_coded_per_litre_shown_as_a_percentage_is_refused(lab: Lab) -> None:
    observation = crp_observation("OBS-U81-ANC")
    observation["code"] = {"coding": [{"system": "http://loinc.org", "code": "751-8"}]}
    observation["valueQuantity"] = {
        "value": 8, "unit": "% (percent)", "system": "http://unitsofmeasure.org",
        "code": "10*9/L",
    }  # fmt: skip
    status = await post(lab, "/fhir/Observation", observation)
    assert 400 <= status < 500, status
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0


async def test_a_count_unit_shown_as_lis_text_writes_it_is_stored(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        ack = await client.exchange(
            oru("U81-2", [obx("751-8", "0.4", "10*3/uL^K/ul^UCUM")], order="ORD81")
        )
    finally:
        await client.close()
    assert msa(ack)[1] == "AA", ack
    stored = await lab.pool.fetch("SELECT analyte, value FROM results")
    assert [tuple(r) for r in stored] == [("neutrophils", 0.4)]


async def test_a_fhir_count_coded_10_3_per_ul_shown_as_k_per_ul_is_stored(lab: Lab) -> None:
    observation = crp_observation("OBS-U81-ANC-2")
    observation["code"] = {"coding": [{"system": "http://loinc.org", "code": "751-8"}]}
    observation["valueQuantity"] = {
        "value": 0.4, "unit": "K/ul", "system": "http://unitsofmeasure.org", "code": "10*3/uL",
    }  # fmt: skip
    assert await post(lab, "/fhir/Observation", observation) == 201
    stored = await lab.pool.fetch("SELECT analyte, value FROM results")
    assert [tuple(r) for r in stored] == [("neutrophils", 0.4)]


def untracked_crp(logical_id: str, codings: list[dict[str, str]], **changes: Any) -> dict[str, Any]:
    observation = crp_observation("unused")
    del observation["identifier"]
    observation["code"] = {"coding": copy.deepcopy(codings)}
    return {**observation, "id": logical_id, **changes}


async def test_a_correction_listing_its_codings_in_another_order_supersedes_its_original(
    lab: Lab,
) -> None:
    first = untracked_crp("crp-u81-1", [LOINC_CRP, LOCAL_CRP])
    assert await post(lab, "/fhir/Observation", first) == 201
    corrected = untracked_crp("crp-u81-2", [LOCAL_CRP, LOINC_CRP], status="corrected")
    corrected["valueQuantity"] = {**corrected["valueQuantity"], "value": 140}
    await post(lab, "/fhir/Observation", corrected)
    standing = await lab.pool.fetch(
        "SELECT value, status FROM results r WHERE cancelled_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM results s WHERE s.supersedes_result_id = r.result_id)"
    )
    # one CRP of one sample: the corrected 140 mg/L, never the wrong 20 beside it
    assert sorted(tuple(r) for r in standing) == [(140.0, "C")], [tuple(r) for r in standing]


async def test_a_resend_listing_its_codings_in_another_order_is_stored_once(lab: Lab) -> None:
    first = untracked_crp("crp-u81-3", [LOINC_CRP, LOCAL_CRP])
    again = untracked_crp("crp-u81-4", [LOCAL_CRP, LOINC_CRP])
    assert await post(lab, "/fhir/Observation", first) == 201
    await post(lab, "/fhir/Observation", again)
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
