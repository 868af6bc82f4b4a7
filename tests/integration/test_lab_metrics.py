"""lab-ingestion's metrics after real requests, scraped from its /metrics (README: Metrics):
every lab route's answers timed under its channel, every counter in messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, crp_observation
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

FHIR = {"channel": "fhir", "source": "central-lab^FHIR"}


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


def _json_results(message_id: str) -> dict[str, Any]:
    return {
        "message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [{"result_id": "R1", "loinc": "777-3", "value": "180", "unit": "10*9/L",
                     "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}],
    }  # fmt: skip


def _transaction(*resources: dict[str, Any]) -> dict[str, Any]:
    entries = [{"resource": resource} for resource in resources]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


async def test_fhir_and_json_answers_are_timed_early_ones_too(lab: Lab) -> None:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    site = {"Authorization": f"Bearer {lab.site_token}"}
    observation = crp_observation("O-1", "mg/L")
    async with aiohttp.ClientSession() as http:
        answers = [
            await http.post(f"{lab.http}/fhir/Observation", json=observation, headers=headers),
            await http.post(f"{lab.http}/fhir", json=_transaction(observation)),  # no token
            await http.post(
                f"{lab.http}/v1/lab-results", json=_json_results("J-1"), headers=headers
            ),
            await http.post(f"{lab.http}/v1/lab-results", json=_json_results("J-2"), headers=site),
        ]
        for answer in answers:
            answer.release()
    assert [answer.status for answer in answers] == [201, 401, 202, 403]
    assert await lab.metric("lab_messages_received_total", channel="fhir") == 1
    assert await lab.metric("lab_ack_latency_seconds_count", channel="fhir") == 2
    assert await lab.metric("lab_messages_received_total", channel="json") == 1
    assert await lab.metric("lab_ack_latency_seconds_count", channel="json") == 2


async def test_a_transaction_counts_each_observation_in_every_counter(lab: Lab) -> None:
    """Not enrolled, duplicate or rejected: never more than was received, as in a batch."""
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    not_enrolled = [crp_observation(f"NE-{i}", "mg/L") for i in range(3)]
    for resource in not_enrolled:
        resource["subject"] = {"identifier": {"system": "urn:hosp", "value": "MRN-NOT-ENROLLED"}}
    stored = [crp_observation("ST-1", "mg/L"), crp_observation("ST-2", "mg/L")]
    failing = [crp_observation("RJ-1", "mg/L"), crp_observation("RJ-2", "U/L")]
    statuses = []
    async with aiohttp.ClientSession() as http:
        for resources in (not_enrolled, stored, stored, failing):  # stored twice: duplicates
            async with http.post(
                f"{lab.http}/fhir", json=_transaction(*resources), headers=headers
            ) as response:
                statuses.append(response.status)
    assert statuses == [200, 200, 200, 422]
    assert await lab.metric("lab_messages_received_total", **FHIR) == 3 + 2 + 2 + 2
    assert await lab.metric("lab_messages_accepted_total", **FHIR) == 3 + 2 + 2
    assert await lab.metric("lab_unmatched_patient_total", channel="fhir") == 3
    assert await lab.metric("lab_messages_duplicate_total", channel="fhir") == 2
    rejected = await lab.metric("lab_messages_rejected_total", **FHIR, reason="unconvertible-unit")
    assert rejected == 2  # neither of the failed transaction's Observations was stored
