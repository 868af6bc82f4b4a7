"""The MLLP listener's last resort: a defect behind it closes the connection, logged by its
type only (the conversation's own tests drive the real socket in tests/integration)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.mllp import MllpListener
from shared.contracts.events.lab import Channel

MRN = "MRN0042"


class DefectiveAcknowledger:
    async def acknowledge(self, raw: bytes, channel: Channel) -> tuple[str, str]:
        raise KeyError(MRN)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_defect_closes_the_connection_and_logs_only_its_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, stopping = free_port(), asyncio.Event()
    listener = MllpListener(
        DefectiveAcknowledger(),  # type: ignore[arg-type]  # a hand-written stand-in
        LabIngestionMetrics(CollectorRegistry()), "127.0.0.1", port, 1 << 20,
    )  # fmt: skip
    serving = asyncio.create_task(listener.serve(stopping))
    try:
        for _ in range(100):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.02)
        writer.write(b"\x0bMSH|^~\\&|LIS|HOSP\r\x1c\r")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing sent
        writer.close()
    finally:
        stopping.set()
        await serving
    (record,) = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert record.__dict__["error"] == "KeyError"
    assert MRN not in caplog.text
