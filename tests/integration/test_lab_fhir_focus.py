"""An Observation with a ``focus`` is refused: its value is not the subject's own.

FHIR R4 Observation.focus: "The actual focus of an observation when it is not the patient
of record representing something or someone associated with the patient such as a spouse,
parent, fetus, or donor." A result whose focus names another person (a Patient or a
RelatedPerson: a blood donor, a newborn in the mother's record) is that person's value, not
the subject's, and must never enter the series that drives dose holds. Whom or what a focus
names cannot always be told (an identifier, a contained resource), so every focus is
refused, a Specimen's or Device's too (400, kept ``unsupported-message-type``).
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "focus",
    [
        {"reference": "Patient/donor-17"},
        {"reference": "RelatedPerson/mother-1"},
        {"type": "Patient", "identifier": {"system": "urn:hosp", "value": "NEWBORN-1"}},
        {"reference": "Specimen/blood-1"},
    ],
    ids=["patient", "related-person", "patient-identifier", "specimen"],
)
async def test_a_result_focused_on_another_person_is_never_stored_as_the_subjects(
    lab: Lab, focus: dict[str, object]
) -> None:
    observation = crp_observation("FOCUS-1") | {"focus": [focus]}
    async with aiohttp.ClientSession() as http, http.post(
        f"{lab.http}/fhir/Observation", json=observation,
        headers={"Authorization": f"Bearer {lab.lab_token}"},
    ) as response:  # fmt: skip
        status, outcome = response.status, await response.json()
    stored = await lab.pool.fetch("SELECT subject_id, analyte, value FROM results")
    assert [dict(r) for r in stored] == [], f"stored as the subject's (HTTP {status}: {outcome})"
    assert status == 400, outcome
    assert outcome["issue"][0]["expression"] == ["Observation.focus"]
    rejected = await lab.pool.fetch("SELECT reason_code, reason FROM rejections")
    assert [r["reason_code"] for r in rejected] == ["unsupported-message-type"]
    assert "focus" in rejected[0]["reason"]


async def test_a_focus_on_an_observation_of_no_trial_analyte_loses_no_trial_result(
    lab: Lab,
) -> None:
    """An Observation of another test (a donor's ABO group) is ignored, focus or not: the
    transaction's CRP is stored, nothing is kept as a rejection."""
    abo = crp_observation("ABO-1") | {
        "code": {"coding": [{"system": "http://loinc.org", "code": "883-9"}]},
        "focus": [{"reference": "Patient/donor-17"}],
    }
    abo.pop("valueQuantity")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": resource, "request": {"method": "POST", "url": "Observation"}}
        for resource in (crp_observation("FOCUS-CRP-1"), abo)
    ]}  # fmt: skip
    async with aiohttp.ClientSession() as http, http.post(
        f"{lab.http}/fhir", json=bundle,
        headers={"Authorization": f"Bearer {lab.lab_token}"},
    ) as response:  # fmt: skip
        status, answer = response.status, await response.json()
    assert status == 200, answer
    statuses = [entry["response"]["status"] for entry in answer["entry"]]
    assert statuses == ["201 Created", "200 OK"], answer
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 0
