"""/fhir/metadata takes GET (and HEAD); another method on it is answered as on the other
FHIR paths this service serves: 405 with Allow and an OperationOutcome, not 404 (RFC 9110
15.5.6: 405 for a method the target resource does not support, with Allow; review 66)."""

from __future__ import annotations

import pytest

from tests.unit.lab_ingestion.route_fakes import FakeSubmit, lab_client


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_another_method_on_fhir_metadata_is_405_with_allow(method: str) -> None:
    async with lab_client(FakeSubmit()) as client:
        response = await client.request(method, "/fhir/metadata")
        body = await response.json()
    assert response.status == 405, (response.status, body)
    assert set(response.headers.get("Allow", "").replace(" ", "").split(",")) >= {"GET"}


async def test_another_method_on_fhir_metadata_is_an_operation_outcome_naming_get() -> None:
    async with lab_client(FakeSubmit()) as client:
        response = await client.request("DELETE", "/fhir/metadata")
        body = await response.json(content_type=None)
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.content_type == "application/fhir+json"
    (issue,) = body["issue"]
    assert issue["code"] == "not-supported"
    assert "GET, HEAD" in issue["diagnostics"]


async def test_head_on_fhir_metadata_is_answered() -> None:
    async with lab_client(FakeSubmit()) as client:
        response = await client.head("/fhir/metadata")
    assert response.status == 200


async def test_another_fhir_path_is_404_naming_every_route_metadata_too() -> None:
    async with lab_client(FakeSubmit()) as client:
        response = await client.get("/fhir/Patient")
        body = await response.json(content_type=None)
    assert response.status == 404
    assert "GET /fhir/metadata" in body["issue"][0]["diagnostics"]
