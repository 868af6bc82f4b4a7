"""The MLLP listener's connections are counted (review 149): how many are open, those
refused at the cap, idle ones closed for a new one, and those closed on an internal error
(its frame never gets an ACK: the lab resends it for ever). Before, each was a log line only.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, generate_latest

from bench.infra import free_port
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.mllp import MllpListener
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_mllp_listener import CountingAcknowledger, connect

FRAME = b"\x0bMSH|^~\\&|LIS|HOSP\r\x1c\r"
NAMES = ("lab_mllp_open_connections", "lab_mllp_connections_refused_total",
         "lab_mllp_connections_evicted_total", "lab_mllp_connection_errors_total")  # fmt: skip


class FailingAcknowledger(CountingAcknowledger):
    async def acknowledge(self, raw: bytes, channel: Channel, **_: object) -> tuple[str, str]:
        raise RuntimeError("a defect")


def test_the_connection_metrics_are_shown_at_zero_from_the_start() -> None:
    exposed = generate_latest(_registry_with_metrics()[0]).decode()
    for name in NAMES:
        assert f"{name} 0.0" in exposed, name


async def test_open_connections_and_refusals_at_the_cap_are_counted() -> None:
    registry, metrics = _registry_with_metrics()
    port, stopping = free_port(), asyncio.Event()
    listener = MllpListener(
        CountingAcknowledger(),  # type: ignore[arg-type]  # a hand-written stand-in
        metrics, "127.0.0.1", port, 1 << 20, max_connections=2,
        yield_slot_after_idle_seconds=3600,
    )  # fmt: skip
    serving = asyncio.create_task(listener.serve(stopping))
    value = registry.get_sample_value
    try:
        held = [await connect(port) for _ in range(2)]
        await _until(lambda: value("lab_mllp_open_connections") == 2)
        reader, writer = await connect(port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # refused: closed at once
        writer.close()
        assert value("lab_mllp_connections_refused_total") == 1
        assert value("lab_mllp_open_connections") == 2
        for _, w in held:
            w.close()
        await _until(lambda: value("lab_mllp_open_connections") == 0)
    finally:
        stopping.set()
        await serving


async def test_a_connection_closed_on_an_internal_error_is_counted() -> None:
    registry, metrics = _registry_with_metrics()
    port, stopping = free_port(), asyncio.Event()
    listener = MllpListener(
        FailingAcknowledger(),  # type: ignore[arg-type]  # a hand-written stand-in
        metrics, "127.0.0.1", port, 1 << 20,
    )  # fmt: skip
    serving = asyncio.create_task(listener.serve(stopping))
    try:
        reader, writer = await connect(port)
        writer.write(FRAME)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # no ACK: the lab resends
        writer.close()
        await _until(lambda: registry.get_sample_value("lab_mllp_open_connections") == 0)
        assert registry.get_sample_value("lab_mllp_connection_errors_total") == 1
    finally:
        stopping.set()
        await serving


def _registry_with_metrics() -> tuple[CollectorRegistry, LabIngestionMetrics]:
    registry = CollectorRegistry()
    return registry, LabIngestionMetrics(registry)


async def _until(condition: object, seconds: float = 5.0) -> None:
    """Poll ``condition`` (a metric's value, set by the listener's tasks: no event to await)."""
    assert callable(condition)
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110  # a metric's value: there is no event
            await asyncio.sleep(0.02)
