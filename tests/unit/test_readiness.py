"""``/readyz``: ready only once the service has started, until it begins to stop, and while
its dependencies answer; the answer says which of these is missing."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from shared.metrics import ReadinessMetrics
from shared.web.app import ReadinessChecks, build_http_app
from tests.unit.lab_ingestion.route_fakes import FakeTokens


class Lifecycle:
    def __init__(self) -> None:
        self.started = False
        self.stopping = False
        self.postgres = True
        self.checked = 0

    async def postgres_ok(self) -> bool:
        self.checked += 1
        return self.postgres


async def readyz(lifecycle: Lifecycle, cache_seconds: float = 60.0) -> list[tuple[int, Any]]:
    registry = CollectorRegistry()
    readiness = ReadinessChecks(
        {"postgres": lifecycle.postgres_ok},
        ReadinessMetrics(registry, "unit"),
        cache_seconds=cache_seconds,
        started=lambda: lifecycle.started,
        stopping=lambda: lifecycle.stopping,
    )
    app = build_http_app(
        service="unit", registry=registry, readiness=readiness, tokens=FakeTokens()
    )
    answers = []
    async with TestClient(TestServer(app)) as client:
        for step in ("starting", "started", "stopping"):
            lifecycle.started = step != "starting"
            lifecycle.stopping = step == "stopping"
            response = await client.get("/readyz")
            answers.append((response.status, await response.json()))
    return answers


async def test_readyz_is_503_until_started_and_from_the_moment_stopping_begins() -> None:
    lifecycle = Lifecycle()
    starting, started, stopping = await readyz(lifecycle)  # cached checks: 60 s
    assert starting == (
        503,
        {
            "ready": False,
            "service": "unit",
            "started": False,
            "stopping": False,
            "checks": {"postgres": True},
        },
    )
    assert started[0] == 200
    assert started[1]["ready"] is True
    assert stopping[0] == 503
    assert (stopping[1]["ready"], stopping[1]["stopping"]) == (False, True)
    assert stopping[1]["checks"] == {"postgres": True}  # the last results, not run again


async def test_a_dependency_that_does_not_answer_is_still_503_once_started() -> None:
    lifecycle = Lifecycle()
    lifecycle.postgres = False
    _, started, _ = await readyz(lifecycle, cache_seconds=0.0)
    assert started[0] == 503
    assert started[1]["checks"] == {"postgres": False}
    assert lifecycle.checked == 2  # not while stopping: the pool is being closed then


async def test_without_a_lifecycle_readiness_is_the_dependency_checks() -> None:
    registry = CollectorRegistry()

    async def ok() -> bool:
        return True

    report = await ReadinessChecks({"kafka": ok}, ReadinessMetrics(registry, "unit")).report()
    assert report == {"ready": True, "started": True, "stopping": False, "checks": {"kafka": True}}
