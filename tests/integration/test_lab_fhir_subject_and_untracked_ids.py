"""FHIR Observations as integration engines send them, end to end.

- A subject given both as a conditional reference (``Patient?identifier=sys|val``, what
  HAPI-built and Epic/Cerner transaction Bundles carry) and as an identifier: FHIR R4
  (Reference): "when both an identifier and a literal reference are provided, the reference
  is preferred". When the two name different patients, which patient the result is of cannot
  be told: the result must be refused (as the service already does for a contained or Bundle
  Patient that disagrees), never stored under the identifier's patient, nor dropped as
  "not enrolled" with a 200.
- The same result (same test, same patient, same sample, same value) posted again by a
  client under a new logical id (FHIR create: "if an id is provided, the server SHALL
  ignore it") is a resend, not a second result.
"""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import pytest

from tests.integration.lab_fixtures import MRN, crp_observation
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

OTHER_MRN = "MRN9999"  # a patient of the same hospital who is not enrolled


async def post(lab: Lab, path: str, body: dict[str, Any]) -> int:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{lab.http}{path}", json=body) as response,
    ):
        await response.read()
        return response.status


async def stored(lab: Lab) -> int:
    return int(await lab.pool.fetchval("SELECT count(*) FROM results"))


def with_subject(reference_mrn: str, identifier_mrn: str) -> dict[str, Any]:
    observation = crp_observation("OBS-COND-1")
    observation["subject"] = {
        "reference": f"Patient?identifier=urn:hosp|{reference_mrn}",
        "identifier": {"system": "urn:hosp", "value": identifier_mrn},
    }
    return observation


@pytest.mark.parametrize(
    ("reference_mrn", "identifier_mrn"),
    [(OTHER_MRN, MRN), (MRN, OTHER_MRN)],
    ids=["reference-names-another-patient", "reference-names-the-enrolled-patient"],
)
async def test_a_conditional_reference_disagreeing_with_the_identifier_is_refused(
    lab: Lab, reference_mrn: str, identifier_mrn: str
) -> None:
    status = await post(lab, "/fhir/Observation", with_subject(reference_mrn, identifier_mrn))
    # which patient's CRP this is cannot be told: refused (4xx), nothing stored
    assert 400 <= status < 500, status
    assert await stored(lab) == 0


async def test_a_conditional_reference_disagreeing_in_a_transaction_fails_it(lab: Lab) -> None:
    body = {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [{"fullUrl": "urn:uuid:2f0b7c52-6a43-4a53-9a8e-1c3f3b2f0a01",
                   "resource": with_subject(OTHER_MRN, MRN),
                   "request": {"method": "POST", "url": "Observation"}}],
    }  # fmt: skip
    status = await post(lab, "/fhir", body)
    assert 400 <= status < 500, status
    assert await stored(lab) == 0


async def test_the_same_result_posted_again_under_a_new_id_is_stored_once(lab: Lab) -> None:
    first = crp_observation("unused")
    del first["identifier"]  # tracked by its id, as Cerner/HAPI Observations often are
    first["id"] = "crp-0001"
    again = copy.deepcopy(first)
    again["id"] = "crp-0002"  # the client's retry: a new logical id, the same result
    assert await post(lab, "/fhir/Observation", first) == 201
    assert await post(lab, "/fhir/Observation", again) in (200, 422)
    # one CRP of one sample: never two standing results for a consumer to count
    assert await stored(lab) == 1


async def test_a_changed_final_under_a_new_id_does_not_stand_beside_the_first(lab: Lab) -> None:
    first = crp_observation("unused")
    del first["identifier"]
    first["id"] = "crp-0003"
    changed = copy.deepcopy(first)
    changed["id"] = "crp-0004"  # the same sample, test and patient, another value, final
    changed["valueQuantity"]["value"] = 4
    assert await post(lab, "/fhir/Observation", first) == 201
    await post(lab, "/fhir/Observation", changed)
    standing = await lab.pool.fetch(
        "SELECT value FROM results r WHERE cancelled_at IS NULL AND status IN ('F', 'C')"
        " AND NOT EXISTS (SELECT 1 FROM results s WHERE s.supersedes_result_id = r.result_id)"
    )
    # as over HL7 (a changed final under one order and test, or one collection time, is
    # refused: send a correction): never two final CRPs of one sample standing side by side
    assert len(standing) == 1, sorted(r["value"] for r in standing)


async def test_a_transaction_naming_its_patient_by_a_conditional_reference_is_matched(
    lab: Lab,
) -> None:
    observation = crp_observation("OBS-COND-2")
    observation["subject"] = {"reference": f"Patient?identifier=urn:hosp|{MRN}"}
    body = {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [{"fullUrl": "urn:uuid:2f0b7c52-6a43-4a53-9a8e-1c3f3b2f0a02",
                   "resource": observation,
                   "request": {"method": "POST", "url": "Observation"}}],
    }  # fmt: skip
    # FHIR R4 (transaction, conditional references): the server resolves the search; here
    # it names the hospital number the subject was enrolled by
    assert await post(lab, "/fhir", body) == 200
    assert await stored(lab) == 1


def untracked_crp(logical_id: str, **changes: Any) -> dict[str, Any]:
    observation = crp_observation("unused")
    del observation["identifier"]
    return {**observation, "id": logical_id, **changes}


async def test_a_correction_without_an_identifier_finds_its_original(lab: Lab) -> None:
    """Keyed by collection time and test, a correction under a new id supersedes the first."""
    assert await post(lab, "/fhir/Observation", untracked_crp("crp-0005")) == 201
    corrected = untracked_crp("crp-0006", status="corrected")
    corrected["valueQuantity"] = {**corrected["valueQuantity"], "value": 4}
    assert await post(lab, "/fhir/Observation", corrected) == 201
    rows = await lab.pool.fetch(
        "SELECT result_id, status, supersedes_result_id FROM results ORDER BY recorded_at"
    )
    assert [r["status"] for r in rows] == ["F", "C"]
    assert rows[1]["supersedes_result_id"] == rows[0]["result_id"]


async def test_entered_in_error_without_an_identifier_withdraws_its_original(lab: Lab) -> None:
    assert await post(lab, "/fhir/Observation", untracked_crp("crp-0007")) == 201
    withdrawn = untracked_crp("crp-0008", status="entered-in-error")
    assert await post(lab, "/fhir/Observation", withdrawn) in (200, 201)
    cancelled = await lab.pool.fetchval(
        "SELECT count(*) FROM results WHERE cancelled_at IS NOT NULL"
    )
    assert cancelled == 1
