"""A service whose faust consumer crashed stops with a failure (and is started again by its
supervisor) rather than stay up and ready while applying nothing. crp-monitor run in-process
against real PostgreSQL and the broker.

mode ends a crashed service's tasks and goes on: before, a consumer that faust's livelock
check crashed (``shared.streaming.event_path``) left crp-monitor answering /readyz 200 with
no lab result applied any more."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from cachexia.services import service_definition
from shared.runtime import BackgroundTaskFailed, ServiceRuntime
from shared.settings import PlatformSettings
from shared.streaming.guarded_consumer import GuardedConsumer

pytestmark = pytest.mark.integration


async def test_a_crashed_faust_consumer_stops_the_service_with_a_failure(
    settings: PlatformSettings,
) -> None:
    runtime = ServiceRuntime(service_definition("crp-monitor"), settings)
    task = asyncio.create_task(runtime.run(install_signal_handlers=False))
    try:
        await asyncio.wait_for(runtime.started.wait(), 60)
        app = runtime.messaging._faust
        assert app is not None
        consumer = app.consumer
        assert isinstance(consumer, GuardedConsumer)

        def fails(now: float, tp: Any) -> None:
            raise AssertionError("the livelock check failed for S-4711")

        # faust's livelock timer runs the check every 2.5 commit intervals (1 s); its
        # failure crashes the consumer through mode's own path
        consumer.verify_event_path = fails  # type: ignore[method-assign]  # a failing check
        failed_as = r"faust-consumers \(ConsumerCrashed\)"
        with pytest.raises(BackgroundTaskFailed, match=failed_as) as failed:
            await asyncio.wait_for(asyncio.shield(task), 40)
        assert "S-4711" not in str(failed.value)
        assert consumer.crashed
    finally:
        runtime.stopping.set()
        await asyncio.wait([task], timeout=30)
    base = f"http://127.0.0.1:{settings.crp_monitor_http_port}"
    with pytest.raises(aiohttp.ClientConnectionError):  # nobody is told it is ready
        async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz"):
            pass
