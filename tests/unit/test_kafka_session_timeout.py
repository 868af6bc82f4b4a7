"""Every Kafka session timeout the settings accept lets a consumer be created: faust refuses
one above its request timeout, and each consuming service would then fail at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import annotated_types
import pytest

from shared.settings import PlatformSettings
from shared.streaming.faust_app import broker_request_timeout, create_faust_app


def _accepted_bounds() -> tuple[float, float]:
    """The lowest and highest session timeouts the settings accept (as validated)."""
    field = PlatformSettings.model_fields["kafka_session_timeout_seconds"]
    low = next(m.ge for m in field.metadata if isinstance(m, annotated_types.Ge))
    high = next(m.le for m in field.metadata if isinstance(m, annotated_types.Le))
    assert isinstance(low, int | float) and isinstance(high, int | float)
    return float(low), float(high)


LOWEST, HIGHEST = _accepted_bounds()


@pytest.mark.parametrize("seconds", [LOWEST, 10.0, 90.0, 91.0, HIGHEST])
async def test_a_consumer_is_created_for_every_accepted_session_timeout(
    tmp_path: Path, seconds: float
) -> None:
    settings = PlatformSettings(kafka_session_timeout_seconds=seconds)
    app = create_faust_app(
        "unit-test", "127.0.0.1:1", tmp_path,
        session_timeout_seconds=settings.kafka_session_timeout_seconds,
    )  # fmt: skip
    # what faust runs as the worker starts (a private method: hence Any); it raised
    # ImproperlyConfigured above 90 s
    faust_consumer: Any = app.consumer
    consumer = faust_consumer._thread._create_worker_consumer(app.transport)
    assert consumer._session_timeout_ms == int(seconds * 1000)
    assert app.conf.broker_session_timeout < app.conf.broker_request_timeout
    assert app.conf.broker_rebalance_timeout < app.conf.broker_request_timeout


def test_the_request_timeout_stays_faust_default_for_short_sessions() -> None:
    assert broker_request_timeout(10.0) == 90.0
    assert broker_request_timeout(HIGHEST) == HIGHEST + 30.0
