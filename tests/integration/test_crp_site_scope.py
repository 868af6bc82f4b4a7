"""A site token reads only its own site's subjects (GCP confidentiality in a multi-site
double-blind trial), over real HTTP, with crp-monitor run against the real broker and
PostgreSQL: another site's subject is answered exactly as one never enrolled (404, the same
body), so the answer tells nothing of which subject ids exist elsewhere; a site token made
before tokens named their site reads nothing (403); the other reading roles are unchanged."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from shared.auth import Role, create_token, new_token, token_digest
from shared.contracts.envelope import Envelope
from shared.contracts.topics import LAB_RESULTS, TRIAL_SUBJECTS
from shared.subject_access import SITE_NOT_NAMED
from tests.factories import crp_result, subject_enrolled
from tests.integration.messaging_fixtures import record, wait_until
from tests.integration.test_service_runtime import Running, crp_monitor  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration

OWN, OTHER = "CH-01", "CH-02"


def _enrolled_at(subject_id: str, site: str) -> Envelope:
    enrolment = subject_enrolled(subject_id)
    return enrolment.model_copy(update={"payload": {**enrolment.payload, "site_id": site}})


async def _get(running: Running, subject_id: str, token: str) -> tuple[int, str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{running.base_url}/v1/subjects/{subject_id}/crp",
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        return response.status, response.content_type, await response.json(content_type=None)


async def _unbound_site_token(running: Running) -> str:
    """A site token as stored before auth migration 0003: no site."""
    token = new_token()
    assert running.runtime.pool is not None
    await running.runtime.pool.execute(
        "INSERT INTO auth.api_tokens (token_id, name, role, token_sha256)"
        " VALUES ($1, 'old site token', 'site', $2)",
        uuid.uuid4(),
        token_digest(token),
    )
    return token


async def test_a_site_token_reads_its_own_sites_subjects_only(
    crp_monitor: Running,  # noqa: F811 - the fixture, imported
) -> None:
    pool = crp_monitor.runtime.pool
    assert pool is not None
    async with pool.acquire() as conn:
        own = await create_token(conn, "site CH-01", Role.SITE, site=OWN)
        other = await create_token(conn, "site CH-02", Role.SITE, site=OTHER)
        readers = {
            role: await create_token(conn, role.value, role)
            for role in (Role.SAFETY, Role.UNBLINDED, Role.OPS)
        }
        lab = await create_token(conn, "lab", Role.LAB)
    unbound = await _unbound_site_token(crp_monitor)

    # S-B1 asked for by CH-01 before anything is known of it: the answer of an unknown subject
    never_enrolled = await _get(crp_monitor, "S-B1", own)
    assert never_enrolled[0] == 404

    enrolments = [_enrolled_at("S-A1", OWN), _enrolled_at("S-B1", OTHER)]
    await record(crp_monitor.producer_pool, TRIAL_SUBJECTS, enrolments, commit=True)
    results = [crp_result("S-A1", 40.0), crp_result("S-B1", 90.0), crp_result("S-U1", 70.0)]
    await record(crp_monitor.producer_pool, LAB_RESULTS, results, commit=True)

    async def stored() -> bool:
        counts = [await crp_monitor.crp_count(s) for s in ("S-A1", "S-B1", "S-U1")]
        enrolled = await pool.fetchval("SELECT count(*) FROM enrolled_subjects")
        return counts == [1, 1, 1] and enrolled == 2

    await wait_until(stored)

    def values(answer: tuple[int, str, Any]) -> list[float]:
        assert answer[0] == 200, answer
        return [p["crp_mg_l"] for p in answer[2]["series"]]

    assert values(await _get(crp_monitor, "S-A1", own)) == [40.0]
    assert values(await _get(crp_monitor, "S-B1", other)) == [90.0]
    # another site's subject: exactly what the never-enrolled subject got
    assert await _get(crp_monitor, "S-B1", own) == never_enrolled
    assert (await _get(crp_monitor, "S-A1", other))[:2] == (404, "application/problem+json")
    # results whose subject's enrolment was not read (its site unknown): no site token's
    assert (await _get(crp_monitor, "S-U1", own))[0] == 404

    for role, token in readers.items():  # unchanged: every site's subjects
        assert values(await _get(crp_monitor, "S-A1", token)) == [40.0], role
        assert values(await _get(crp_monitor, "S-B1", token)) == [90.0], role
        assert values(await _get(crp_monitor, "S-U1", token)) == [70.0], role

    for subject_id in ("S-A1", "S-B1", "S-NOPE"):  # fails closed, whatever the subject
        status, content_type, body = await _get(crp_monitor, subject_id, unbound)
        assert (status, content_type, body["detail"]) == (
            403, "application/problem+json", SITE_NOT_NAMED,
        )  # fmt: skip
    assert (await _get(crp_monitor, "S-A1", lab))[0] == 403
