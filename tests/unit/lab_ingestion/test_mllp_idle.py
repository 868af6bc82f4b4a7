"""The MLLP stall sweep: line noise left between frames (a sender ending its frames with
<FS><CR><LF>) is an idle connection, which may stay open for ever; a frame begun after it
is still one begun and not continued (review 45a, finding 3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from bench.infra import free_port
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.mllp import MllpListener
from tests.unit.lab_ingestion.test_mllp_listener import CountingAcknowledger, connect

STALL = 0.2
FRAME = b"\x0bMSH|^~\\&|LIS|HOSP\r\x1c\r"


@pytest.fixture
async def listening() -> AsyncIterator[tuple[int, CountingAcknowledger]]:
    """A listener whose stall sweep looks every 0.2 s; its port and acknowledger."""
    port, stopping = free_port(), asyncio.Event()
    acknowledger = CountingAcknowledger()
    listener = MllpListener(
        acknowledger,  # type: ignore[arg-type]  # a hand-written stand-in
        LabIngestionMetrics(CollectorRegistry()), "127.0.0.1", port, 1 << 20,
        frame_stall_seconds=STALL,
    )  # fmt: skip
    serving = asyncio.create_task(listener.serve(stopping))
    try:
        yield port, acknowledger
    finally:
        stopping.set()
        await serving


async def send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


@pytest.mark.parametrize(
    "noise",
    [b"\n", b"\r\n", b"\r\n\t "],
    ids=["FS-CR-LF", "FS-CR-CR-LF", "spaces-and-tabs"],
)
@pytest.mark.parametrize("separately", [False, True], ids=["same-write", "later-write"])
async def test_an_idle_connection_after_line_noise_stays_open(
    listening: tuple[int, CountingAcknowledger], noise: bytes, separately: bool
) -> None:
    port, acknowledger = listening
    reader, writer = await connect(port)
    try:
        await send(writer, FRAME if separately else FRAME + noise)
        assert b"MSA|AA" in await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 5)
        if separately:
            await send(writer, noise)
        await asyncio.sleep(STALL * 4)  # idle between frames, for a few sweeps
        await send(writer, FRAME + noise)  # the next message
        answer = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 5)
    finally:
        writer.close()
    assert b"MSA|AA" in answer
    assert acknowledger.frames == []  # nothing kept as a truncated frame


async def test_a_frame_begun_after_line_noise_and_not_continued_is_kept(
    listening: tuple[int, CountingAcknowledger],
) -> None:
    port, acknowledger = listening
    reader, writer = await connect(port)
    try:
        await send(writer, FRAME + b"\n")
        assert b"MSA|AA" in await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 5)
        await send(writer, b"\x0bMSH|^~\\&|LIS|HOSP\rPID|1||MRN")  # and then nothing
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the sweep
    finally:
        writer.close()
    ((partial, reason),) = acknowledger.frames
    assert partial == b"\n\x0bMSH|^~\\&|LIS|HOSP\rPID|1||MRN" and "not continued" in reason
