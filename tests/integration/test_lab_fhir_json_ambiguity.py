"""FHIR and JSON input that does not say unambiguously what the lab sent is refused, never
stored with one of its readings (review 54): an object naming one key twice, a subject whose
literal reference and identifier disagree or that is no patient, two contained Patients of
one id, and a unit code the service does not know beside a display it does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, crp_observation
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

FHIR = "application/fhir+json"
OTHER_MRN = "MRN0001"  # a patient who is not enrolled


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


async def _post(lab: Lab, path: str, body: bytes, content_type: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {lab.lab_token}", "Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}{path}", data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def _post_fhir(lab: Lab, path: str, resource: dict[str, Any]) -> tuple[int, str]:
    return await _post(lab, path, json.dumps(resource).encode(), FHIR)


async def _stored(lab: Lab) -> list[tuple[Any, ...]]:
    rows = await lab.pool.fetch("SELECT subject_id, value, unit FROM results")
    return [tuple(r) for r in rows]


async def _rejections(lab: Lab) -> list[tuple[str, str]]:
    rows = await lab.pool.fetch("SELECT reason_code, reason FROM rejections")
    return [(r["reason_code"], r["reason"]) for r in rows]


async def _refused_as_repeating(lab: Lab, status: int, answer: str, key: str) -> str:
    """Answered 400, nothing stored, kept as a rejection whose reason names the key."""
    assert status == 400 and await _stored(lab) == [], (status, answer)
    ((code, reason),) = await _rejections(lab)
    assert code == "malformed-message" and "more than once" in reason, reason
    assert f"'{key}'" in reason, reason
    return reason


# --- one key twice: which value the lab meant cannot be told ----------------------------------


async def test_an_observation_with_two_value_quantities_is_refused(lab: Lab) -> None:
    text = json.dumps(crp_observation("DUP-1"))[:-1]
    text += ', "valueQuantity": {"value": 200, "unit": "mg/L", "system": ' \
            '"http://unitsofmeasure.org", "code": "mg/L"}}'  # fmt: skip
    status, answer = await _post(lab, "/fhir/Observation", text.encode(), FHIR)
    reason = await _refused_as_repeating(lab, status, answer, "valueQuantity")
    assert json.loads(answer)["resourceType"] == "OperationOutcome"
    assert "200" not in reason.split(";")[0]


async def test_an_observation_with_two_statuses_is_refused(lab: Lab) -> None:
    resource = crp_observation("DUP-2")
    resource.pop("status")
    text = '{"status": "entered-in-error", ' + json.dumps(resource)[1:-1] + ', "status": "final"}'
    status, answer = await _post(lab, "/fhir/Observation", text.encode(), FHIR)
    await _refused_as_repeating(lab, status, answer, "status")


async def test_a_key_repeated_deep_in_a_bundle_is_refused(lab: Lab) -> None:
    observation = json.dumps(crp_observation("DUP-3"))
    observation = observation.replace('"value": 20,', '"value": 20, "value": 200,')
    text = '{"resourceType": "Bundle", "type": "batch", "entry": [{"resource": ' + observation
    text += "}]}"
    status, answer = await _post(lab, "/fhir", text.encode(), FHIR)
    await _refused_as_repeating(lab, status, answer, "value")


async def test_a_repeated_key_that_is_no_element_is_not_named(lab: Lab) -> None:
    """A key may be PHI (``"Jane Roe": ...``): the reason does not quote it."""
    text = json.dumps(crp_observation("DUP-4"))[:-1] + ', "Jane Roe": 1, "Jane Roe": 2}'
    status, answer = await _post(lab, "/fhir/Observation", text.encode(), FHIR)
    assert status == 400 and await _stored(lab) == [], (status, answer)
    ((_, reason),) = await _rejections(lab)
    assert "more than once" in reason and "Jane" not in reason and "Jane" not in answer


def _json_message(value_part: str, patient_part: str) -> bytes:
    return (
        '{"message_id": "DUPKEY-1", "source": {"application": "LIS", "facility": "HOSP"}, '
        f'"patient": {{{patient_part}}}, '
        '"results": [{"result_id": "R1", "loinc": "1988-5", ' + value_part + ", "
        '"unit": "mg/L", "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}]}'
    ).encode()


async def test_a_json_result_with_two_values_is_refused(lab: Lab) -> None:
    body = _json_message('"value": "12.5", "value": "125"', f'"identifier": "{MRN}"')
    status, answer = await _post(lab, "/v1/lab-results", body, "application/json")
    reason = await _refused_as_repeating(lab, status, answer, "value")
    assert "125" not in reason.split(";")[0]


async def test_a_json_patient_with_two_identifiers_is_refused(lab: Lab) -> None:
    body = _json_message('"value": "12.5"', f'"identifier": "{OTHER_MRN}", "identifier": "{MRN}"')
    status, answer = await _post(lab, "/v1/lab-results", body, "application/json")
    reason = await _refused_as_repeating(lab, status, answer, "identifier")
    assert MRN not in reason and OTHER_MRN not in reason and MRN not in answer


async def test_a_json_body_without_repeated_keys_is_still_stored(lab: Lab) -> None:
    body = _json_message('"value": "12.5"', f'"identifier": "{MRN}"')
    status, answer = await _post(lab, "/v1/lab-results", body, "application/json")
    assert status == 202 and len(await _stored(lab)) == 1, (status, answer)


# --- the subject: its literal reference, not its identifier, names the patient ----------------


@pytest.mark.parametrize("reference", ["Group/ward-7", "Device/analyser-2",
                                       "https://ehr.example/fhir/Group/ward-7"])  # fmt: skip
async def test_a_subject_referencing_no_patient_names_none_whatever_its_identifier(
    lab: Lab, reference: str
) -> None:
    resource = crp_observation("GRP-1")
    resource["subject"] = {"reference": reference,
                           "identifier": {"system": "urn:hosp", "value": MRN}}  # fmt: skip
    status, answer = await _post_fhir(lab, "/fhir/Observation", resource)
    assert status == 422 and await _stored(lab) == [], (status, answer)
    assert [code for code, _ in await _rejections(lab)] == ["missing-patient-identifier"]


def _contained_patient(number: str, patient_id: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": patient_id,
            "identifier": [{"system": "urn:hosp", "value": number}]}  # fmt: skip


async def test_a_contained_patient_other_than_the_subjects_identifier_is_refused(
    lab: Lab,
) -> None:
    resource = crp_observation("REF-1")
    resource["contained"] = [_contained_patient(OTHER_MRN)]
    resource["subject"] = {"reference": "#p1", "identifier": {"system": "urn:hosp", "value": MRN}}
    status, answer = await _post_fhir(lab, "/fhir/Observation", resource)
    assert status == 400 and await _stored(lab) == [], (status, answer)
    ((code, reason),) = await _rejections(lab)
    assert code == "malformed-message" and "Observation.subject" in reason, reason
    assert MRN not in reason and OTHER_MRN not in reason


async def test_a_contained_patient_agreeing_with_the_subjects_identifier_is_stored(
    lab: Lab,
) -> None:
    resource = crp_observation("REF-1b")
    resource["contained"] = [_contained_patient(MRN)]
    resource["subject"] = {"reference": "#p1", "identifier": {"system": "urn:hosp", "value": MRN}}
    status, answer = await _post_fhir(lab, "/fhir/Observation", resource)
    assert status == 201 and len(await _stored(lab)) == 1, (status, answer)


def _bundle(observation: dict[str, Any], patient_number: str) -> dict[str, Any]:
    patient_url = "urn:uuid:9a1f0e2c-0000-4000-8000-000000000001"
    observation["subject"] = {"reference": patient_url,
                              "identifier": {"system": "urn:hosp", "value": MRN}}  # fmt: skip
    patient = _contained_patient(patient_number)
    patient.pop("id")
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": patient_url, "resource": patient,
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:9a1f0e2c-0000-4000-8000-000000000002", "resource": observation,
         "request": {"method": "POST", "url": "Observation"}},
    ]}  # fmt: skip


async def test_a_bundle_patient_other_than_the_subjects_identifier_is_refused(lab: Lab) -> None:
    status, answer = await _post_fhir(lab, "/fhir", _bundle(crp_observation("REF-2"), OTHER_MRN))
    assert status == 400 and await _stored(lab) == [], (status, answer)
    assert [code for code, _ in await _rejections(lab)] == ["malformed-message"]


async def test_a_bundle_patient_agreeing_with_the_subjects_identifier_is_stored(
    lab: Lab,
) -> None:
    status, answer = await _post_fhir(lab, "/fhir", _bundle(crp_observation("REF-2b"), MRN))
    assert status == 200 and len(await _stored(lab)) == 1, (status, answer)


async def test_two_contained_patients_of_one_id_resolve_to_none(lab: Lab) -> None:
    resource = crp_observation("CON-1")
    resource["contained"] = [_contained_patient(MRN), _contained_patient(OTHER_MRN)]
    resource["subject"] = {"reference": "#p1"}
    status, answer = await _post_fhir(lab, "/fhir/Observation", resource)
    assert status == 422 and await _stored(lab) == [], (status, answer)
    assert [code for code, _ in await _rejections(lab)] == ["missing-patient-identifier"]


# --- units: a code the service does not know is never replaced by the display -----------------


@pytest.mark.parametrize(
    "system", ["urn:oid:2.16.840.1.113883.6.8", None, "http://unitsofmeasure.org"]
)
async def test_an_unknown_unit_code_is_not_replaced_by_its_display(
    lab: Lab, system: str | None
) -> None:
    """``mg/100mL`` (mg per decilitre, which this service does not spell) shown as ``mg/L``:
    20 mg/dL is never stored as 20 mg/L."""
    resource = crp_observation("UNIT-1")
    quantity = {"value": 20, "unit": "mg/L", "code": "mg/100mL"}
    if system:
        quantity["system"] = system
    resource["valueQuantity"] = quantity
    status, answer = await _post_fhir(lab, "/fhir/Observation", resource)
    assert status == 422 and await _stored(lab) == [], (status, answer)
    assert [code for code, _ in await _rejections(lab)] == ["unconvertible-unit"]
