"""FHIR and JSON input that does not say unambiguously what the lab sent is refused, never
stored with one of its readings (review 54): an object naming one key twice, a subject whose
literal reference and identifier disagree or that is no patient, two contained Patients of
one id, and a unit code the service does not know beside a display it does.

Each test sends its cases one after the other to one running service (starting one per
case cost the suite minutes): each case is checked by what it added."""

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


async def _stored(lab: Lab) -> int:
    return int(await lab.pool.fetchval("SELECT count(*) FROM results"))


async def _newest_rejection(lab: Lab) -> tuple[str, str]:
    row = await lab.pool.fetchrow(
        "SELECT reason_code, reason FROM rejections ORDER BY received_at DESC LIMIT 1"
    )
    assert row is not None
    return row["reason_code"], row["reason"]


async def _refused(
    lab: Lab, path: str, body: bytes, content_type: str, status: int, code: str
) -> tuple[str, str]:
    """Answered ``status``, nothing stored, kept as a rejection of ``code``: its reason,
    and the answer."""
    stored, kept = await _stored(lab), await _rejection_count(lab)
    answered, answer = await _post(lab, path, body, content_type)
    assert answered == status, (answered, answer)
    assert await _stored(lab) == stored and await _rejection_count(lab) == kept + 1
    found, reason = await _newest_rejection(lab)
    assert found == code, reason
    return reason, answer


async def _rejection_count(lab: Lab) -> int:
    return int(await lab.pool.fetchval("SELECT count(*) FROM rejections"))


async def _accepted(lab: Lab, path: str, body: bytes, content_type: str, status: int) -> None:
    stored = await _stored(lab)
    answered, answer = await _post(lab, path, body, content_type)
    assert answered == status and await _stored(lab) == stored + 1, (answered, answer)


def _fhir(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource).encode()


# --- one key twice: which value the lab meant cannot be told ----------------------------------


async def test_an_object_naming_a_key_twice_is_refused_and_never_quoted(lab: Lab) -> None:
    two_quantities = json.dumps(crp_observation("DUP-1"))[:-1] + (
        ', "valueQuantity": {"value": 200, "unit": "mg/L", "system": '
        '"http://unitsofmeasure.org", "code": "mg/L"}}'
    )
    reason, answer = await _refused(
        lab, "/fhir/Observation", two_quantities.encode(), FHIR, 400, "malformed-message"
    )
    assert "more than once" in reason and "'valueQuantity'" in reason
    assert "200" not in reason.split(";")[0]
    assert json.loads(answer)["resourceType"] == "OperationOutcome"

    resource = crp_observation("DUP-2")
    resource.pop("status")
    two_statuses = '{"status": "entered-in-error", ' + json.dumps(resource)[1:-1]
    two_statuses += ', "status": "final"}'
    reason, _ = await _refused(
        lab, "/fhir/Observation", two_statuses.encode(), FHIR, 400, "malformed-message"
    )
    assert "'status'" in reason

    observation = json.dumps(crp_observation("DUP-3"))
    observation = observation.replace('"value": 20,', '"value": 20, "value": 200,')
    deep = '{"resourceType": "Bundle", "type": "batch", "entry": [{"resource": ' + observation
    reason, _ = await _refused(lab, "/fhir", (deep + "}]}").encode(), FHIR, 400,
                               "malformed-message")  # fmt: skip
    assert "'value'" in reason

    # a key may be PHI ("Jane Roe": ...): never quoted
    named = json.dumps(crp_observation("DUP-4"))[:-1] + ', "Jane Roe": 1, "Jane Roe": 2}'
    reason, answer = await _refused(
        lab, "/fhir/Observation", named.encode(), FHIR, 400, "malformed-message"
    )
    assert "more than once" in reason and "Jane" not in reason and "Jane" not in answer


def _json_message(value_part: str, patient_part: str) -> bytes:
    return (
        '{"message_id": "DUPKEY-1", "source": {"application": "LIS", "facility": "HOSP"}, '
        f'"patient": {{{patient_part}}}, '
        '"results": [{"result_id": "R1", "loinc": "1988-5", ' + value_part + ", "
        '"unit": "mg/L", "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}]}'
    ).encode()


