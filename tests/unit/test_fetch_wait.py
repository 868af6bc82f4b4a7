"""A service's consumer fetches with the configured wait, not faust's fixed 1,500 ms: on the
embedded broker an idle topic's next event waited for it (shared.streaming.fetch_wait)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.settings import PlatformSettings
from shared.streaming.faust_app import create_faust_app


def _worker_consumer(tmp_path: Path, **wait: float) -> Any:
    app = create_faust_app("unit-test", "127.0.0.1:1", tmp_path, **wait)
    # what faust runs as the worker starts (a private method: hence Any)
    faust_consumer: Any = app.consumer
    return faust_consumer._thread._create_worker_consumer(app.transport)


@pytest.mark.parametrize("seconds", [0.01, 0.1, 0.25, 10.0])
async def test_the_consumer_fetches_with_the_wait_given(tmp_path: Path, seconds: float) -> None:
    consumer = _worker_consumer(tmp_path, fetch_max_wait_seconds=seconds)
    assert consumer._fetch_max_wait_ms == round(seconds * 1000)


async def test_the_setting_default_is_what_a_service_fetches_with(tmp_path: Path) -> None:
    default = PlatformSettings().kafka_fetch_max_wait_seconds
    consumer = _worker_consumer(tmp_path, fetch_max_wait_seconds=default)
    assert consumer._fetch_max_wait_ms == 100
    assert _worker_consumer(tmp_path)._fetch_max_wait_ms == 100


async def test_the_fetcher_is_given_the_wait_when_the_consumer_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiokafka reads the wait when it starts the consumer and builds its fetcher: the value
    set on the consumer (a private attribute) must be the one the fetcher uses."""
    consumer = _worker_consumer(tmp_path, fetch_max_wait_seconds=0.2)
    built: dict[str, Any] = {}

    class Recorded(Exception):
        pass

    def fetcher(*args: Any, **kwargs: Any) -> Any:
        built.update(kwargs)
        raise Recorded

    async def no_broker_needed() -> None:
        return None

    consumer._client.bootstrap = no_broker_needed
    consumer._wait_topics = no_broker_needed
    monkeypatch.setattr("aiokafka.consumer.consumer.Fetcher", fetcher)
    try:
        with pytest.raises(Recorded):
            await consumer.start()
    finally:
        await consumer.stop()
    assert built["fetch_max_wait_ms"] == 200


@pytest.mark.parametrize("seconds", [0, 0.001, 11, float("inf")])
def test_a_fetch_wait_out_of_bounds_is_refused(seconds: float) -> None:
    with pytest.raises(ValidationError, match="kafka_fetch_max_wait_seconds"):
        PlatformSettings(kafka_fetch_max_wait_seconds=seconds)
