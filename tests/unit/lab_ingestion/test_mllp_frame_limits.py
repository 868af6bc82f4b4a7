"""How long an MLLP frame may take (review 113): a frame not continued ends its connection
at the stall period (plus a sweep of a quarter of it at most; it took up to twice that), a
frame trickled a byte at a time ends at the frame deadline (it held its slot for ever), a
frame cut by a reset is kept (it was dropped), and a frame that came while the one before
was being answered is no stall. The listener over a real socket, its acknowledger a
stand-in; tests/integration/test_lab_listener_limits.py drives the real service."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry

from bench.infra import free_port
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.mllp import MllpListener
from services.lab_ingestion.entrypoints.mllp_limits import RESET
from tests.unit.lab_ingestion.test_mllp_listener import connect

FRAME_HEAD = b"\x0bMSH|^~\\&|LIS|HOSP\rPID|1||"
ACK = "MSH|^~\\&|ACK\rMSA|AA|1\r"


class RecordingAcknowledger:
    """Answers AA (after ``answer_seconds``), and records what it answered and kept."""

    def __init__(self, answer_seconds: float = 0.0) -> None:
        self.answered: list[bytes] = []
        self.kept: list[tuple[bytes, str]] = []
        self._answer_seconds = answer_seconds

    async def acknowledge(self, raw: bytes, channel: object, **_: object) -> tuple[str, str]:
        await asyncio.sleep(self._answer_seconds)
        self.answered.append(raw)
        return "AA", ACK

    async def reject_frame(self, raw: bytes, code: object, reason: str, **_: object) -> str:
        self.kept.append((raw, reason))
        return ACK


# starts a listener with the given limits: its port, acknowledger and start time
Start = Callable[..., Awaitable[tuple[int, RecordingAcknowledger, float]]]


@pytest.fixture
async def listen() -> AsyncIterator[Start]:
    """Starts a listener with the given limits: its port, acknowledger and start time."""
    stopping = asyncio.Event()
    serving: list[asyncio.Task[None]] = []

    async def start(
        stall: float, deadline: float = 3600.0, answer_seconds: float = 0.0
    ) -> tuple[int, RecordingAcknowledger, float]:
        port, acknowledger = free_port(), RecordingAcknowledger(answer_seconds)
        listener = MllpListener(
            acknowledger,  # type: ignore[arg-type]  # a hand-written stand-in
            LabIngestionMetrics(CollectorRegistry()), "127.0.0.1", port, 1 << 20,
            frame_stall_seconds=stall, frame_deadline_seconds=deadline,
        )  # fmt: skip
        serving.append(asyncio.create_task(listener.serve(stopping)))
        await listener.listening()
        return port, acknowledger, time.monotonic()

    yield start
    stopping.set()
    await asyncio.gather(*serving)


async def send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (RST), not a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def wait_kept(acknowledger: RecordingAcknowledger, count: int = 1) -> None:
    for _ in range(100):
        if len(acknowledger.kept) >= count:
            return
        await asyncio.sleep(0.02)


async def test_a_stalled_frame_ends_at_the_stall_period_not_twice_it(listen: Start) -> None:
    """Last continued just after the second look of a sweep that looked once a stall
    period, the frame ended only at the third: 1.9 stall periods after its last byte. Now
    within a quarter of one after the stall period."""
    stall = 1.0
    port, acknowledger, started = await listen(stall)
    reader, writer = await connect(port)
    await send(writer, FRAME_HEAD)
    for at, byte in ((0.6, b"M"), (1.1, b"N")):  # continued, each time within the period
        await asyncio.sleep(started + at * stall - time.monotonic())
        await send(writer, byte)
    last_byte = time.monotonic()  # and then never again
    assert await asyncio.wait_for(reader.read(), 5) == b""
    took = time.monotonic() - last_byte
    writer.close()
    assert stall - 0.05 <= took < stall * 1.25 + 0.2, took
    await wait_kept(acknowledger)
    ((kept, reason),) = acknowledger.kept
    assert kept == FRAME_HEAD + b"MN" and reason == (
        "MLLP frame not continued for 1 s (connection closed)"
    )


async def test_a_frame_trickled_a_byte_at_a_time_ends_at_its_deadline(listen: Start) -> None:
    """Never stalled, it held its connection's slot for as long as its sender liked."""
    port, acknowledger, _ = await listen(stall=1.0, deadline=1.5)
    reader, writer = await connect(port)
    began = time.monotonic()
    await send(writer, FRAME_HEAD)

    async def trickle() -> None:
        while True:
            await asyncio.sleep(0.2)
            await send(writer, b"x")

    trickling = asyncio.ensure_future(trickle())
    try:
        assert await asyncio.wait_for(reader.read(), 5) == b""
        took = time.monotonic() - began
    finally:
        trickling.cancel()
        writer.close()
    assert 1.5 - 0.05 <= took < 1.5 + 0.25 + 0.3, took
    await wait_kept(acknowledger)
    ((kept, reason),) = acknowledger.kept
    assert kept.startswith(FRAME_HEAD + b"x") and reason == (
        "MLLP frame not ended within 1.5 s of its first byte (connection closed)"
    )


async def test_a_frame_cut_by_a_reset_is_kept_and_the_complete_one_before_it_stored(
    listen: Start,
) -> None:
    """A reset raised the reader's error before the bytes it had were looked at: the
    frame begun was dropped, kept by nobody (a FIN's was kept)."""
    port, acknowledger, _ = await listen(stall=60.0, answer_seconds=0.3)
    _, writer = await connect(port)
    await send(writer, FRAME_HEAD + b"1\x1c\r" + FRAME_HEAD + b"2")
    await asyncio.sleep(0.1)  # the first being answered
    reset(writer)
    await wait_kept(acknowledger)
    assert acknowledger.answered == [(FRAME_HEAD + b"1")[1:]]  # stored; its ACK unsent
    assert acknowledger.kept == [(FRAME_HEAD + b"2", RESET)]


async def test_a_frame_that_came_while_the_one_before_was_answered_is_no_stall(
    listen: Start,
) -> None:
    """The frame after, sent whole while the commit of the one before took longer than the
    stall period, was not read meanwhile: the sweep took it for a stalled one and closed the
    connection (the first ACK, and the second frame, lost)."""
    port, acknowledger, _ = await listen(stall=0.3, answer_seconds=1.0)
    reader, writer = await connect(port)
    await send(writer, FRAME_HEAD + b"1\x1c\r")
    await asyncio.sleep(0.1)
    await send(writer, FRAME_HEAD + b"2\x1c\r")
    acks = [await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 5) for _ in range(2)]
    writer.close()
    assert all(b"MSA|AA" in ack for ack in acks)
    assert acknowledger.answered == [(FRAME_HEAD + b"1")[1:], (FRAME_HEAD + b"2")[1:]]
    assert acknowledger.kept == []
