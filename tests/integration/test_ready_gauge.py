"""``cachexia_ready`` follows the dependencies and the service's lifecycle on every scrape of
``/metrics``, whether or not anything probes ``/readyz`` (review 40, finding 4)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from cachexia.services import service_definition
from shared.embedded.tansu import EmbeddedTansu
from shared.metrics import ReadinessMetrics
from shared.runtime import ServiceRuntime
from shared.settings import PlatformSettings
from shared.web.app import ReadinessChecks, build_http_app
from tests.unit.lab_ingestion.route_fakes import FakeTokens

pytestmark = pytest.mark.integration
# subject_directory: lab-ingestion's copy of the enrolments has read what the topic held at
# start (empty here: before it started, see shared.runtime)
ALL_READY = {
    "postgres": 1.0, "kafka": 1.0, "started": 1.0, "not_stopping": 1.0, "subject_directory": 1.0,
}  # fmt: skip


def ready_series(exposition: str) -> dict[str, float]:
    return {
        sample.labels["dependency"]: sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "cachexia_ready"
    }


@pytest.fixture
async def service(settings: PlatformSettings) -> AsyncIterator[str]:
    """lab-ingestion running in-process; its HTTP address. Nothing probes its /readyz."""
    runtime = ServiceRuntime(service_definition("lab-ingestion"), settings)
    task = asyncio.create_task(runtime.run(install_signal_handlers=False))
    await asyncio.wait_for(runtime.started.wait(), 60)
    yield f"http://127.0.0.1:{settings.lab_ingestion_http_port}"
    runtime.stopping.set()
    await asyncio.wait_for(task, 30)


async def scrape(http: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{http}/metrics") as response:
        return ready_series(await response.text())


async def test_a_scrape_alone_reports_the_dependencies_and_the_lifecycle(service: str) -> None:
    assert await scrape(service) == ALL_READY


# The service is stopped with its broker gone: aiokafka's fetcher, closing, awaits a fetch
# it cancelled during its retry back-off and re-raises that CancelledError out of faust's
# consumer thread (aio-libs/aiokafka#647). The stop completes (the fixture waits for it).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_the_gauge_drops_when_the_broker_goes_though_nothing_probes(
    service: str, broker: EmbeddedTansu
) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{service}/readyz") as answer:
        assert answer.status == 200  # probed once while the broker was there, then never
    broker.kill()
    await asyncio.sleep(1.5)  # past the checks' cache (1 s)
    began = time.monotonic()
    scraped = await scrape(service)
    assert scraped == {**ALL_READY, "kafka": 0.0}
    assert time.monotonic() - began < 5  # the checks are bounded: the scrape is answered


async def test_the_gauge_agrees_with_readyz_on_starting_stopping_and_a_hung_check() -> None:
    lifecycle = {"started": False, "stopping": False}

    async def hangs() -> bool:
        await asyncio.sleep(60)
        return True

    registry = CollectorRegistry()
    readiness = ReadinessChecks(
        {"postgres": hangs},
        ReadinessMetrics(registry, "unit"),
        check_seconds=0.2,
        started=lambda: lifecycle["started"],
        stopping=lambda: lifecycle["stopping"],
    )
    app = build_http_app(
        service="unit", registry=registry, readiness=readiness, tokens=FakeTokens()
    )
    seen = []
    async with TestClient(TestServer(app)) as client:
        for step in ("starting", "started", "stopping"):
            lifecycle.update(started=step != "starting", stopping=step == "stopping")
            seen.append(ready_series(await (await client.get("/metrics")).text()))
    assert seen == [
        {"postgres": 0.0, "started": 0.0, "not_stopping": 1.0},
        {"postgres": 0.0, "started": 1.0, "not_stopping": 1.0},
        {"postgres": 0.0, "started": 1.0, "not_stopping": 0.0},
    ]
