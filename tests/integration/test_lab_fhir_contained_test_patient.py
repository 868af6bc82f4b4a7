"""Review 66: a laboratory's test patient (labelled HTEST) contained in the Observation.

The change refuses an Observation whose Bundle Patient entry is labelled test data ("a test
patient's too"), but the same test Patient contained in the Observation (``contained``,
``subject.reference: "#p1"``, the usual way a single POST /fhir/Observation carries its
patient) is matched by its number to the trial subject and stored as the subject's CRP:
a test value in the series that drives dose holds.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.lab_fixtures import MRN, crp_observation
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

HTEST = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST"}


async def test_an_observation_of_a_contained_test_patient_is_never_stored(lab: Lab) -> None:
    test_patient = {
        "resourceType": "Patient", "id": "p1", "meta": {"security": [HTEST]},
        "identifier": [{"system": "urn:hosp", "value": MRN}],
    }  # fmt: skip
    body = crp_observation("CONTAINED-HTEST-1") | {
        "contained": [test_patient],
        "subject": {"reference": "#p1"},
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{lab.http}/fhir/Observation", json=body,
            headers={"Authorization": f"Bearer {lab.lab_token}"},
        ) as response,
    ):  # fmt: skip
        status, answer = response.status, await response.json()
    stored = await lab.pool.fetch("SELECT subject_id, analyte, value FROM results")
    assert [dict(r) for r in stored] == [], f"test patient's value stored (HTTP {status}: {answer})"
    rejected = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert [r["reason_code"] for r in rejected] == ["unsupported-processing-id"]
