"""HTTP errors of crp-monitor's route and of every service's app: a passing database failure
is 503 with Retry-After (in the route's error format), an id no subject can have is 400, a
bug is still 500. The real aiohttp app with a fake pool and token store (no database)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.crp_monitor.bootstrap import crp_series_query
from services.crp_monitor.entrypoints import http
from shared.auth import Principal, Role
from shared.contracts.envelope import Envelope
from shared.metrics import ReadinessMetrics
from shared.subject_access import SITE_NOT_NAMED
from shared.web.app import ReadinessChecks, build_http_app, requires
from tests.factories import subject_enrolled
from tests.unit.lab_ingestion.route_fakes import SITE_TOKEN, FakeTokens

SITE = {"Authorization": f"Bearer {SITE_TOKEN}"}
SECRET = "quoted-by-the-driver"  # an error's text, which must never reach the log


class FakeConnection:
    async def fetchval(self, *_: Any) -> None:
        return None

    async def fetchrow(self, *_: Any) -> None:
        return None

    async def fetch(self, *_: Any) -> list[Any]:
        return []


class FakePool:
    """Lends a connection that finds nothing, or fails with ``error``."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.acquired = 0

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        self.acquired += 1
        if self.error is not None:
            raise self.error
        yield FakeConnection()


def _app(routes: list[web.RouteDef]) -> web.Application:
    registry = CollectorRegistry()
    readiness = ReadinessChecks({}, ReadinessMetrics(registry, "unit"))
    return build_http_app(
        service="unit", registry=registry, readiness=readiness, tokens=FakeTokens(), routes=routes
    )


async def _get(app: web.Application, path: str) -> tuple[int, dict[str, str], str]:
    async with TestClient(TestServer(app)) as client:
        response = await client.get(path, headers=SITE)
        return response.status, dict(response.headers), await response.text()


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(SECRET),
        asyncpg.CannotConnectNowError(SECRET),
        asyncpg.ConnectionDoesNotExistError(SECRET),
        TimeoutError(SECRET),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_the_crp_series_is_503_with_retry_after_while_the_database_is_unreachable(
    error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(http.routes(crp_series_query(FakePool(error))))  # a fake of the pool
    status, headers, body = await _get(app, "/v1/subjects/S-1/crp")
    assert (status, headers["Retry-After"]) == (503, "5")
    assert headers["Content-Type"].startswith("application/problem+json")
    logged = [r for r in caplog.records if r.name == "shared.web.app"]
    assert [r.__dict__["error"] for r in logged] == [type(error).__name__]
    assert logged[0].__dict__["route"] == "/v1/subjects/{subject_id}/crp"  # not the ids
    assert SECRET not in caplog.text and SECRET not in body


async def test_a_route_with_its_own_error_format_answers_its_503_in_it() -> None:
    def outcome(status: int, title: str, detail: str) -> web.Response:
        return web.json_response({"resourceType": "OperationOutcome"}, status=status)

    @requires(Role.SITE, render=outcome)
    async def failing(_: web.Request) -> web.Response:
        raise ConnectionResetError(SECRET)

    status, headers, body = await _get(_app([web.get("/fhir/x", failing)]), "/fhir/x")
    assert (status, headers["Retry-After"]) == (503, "5") and "OperationOutcome" in body


async def test_a_bug_is_still_a_500() -> None:
    async def failing(_: web.Request) -> web.Response:
        raise ValueError(SECRET)

    status, _, _ = await _get(_app([web.get("/x", failing)]), "/x")
    assert status == 500


@pytest.mark.parametrize("subject_id", ["S%00-1", "%00", "S" * 65])
async def test_an_id_no_subject_can_have_is_400_and_never_reaches_the_database(
    subject_id: str,
) -> None:
    pool = FakePool()
    app = _app(http.routes(crp_series_query(pool)))  # a fake of the pool
    status, headers, body = await _get(app, f"/v1/subjects/{subject_id}/crp")
    assert status == 400, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert pool.acquired == 0


async def test_the_longest_id_an_event_can_carry_is_asked_for_and_may_be_unknown() -> None:
    pool = FakePool()
    app = _app(http.routes(crp_series_query(pool)))  # a fake of the pool
    status, _, _ = await _get(app, f"/v1/subjects/{'S' * 64}/crp")
    assert (status, pool.acquired) == (404, 1)


def test_the_route_allows_exactly_the_subject_ids_the_envelope_allows() -> None:
    longest = "S" * http.SUBJECT_ID_MAX_LENGTH
    enrolled = subject_enrolled(longest).model_dump()
    assert Envelope.model_validate(enrolled).subject_id == longest
    with pytest.raises(ValidationError):
        Envelope.model_validate({**enrolled, "subject_id": longest + "S"})
    assert http.can_be_subject_id(longest) and not http.can_be_subject_id(longest + "S")
    assert not http.can_be_subject_id("S\x00")


async def test_a_site_token_naming_no_site_is_403_and_never_reaches_the_database() -> None:
    """Made before tokens named their site: it reads no subject, fail closed."""
    pool = FakePool()
    tokens = FakeTokens()
    tokens._principals["cx_old"] = Principal(uuid.uuid4(), "old", Role.SITE)  # no site
    registry = CollectorRegistry()
    app = build_http_app(
        service="unit", registry=registry, tokens=tokens,
        readiness=ReadinessChecks({}, ReadinessMetrics(registry, "unit")),
        routes=http.routes(crp_series_query(pool)),  # a fake of the pool
    )  # fmt: skip
    async with TestClient(TestServer(app)) as client:
        response = await client.get(
            "/v1/subjects/S-1/crp", headers={"Authorization": "Bearer cx_old"}
        )
        body = await response.json(content_type=None)
    assert (response.status, body["detail"], pool.acquired) == (403, SITE_NOT_NAMED, 0)
