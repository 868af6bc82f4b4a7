"""A censored CRP through the real broker and PostgreSQL: a LabResultRecorded with a
comparator, published on lab.results.v1 as lab-ingestion publishes it, is served by
`GET /v1/subjects/{id}/crp` with its comparator beside the limit, never as a measured value;
a measured one beside it with none (null)."""

from __future__ import annotations

import pytest

from shared.contracts.events.lab import Comparator
from shared.contracts.topics import LAB_RESULTS, TRIAL_SUBJECTS
from tests.factories import crp_result, subject_enrolled
from tests.integration.messaging_fixtures import record, wait_until
from tests.integration.test_crp_monitor_cancellations import _get, _token
from tests.integration.test_service_runtime import Running, crp_monitor  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


async def test_a_censored_crp_is_served_with_its_comparator(
    crp_monitor: Running,  # noqa: F811 - the fixture, imported
) -> None:
    await record(crp_monitor.producer_pool, TRIAL_SUBJECTS, [subject_enrolled("S-L")], commit=True)
    below = crp_result("S-L", 5.0, comparator=Comparator.BELOW)  # "<5 mg/L": reporting limit
    measured = crp_result("S-L", 5.0)
    above = crp_result("S-L", 160.0, comparator=Comparator.ABOVE)
    published = [below, measured, above]
    await record(crp_monitor.producer_pool, LAB_RESULTS, published, commit=True)

    async def all_stored() -> bool:
        return await crp_monitor.crp_count("S-L") >= len(published)

    await wait_until(all_stored)
    token = await _token(crp_monitor)
    status, _, body = await _get(crp_monitor, "/v1/subjects/S-L/crp", token)
    assert status == 200, body
    assert isinstance(body, dict)
    served = {p["result_id"]: (p["crp_mg_l"], p["comparator"]) for p in body["series"]}
    assert served == {
        below.payload["result_id"]: (5.0, "<"),
        measured.payload["result_id"]: (5.0, None),
        above.payload["result_id"]: (160.0, ">"),
    }
    assert crp_monitor.runtime.pool is not None
    assert await crp_monitor.runtime.pool.fetchval("SELECT count(*) FROM dead_letters") == 0

    status, _, document = await _get(crp_monitor, "/openapi.json", token)
    assert status == 200 and isinstance(document, dict)
    answer = document["paths"]["/v1/subjects/{subject_id}/crp"]["get"]["responses"]["200"]
    point = answer["content"]["application/json"]["schema"]["properties"]["series"]["items"]
    assert "limit" in point["properties"]["comparator"]["description"]
