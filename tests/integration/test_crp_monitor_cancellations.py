"""crp-monitor in-process against real PostgreSQL and the broker: a cancellation read before
its result is kept and applied when the result arrives, a cancellation never touches another
subject's result, and `GET /v1/subjects/{id}/crp` answers 503 (PostgreSQL down) or 400 (an
id no subject can have), never 500."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import aiohttp
import pytest

from services.crp_monitor.adapters.repository import pending_cancellations
from services.crp_monitor.domain.model import PendingCancellations
from shared.auth import Role, create_token
from shared.contracts.envelope import Envelope
from shared.contracts.topics import LAB_RESULTS, TRIAL_SUBJECTS
from shared.embedded.postgres import EmbeddedPostgres
from tests.factories import crp_cancelled, crp_result, subject_enrolled
from tests.integration.messaging_fixtures import record, wait_until
from tests.integration.test_service_runtime import Running, crp_monitor  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration

CANCELLATIONS = "crp_cancellations_total"


def _result_id(result: Envelope) -> uuid.UUID:
    return uuid.UUID(result.payload["result_id"])


async def _fetchval(running: Running, sql: str, *args: object) -> object:
    assert running.runtime.pool is not None
    return await running.runtime.pool.fetchval(sql, *args)


async def _pending(running: Running) -> int:
    return int(str(await _fetchval(running, "SELECT count(*) FROM crp_pending_cancellations")))


async def _inbox(running: Running) -> int:
    return int(str(await _fetchval(running, "SELECT count(*) FROM inbox")))


async def _stored(running: Running, result_id: uuid.UUID) -> bool:
    found = await _fetchval(running, "SELECT 1 FROM crp_results WHERE result_id = $1", result_id)
    return found is not None


async def _token(running: Running) -> str:
    assert running.runtime.pool is not None
    async with running.runtime.pool.acquire() as conn:
        return await create_token(conn, f"reader-{uuid.uuid4().hex[:6]}", Role.SITE, site="CH-01")


async def _get(running: Running, path: str, token: str) -> tuple[int, dict[str, str], object]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{running.base_url}{path}", headers=headers) as response,
    ):
        body = await response.json(content_type=None)
        return response.status, dict(response.headers), body


async def _series(running: Running, subject_id: str, token: str) -> list[float]:
    status, _, body = await _get(running, f"/v1/subjects/{subject_id}/crp", token)
    assert status == 200, body
    assert isinstance(body, dict)
    return [point["crp_mg_l"] for point in body["series"]]


async def _counted(running: Running, outcome: str) -> float:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{running.base_url}/metrics") as response,
    ):
        text = await response.text()
    line = f'{CANCELLATIONS}{{outcome="{outcome}"}} '
    return float(next(row for row in text.splitlines() if row.startswith(line)).split()[-1])


async def test_a_cancellation_read_before_its_result_is_kept_and_applied_when_it_arrives(
    crp_monitor: Running,  # noqa: F811 - the fixture, imported
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    await record(crp_monitor.producer_pool, TRIAL_SUBJECTS, [subject_enrolled("S-X")], commit=True)
    result = crp_result("S-X", 95.0)
    cancellation = crp_cancelled("S-X", _result_id(result))
    await record(crp_monitor.producer_pool, LAB_RESULTS, [cancellation], commit=True)
    await wait_until(lambda: _pending_at_least(crp_monitor, 1))  # kept, not dropped
    assert await _counted(crp_monitor, "pending") == 1
    assert crp_monitor.runtime.pool is not None
    async with crp_monitor.runtime.pool.acquire() as conn:  # what the pending gauges show
        waiting = await pending_cancellations(conn)
    assert waiting.count == 1
    assert 0 <= waiting.oldest_age_seconds(datetime.now(UTC)) < 60

    await record(crp_monitor.producer_pool, LAB_RESULTS, [result], commit=True)
    await wait_until(lambda: _stored(crp_monitor, _result_id(result)))
    cancelled_at = await _fetchval(
        crp_monitor, "SELECT cancelled_at FROM crp_results WHERE result_id = $1", _result_id(result)
    )
    assert cancelled_at == cancellation.occurred_at
    assert await _series(crp_monitor, "S-X", await _token(crp_monitor)) == []
    assert await _pending(crp_monitor) == 0  # released once applied
    async with crp_monitor.runtime.pool.acquire() as conn:
        assert await pending_cancellations(conn) == PendingCancellations(0, None)
    assert await _counted(crp_monitor, "applied-on-arrival") == 1
    assert await _fetchval(crp_monitor, "SELECT count(*) FROM dead_letters") == 0
    kept = [r for r in caplog.records if getattr(r, "outcome", None) == "pending"]
    assert len(kept) == 1 and kept[0].levelno == logging.WARNING
    assert kept[0].__dict__["result_id"] == str(_result_id(result))  # logged by ids
    assert kept[0].__dict__["event_id"] == str(cancellation.event_id)


async def _pending_at_least(running: Running, n: int) -> bool:
    return await _pending(running) >= n


async def test_a_cancellation_of_another_subjects_result_is_dead_lettered_not_applied(
    crp_monitor: Running,  # noqa: F811 - the fixture, imported
) -> None:
    subjects = [subject_enrolled("S-A"), subject_enrolled("S-B")]
    await record(crp_monitor.producer_pool, TRIAL_SUBJECTS, subjects, commit=True)
    a_result = crp_result("S-A", 70.0)
    await record(crp_monitor.producer_pool, LAB_RESULTS, [a_result], commit=True)
    await wait_until(lambda: _stored(crp_monitor, _result_id(a_result)))

    stray = crp_cancelled("S-B", _result_id(a_result))  # keyed by S-B, names S-A's result
    await record(crp_monitor.producer_pool, LAB_RESULTS, [stray], commit=True)
    await wait_until(lambda: _dead_lettered(crp_monitor, "result-of-another-subject"))
    token = await _token(crp_monitor)
    assert await _series(crp_monitor, "S-A", token) == [70.0]

    # S-A's own cancellation of it is still applied
    await record(
        crp_monitor.producer_pool, LAB_RESULTS, [crp_cancelled("S-A", _result_id(a_result))],
        commit=True,
    )  # fmt: skip
    await wait_until(lambda: _inbox_at_least(crp_monitor, 5))
    assert await _series(crp_monitor, "S-A", token) == []
    assert await _counted(crp_monitor, "applied") == 1


async def _dead_lettered(running: Running, reason_code: str) -> bool:
    found = await _fetchval(
        running, "SELECT 1 FROM dead_letters WHERE reason_code = $1", reason_code
    )
    return found is not None


async def _inbox_at_least(running: Running, n: int) -> bool:
    return await _inbox(running) >= n


async def test_a_kept_cancellation_naming_another_subject_neither_applies_nor_hides_one(
    crp_monitor: Running,  # noqa: F811 - the fixture, imported
) -> None:
    """Both results arrive after cancellations of their ids: R1 after a stray one (keyed by
    S-C) and its owner's, R2 after a stray one only. R1 is cancelled, R2 stands."""
    subjects = [subject_enrolled("S-C"), subject_enrolled("S-D")]
    await record(crp_monitor.producer_pool, TRIAL_SUBJECTS, subjects, commit=True)
    first, second = crp_result("S-D", 40.0), crp_result("S-D", 45.0)
    cancellations = [
        crp_cancelled("S-C", _result_id(first)),
        crp_cancelled("S-C", _result_id(second)),
        crp_cancelled("S-D", _result_id(first)),
    ]
    await record(crp_monitor.producer_pool, LAB_RESULTS, cancellations, commit=True)
    await wait_until(lambda: _pending_at_least(crp_monitor, 3))

    await record(crp_monitor.producer_pool, LAB_RESULTS, [first, second], commit=True)
    await wait_until(lambda: _stored(crp_monitor, _result_id(second)))
    assert await _series(crp_monitor, "S-D", await _token(crp_monitor)) == [45.0]
    assert await _counted(crp_monitor, "applied-on-arrival") == 1
    assert await _counted(crp_monitor, "other-subject") == 2
    assert await _pending(crp_monitor) == 0


async def test_the_crp_api_answers_503_while_postgres_is_down_and_400_for_no_subject_id(
    crp_monitor: Running,  # noqa: F811 - the fixture, imported
    pg_server: EmbeddedPostgres,
) -> None:
    await record(crp_monitor.producer_pool, TRIAL_SUBJECTS, [subject_enrolled("S-P")], commit=True)
    token = await _token(crp_monitor)
    await wait_until(lambda: _inbox_at_least(crp_monitor, 1))
    assert await _series(crp_monitor, "S-P", token) == []  # the token is now cached

    status, _, body = await _get(crp_monitor, "/v1/subjects/S%00-1/crp", token)
    assert status == 400, body
    status, _, body = await _get(crp_monitor, f"/v1/subjects/{'S' * 65}/crp", token)
    assert status == 400, body

    pg_server.stop()
    try:
        status, headers, body = await _get(crp_monitor, "/v1/subjects/S-P/crp", token)
    finally:
        pg_server.start()
    assert status == 503, body
    assert headers["Retry-After"] == "5"
    assert headers["Content-Type"].startswith("application/problem+json")
    assert isinstance(body, dict) and body["status"] == 503
