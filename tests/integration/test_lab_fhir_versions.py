"""A FHIR Observation keeps its identifier across versions, and a version's message id is
made of its content: a new version that says what an earlier one said is told apart by its
meta.versionId, or answered 422 when nothing tells it from a late resend (review 34)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


def version(value: float, status: str, version_id: str | None) -> dict[str, Any]:
    observation = crp_observation("OBS-FLIP")
    observation["valueQuantity"]["value"] = value
    observation["status"] = status
    if version_id is not None:
        observation["meta"] = {"versionId": version_id}
    return observation


async def post_all(lab: Lab, versions: list[dict[str, Any]]) -> list[int]:
    statuses = []
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for body in versions:
            async with http.post(f"{lab.http}/fhir/Observation", json=body) as response:
                statuses.append(response.status)
    return statuses


async def standing_values(lab: Lab) -> list[float]:
    """The values a consumer holds: the key's results neither cancelled nor superseded."""
    rows = await lab.pool.fetch(
        "SELECT value FROM results r WHERE cancelled_at IS NULL AND status IN ('F', 'C')"
        " AND NOT EXISTS (SELECT 1 FROM results s WHERE s.supersedes_result_id = r.result_id)"
    )
    return [row["value"] for row in rows]


async def test_a_value_corrected_back_is_applied_when_versions_are_named(lab: Lab) -> None:
    statuses = await post_all(lab, [
        version(20, "final", "1"), version(4, "corrected", "2"),
        version(20, "corrected", "3"), version(4, "corrected", "4"),
        version(4, "corrected", "4"),  # a resend of the last version: a duplicate
    ])  # fmt: skip
    assert statuses == [201, 201, 201, 201, 200]
    assert await standing_values(lab) == [4.0]


async def test_an_unnamed_version_repeating_an_older_one_is_refused(lab: Lab) -> None:
    statuses = await post_all(lab, [
        version(20, "final", None), version(4, "corrected", None),
        version(4, "corrected", None),  # the current version again: a duplicate
        version(20, "final", None),  # the first again: late resend or new? not guessed
    ])  # fmt: skip
    assert statuses == [201, 201, 200, 422]
    assert await standing_values(lab) == [4.0]
    codes = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert [r["reason_code"] for r in codes] == ["ambiguous-version"]
