"""FHIR test data is refused and kept, never stored as a patient's result.

Over HL7 a laboratory's training or debugging message (MSH-11 T or D) is never stored as a
patient's result: it is answered AR and kept ``unsupported-processing-id``. FHIR marks test
data with the label HTEST ("test health data", ``http://terminology.hl7.org/CodeSystem/
v3-ActReason``, in ``meta.security`` or ``meta.tag``, as the R4 specification's own examples
are), on the resource or on the Bundle carrying it. A laboratory's test Observation with the
hospital number of a test patient that matches a trial subject is refused the same way.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

HTEST = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST"}


def _tagged(identifier: str) -> dict[str, Any]:
    return crp_observation(identifier) | {"meta": {"security": [HTEST]}}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/fhir/Observation", _tagged("HTEST-1")),
        # as every example resource of the R4 specification is labelled
        ("/fhir/Observation", crp_observation("HTEST-4") | {"meta": {"tag": [HTEST]}}),
        ("/fhir", {"resourceType": "Bundle", "type": "transaction",
                   "entry": [{"resource": _tagged("HTEST-2")}]}),
        ("/fhir", {"resourceType": "Bundle", "type": "batch", "meta": {"security": [HTEST]},
                   "entry": [{"resource": crp_observation("HTEST-3")}]}),
    ],
    ids=["observation", "observation-tag", "in-a-transaction", "bundle-labelled"],
)  # fmt: skip
async def test_fhir_test_health_data_is_never_stored_as_a_patients_result(
    lab: Lab, path: str, body: dict[str, Any]
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{lab.http}{path}", json=body, headers={"Authorization": f"Bearer {lab.lab_token}"}
        ) as response,
    ):
        status, answer = response.status, await response.json()
    stored = await lab.pool.fetch("SELECT subject_id, analyte, value FROM results")
    assert [dict(r) for r in stored] == [], f"test data stored (HTTP {status}: {answer})"
    rejected = await lab.pool.fetch("SELECT reason_code, reason FROM rejections")
    assert [r["reason_code"] for r in rejected] == ["unsupported-processing-id"]
    assert "HTEST" in rejected[0]["reason"]


async def test_a_batchs_test_entry_is_refused_on_its_own(lab: Lab) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"resource": _tagged("HTEST-5")},
                        {"resource": crp_observation("REAL-5")}]}  # fmt: skip
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{lab.http}/fhir", json=bundle, headers={"Authorization": f"Bearer {lab.lab_token}"}
        ) as response,
    ):
        answer = await response.json()
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses == ["400 Bad Request", "201 Created"], answer
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    code = await lab.pool.fetchval("SELECT reason_code FROM rejections")
    assert code == "unsupported-processing-id"
