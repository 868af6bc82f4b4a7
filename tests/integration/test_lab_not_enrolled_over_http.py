"""A patient not enrolled over JSON and FHIR (review 117), as over MLLP
(test_lab_ingestion.py): answered, counted and discarded, nothing of the patient kept or
published: no rejection, neither the number nor its keyed hash in any table of the service's
schema nor in any event. A copy kept "for inspection" passed the tests that looked only for
results and messages stored."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.integration.lab_fixtures import MRN, crp_observation
from tests.integration.test_lab_ingestion import Lab, assert_nothing_kept_of

pytestmark = pytest.mark.integration

STRANGER = "MRN9999"  # a patient of the same hospital who is not enrolled


async def post(lab: Lab, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{lab.http}{path}", json=body) as response,
    ):
        return response.status, await response.json(content_type=None)


def json_message(message_id: str, number: str) -> dict[str, Any]:
    result = {"result_id": f"R-{message_id}", "loinc": "1988-5", "value": "12.5",
              "unit": "mg/L", "reference_range": "0-5", "status": "final",
              "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    return {"message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": number}, "results": [result]}  # fmt: skip


async def test_a_json_message_of_a_patient_not_enrolled_leaves_nothing(lab: Lab) -> None:
    status, answer = await post(lab, "/v1/lab-results", json_message("J-NE-1", STRANGER))
    assert status == 202 and answer["enrolled"] is False, answer
    assert answer["results_stored"] == 0, answer
    # the subject's result after it: once it is published, the relay went past the first
    status, answer = await post(lab, "/v1/lab-results", json_message("J-NE-2", MRN))
    assert status == 202 and answer["results_stored"] == 1, answer
    assert await lab.metric("lab_unmatched_patient_total", channel="json") == 1
    await assert_nothing_kept_of(lab, STRANGER, published=1)


async def test_a_fhir_observation_of_a_patient_not_enrolled_leaves_nothing(lab: Lab) -> None:
    stranger = crp_observation("OBS-NE-1")
    stranger["subject"] = {"identifier": {"system": "urn:hosp", "value": STRANGER}}
    status, answer = await post(lab, "/fhir/Observation", stranger)
    assert status == 200, answer  # nothing created
    status, answer = await post(lab, "/fhir/Observation", crp_observation("OBS-NE-2"))
    assert status == 201, answer
    assert await lab.metric("lab_unmatched_patient_total", channel="fhir") == 1
    await assert_nothing_kept_of(lab, STRANGER, published=1)
