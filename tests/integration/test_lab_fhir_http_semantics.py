"""FHIR R4 RESTful semantics of lab-ingestion's FHIR endpoint (port 8081).

- create (http.html#create): "The server returns a 201 Created HTTP status code, and SHALL
  also return a Location header which contains the new Logical Id and Version Id of the
  created resource version"; in a batch- or transaction-response an entry that created a
  resource carries the same in ``response.location``.
- capabilities (http.html#capabilities): "Applications SHALL return a Capability Statement
  that specifies which resource types and interactions are supported for the GET command"
  at ``[base]/metadata``. FHIR clients ask for it first: HAPI FHIR's generic client, as
  used by many laboratory integration engines, fetches ``metadata`` before its first
  request by default and fails when it is not there. It is answered without a token.

The Location names the stored result and its version (``Observation/<result id>/_history/1``:
a stored result is never updated, a change is a new one), with ``ETag: W/"1"`` (a
response entry's ``etag``; review 131); an answer that created nothing (a resend, a patient
not enrolled) has none.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


async def test_a_created_observation_is_answered_with_its_location(lab: Lab) -> None:
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"resource": crp_observation("LOC-2"),
                         "request": {"method": "POST", "url": "Observation"}}]}  # fmt: skip
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{lab.http}/fhir/Observation", json=crp_observation("LOC-1"), headers=auth
        ) as created:
            assert created.status == 201, await created.text()
            location = created.headers.get("Location")
            etag = created.headers.get("ETag")
        async with http.post(f"{lab.http}/fhir", json=bundle, headers=auth) as batch:
            entry = (await batch.json())["entry"][0]["response"]
    assert entry["status"].startswith("201")
    assert location is not None and "Observation/" in location, (
        "201 Created without the Location header FHIR R4 requires of a create"
    )
    assert "Observation/" in entry.get("location", ""), entry
    stored = {str(r["result_id"]) for r in await lab.pool.fetch("SELECT result_id FROM results")}
    ids = {location.split("/")[1], entry["location"].split("/")[1]}
    assert ids == stored
    assert {location, entry["location"]} == {f"Observation/{i}/_history/1" for i in ids}
    assert etag == entry["etag"] == 'W/"1"'


async def test_a_resend_creates_nothing_and_has_no_location(lab: Lab) -> None:
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession() as http:
        for expected in (201, 200):
            async with http.post(
                f"{lab.http}/fhir/Observation", json=crp_observation("LOC-3"), headers=auth
            ) as response:
                assert response.status == expected, await response.text()
                location = response.headers.get("Location")
    assert location is None


async def test_the_fhir_base_answers_its_capability_statement(lab: Lab) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{lab.http}/fhir/metadata", headers={"Accept": "application/fhir+json"}
        ) as response,
    ):
        status, body = response.status, await response.json(content_type=None)
    assert status == 200, body
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"].startswith("4.0")
    rest = body["rest"][0]
    observation = [r for r in rest["resource"] if r["type"] == "Observation"]
    assert observation and {"code": "create"} in observation[0]["interaction"]
    assert {i["code"] for i in rest.get("interaction", [])} >= {"transaction", "batch"}