async def test_a_json_body_naming_a_key_twice_is_refused(lab: Lab) -> None:
    path, kind = "/v1/lab-results", "application/json"
    body = _json_message('"value": "12.5", "value": "125"', f'"identifier": "{MRN}"')
    reason, _ = await _refused(lab, path, body, kind, 400, "malformed-message")
    assert "'value'" in reason and "125" not in reason.split(";")[0]
    body = _json_message('"value": "12.5"', f'"identifier": "{OTHER_MRN}", "identifier": "{MRN}"')
    reason, answer = await _refused(lab, path, body, kind, 400, "malformed-message")
    assert "'identifier'" in reason
    assert MRN not in reason and OTHER_MRN not in reason and MRN not in answer
    await _accepted(lab, path, _json_message('"value": "12.5"', f'"identifier": "{MRN}"'),
                    kind, 202)  # fmt: skip


# --- the subject: its literal reference, not its identifier, names the patient ----------------


def _contained_patient(number: str, patient_id: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": patient_id,
            "identifier": [{"system": "urn:hosp", "value": number}]}  # fmt: skip


async def test_a_subject_that_is_no_patient_or_two_names_none(lab: Lab) -> None:
    """A Group or Device, whatever identifier it carries; two contained Patients of one id."""
    for n, reference in enumerate(
        ["Group/ward-7", "Device/analyser-2", "https://ehr.example/fhir/Group/ward-7"]
    ):
        resource = crp_observation(f"GRP-{n}")
        resource["subject"] = {"reference": reference,
                               "identifier": {"system": "urn:hosp", "value": MRN}}  # fmt: skip
        await _refused(lab, "/fhir/Observation", _fhir(resource), FHIR, 422,
                       "missing-patient-identifier")  # fmt: skip
    resource = crp_observation("CON-1")
    resource["contained"] = [_contained_patient(MRN), _contained_patient(OTHER_MRN)]
    resource["subject"] = {"reference": "#p1"}
    await _refused(lab, "/fhir/Observation", _fhir(resource), FHIR, 422,
                   "missing-patient-identifier")  # fmt: skip


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


async def test_a_referenced_patient_must_agree_with_the_subjects_identifier(lab: Lab) -> None:
    """Contained and in a Bundle: another patient's numbers are refused (never read as
    either), the same numbers stored."""
    subject = {"reference": "#p1", "identifier": {"system": "urn:hosp", "value": MRN}}
    other = crp_observation("REF-1") | {"contained": [_contained_patient(OTHER_MRN)],
                                        "subject": subject}  # fmt: skip
    reason, _ = await _refused(lab, "/fhir/Observation", _fhir(other), FHIR, 400,
                               "malformed-message")  # fmt: skip
    assert "Observation.subject" in reason and MRN not in reason and OTHER_MRN not in reason
    same = crp_observation("REF-1b") | {"contained": [_contained_patient(MRN)],
                                        "subject": subject}  # fmt: skip
    await _accepted(lab, "/fhir/Observation", _fhir(same), FHIR, 201)
    await _refused(lab, "/fhir", _fhir(_bundle(crp_observation("REF-2"), OTHER_MRN)), FHIR, 400,
                   "malformed-message")  # fmt: skip
    await _accepted(lab, "/fhir", _fhir(_bundle(crp_observation("REF-2b"), MRN)), FHIR, 200)
    # the identifier spelling the Patient's number in lower case names that number (one
    # keyed hash): stored, never refused as another patient's (review 185)
    lower = {"reference": "#p1", "identifier": {"system": "urn:hosp", "value": MRN.lower()}}
    spelt = crp_observation("REF-1c") | {"contained": [_contained_patient(MRN)],
                                         "subject": lower}  # fmt: skip
    await _accepted(lab, "/fhir/Observation", _fhir(spelt), FHIR, 201)


# --- units: a code the service does not know is never replaced by the display -----------------


async def test_an_unknown_unit_code_is_not_replaced_by_its_display(lab: Lab) -> None:
    """``mg/100mL`` (mg per decilitre, which this service does not spell) shown as ``mg/L``,
    under UCUM's OID, no system and UCUM's address: 20 mg/dL is never stored as 20 mg/L."""
    for n, system in enumerate(["urn:oid:2.16.840.1.113883.6.8", None,
                                "http://unitsofmeasure.org"]):  # fmt: skip
        resource = crp_observation(f"UNIT-{n}")
        quantity = {"value": 20, "unit": "mg/L", "code": "mg/100mL"}
        if system:
            quantity["system"] = system
        resource["valueQuantity"] = quantity
        await _refused(lab, "/fhir/Observation", _fhir(resource), FHIR, 422,
                       "unconvertible-unit")  # fmt: skip
