"""A FHIR Observation withdrawing a stored result (entered-in-error, cancelled) creates
nothing: it is answered 200 with an informational OperationOutcome saying the earlier result
was withdrawn, never 201 Created without the Location FHIR R4 requires of a create
(http.html#create: a 201 "SHALL also return a Location header"; review 66)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


async def test_a_withdrawal_is_not_a_201_created_without_a_location(lab: Lab) -> None:
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    withdrawal = crp_observation("LOC-W1") | {"status": "entered-in-error"}
    withdrawal.pop("valueQuantity")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{lab.http}/fhir/Observation", json=crp_observation("LOC-W1"), headers=auth
        ) as created:
            assert created.status == 201, await created.text()
        async with http.post(
            f"{lab.http}/fhir/Observation", json=withdrawal, headers=auth
        ) as withdrawn:
            status, location = withdrawn.status, withdrawn.headers.get("Location")
            answer = await withdrawn.json()
    cancelled = await lab.pool.fetchval(
        "SELECT count(*) FROM results WHERE cancelled_at IS NOT NULL"
    )
    assert cancelled == 1, answer
    assert not (status == 201 and location is None), f"201 Created without Location: {answer}"
    assert (status, location) == (200, None), answer
    assert answer["issue"][0]["severity"] == "information"
    assert "withdrawn" in answer["issue"][0]["diagnostics"]
