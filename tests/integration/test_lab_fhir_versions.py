"""A FHIR Observation keeps its identifier across versions, and a version's message id is
made of its content: a new version that says what an earlier one said is told apart by its
meta.versionId, else answered 422, never dropped as a duplicate; a Bundle sent again whole is
a resend; a Bundle's Observation of no trial analyte is ignored (reviews 34 and 37)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

GLUCOSE = {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}


def version(
    value: float, status: str, issued: str | None, identifier: str = "OBS-FLIP"
) -> dict[str, Any]:
    """A version of one CRP Observation; ``issued``: the hour it was released, if given."""
    observation = crp_observation(identifier)
    observation["valueQuantity"]["value"] = value
    observation["status"] = status
    observation["meta"] = {"versionId": "1"}  # a client's constant mark: tells nothing
    if issued is not None:
        observation["issued"] = f"2026-11-20T{issued}:00:00+01:00"
    return observation


def bundle(kind: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    entries = [
        {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{index:012d}", "resource": resource,
         "request": {"method": "POST", "url": "Observation"}}
        for index, resource in enumerate(resources)
    ]  # fmt: skip
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


async def post(lab: Lab, path: str, body: dict[str, Any]) -> tuple[int, list[int]]:
    """The answer's status, and each Bundle entry's."""
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{lab.http}{path}", json=body) as response,
    ):
        answer = await response.json(content_type=None)
    entries = [int(e["response"]["status"].split()[0]) for e in answer.get("entry", [])]
    return response.status, entries


async def post_all(lab: Lab, versions: list[dict[str, Any]]) -> list[int]:
    return [(await post(lab, "/fhir/Observation", body))[0] for body in versions]


async def standing_values(lab: Lab) -> list[float]:
    """The values a consumer holds: results neither cancelled nor superseded."""
    rows = await lab.pool.fetch(
        "SELECT value FROM results r WHERE cancelled_at IS NULL AND status IN ('F', 'C')"
        " AND NOT EXISTS (SELECT 1 FROM results s WHERE s.supersedes_result_id = r.result_id)"
        " ORDER BY value"
    )
    return [row["value"] for row in rows]


async def rejection_codes(lab: Lab) -> list[str]:
    rows = await lab.pool.fetch("SELECT reason_code FROM rejections ORDER BY received_at")
    return [row["reason_code"] for row in rows]


async def test_a_value_corrected_back_is_applied_when_versions_are_issued(lab: Lab) -> None:
    statuses = await post_all(lab, [
        version(20, "final", "09"), version(4, "corrected", "10"),
        version(20, "corrected", "11"), version(4, "corrected", "12"),
        version(4, "corrected", "12"),  # a resend of the last version: a duplicate
    ])  # fmt: skip
    assert statuses == [201, 201, 201, 201, 200]
    assert await standing_values(lab) == [4.0]


@pytest.mark.parametrize("issued", [None, "09"])  # none, or the same on every version
async def test_a_repeated_version_whose_chain_moved_on_is_refused(
    lab: Lab, issued: str | None
) -> None:
    statuses = await post_all(lab, [
        version(20, "final", issued), version(4, "corrected", issued),
        version(4, "corrected", issued),  # the current version again: a duplicate
        version(20, "final", issued),  # the first again: late resend or new? not guessed
    ])  # fmt: skip
    assert statuses == [201, 201, 200, 422]
    assert await standing_values(lab) == [4.0]
    assert await rejection_codes(lab) == ["ambiguous-version"]


@pytest.mark.parametrize("kind", ["transaction", "batch"])
async def test_a_bundle_sent_again_whole_is_a_resend(lab: Lab, kind: str) -> None:
    glucose = {**version(5.4, "final", None, "GLU-1"), "code": GLUCOSE}
    body = bundle(kind, [version(20, "final", None), version(4, "corrected", None), glucose])
    assert await post(lab, "/fhir", body) == (200, [201, 201, 200])  # glucose: ignored
    assert await post(lab, "/fhir", body) == (200, [200, 200, 200])
    assert await standing_values(lab) == [4.0]
    assert await rejection_codes(lab) == []


async def test_a_bundle_holding_one_version_twice_is_no_resend(lab: Lab) -> None:
    body = bundle("batch", [
        version(20, "final", None), version(4, "corrected", None),
        version(20, "corrected", None), version(4, "corrected", None),
    ])  # fmt: skip
    assert await post(lab, "/fhir", body) == (200, [201, 201, 201, 422])
    assert await standing_values(lab) == [20.0]


async def test_a_transaction_of_other_analytes_alone_stores_nothing(lab: Lab) -> None:
    glucose = {**version(5.4, "final", None, "GLU-2"), "code": GLUCOSE}
    status, _ = await post(lab, "/fhir", bundle("transaction", [glucose]))
    assert status == 200  # ignored, as an HL7 message's glucose beside a CRP is
    assert await standing_values(lab) == []


@pytest.mark.parametrize("siblings", ["none", "glucose", "new result"])
async def test_a_bundle_never_carries_a_stale_version_through(lab: Lab, siblings: str) -> None:
    """A stale version refused alone is refused in any Bundle: of one entry, beside an
    ignored glucose, beside a new result (stored by the Bundle itself) (review 38)."""
    stale = [version(20, "final", "09"), version(4, "corrected", "09")]
    assert await post_all(lab, [*stale, version(20, "corrected", "09")]) == [201, 201, 201]
    others = {
        "none": [],
        "glucose": [{**version(5.4, "final", None, "GLU-3"), "code": GLUCOSE}],
        "new result": [version(7, "final", None, "OBS-NEW")],
    }[siblings]
    _, entries = await post(lab, "/fhir", bundle("batch", [*others, stale[1]]))
    assert entries[-1] == 422
    assert 20.0 in await standing_values(lab)
    assert await rejection_codes(lab) == ["ambiguous-version"]


@pytest.mark.parametrize("kind", ["transaction", "batch"])
async def test_a_glucose_without_an_identifier_never_refuses_the_crp(lab: Lab, kind: str) -> None:
    glucose = {**version(5.4, "final", None, "GLU-4"), "code": GLUCOSE}
    del glucose["identifier"]  # optional in FHIR: only a trial result needs one
    answer = await post(lab, "/fhir", bundle(kind, [version(20, "final", None), glucose]))
    assert answer == (200, [201, 200])
    assert await standing_values(lab) == [20.0]
    assert await rejection_codes(lab) == []
