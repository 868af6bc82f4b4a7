"""The MLLP listener's last resort: a defect behind it closes the connection, logged by its
type only (the conversation's own tests drive the real socket in tests/integration)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from bench.infra import free_port
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.mllp import MllpListener
from shared.contracts.events.lab import Channel

MRN = "MRN0042"


class DefectiveAcknowledger:
    async def acknowledge(self, raw: bytes, channel: Channel, **_: object) -> tuple[str, str]:
        raise KeyError(MRN)


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


class CountingAcknowledger:
    def __init__(self) -> None:
        self.frames: list[tuple[bytes, str]] = []

    async def acknowledge(self, raw: bytes, channel: Channel, **_: object) -> tuple[str, str]:
        return "AA", "MSH|^~\\&|ACK\rMSA|AA|1\r"

    async def reject_frame(self, raw: bytes, code: object, reason: str, **_: object) -> str:
        self.frames.append((raw, reason))
        return "MSH|^~\\&|ACK\rMSA|AR|\r"


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for _ in range(100):
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
    raise AssertionError("the listener did not start")


async def test_connections_beyond_the_cap_are_closed_and_the_others_answered() -> None:
    port, stopping = free_port(), asyncio.Event()
    listener = MllpListener(
        CountingAcknowledger(),  # type: ignore[arg-type]  # a hand-written stand-in
        LabIngestionMetrics(CollectorRegistry()), "127.0.0.1", port, 1 << 20, max_connections=2,
    )  # fmt: skip
    serving = asyncio.create_task(listener.serve(stopping))
    try:
        held = [await connect(port) for _ in range(2)]
        await asyncio.sleep(0.1)
        reader, writer = await connect(port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed at once
        writer.close()
        first_reader, first_writer = held[0]
        first_writer.write(b"\x0bMSH|^~\\&|LIS|HOSP\r\x1c\r")
        await first_writer.drain()
        assert b"MSA|AA" in await asyncio.wait_for(first_reader.readuntil(b"\x1c\r"), 5)
        for _, w in held:
            w.close()
    finally:
        stopping.set()
        await serving


# How long a connection is idle before it yields its slot, in the test below: its later steps
# (an ACK on the new connection, then one more connection) must take less than this, or the
# new connection is idle long enough too; 1.5 s holds on a machine busy with other workers.
IDLE_SECONDS = 1.5


async def test_at_the_cap_a_new_connection_takes_the_slot_of_the_one_idle_longest() -> None:
    """Whoever holds every slot open must not lock the laboratories out: the connection idle
    longest gives its slot up; one with a frame begun never does."""
    port, stopping = free_port(), asyncio.Event()
    listener = MllpListener(
        CountingAcknowledger(),  # type: ignore[arg-type]  # a hand-written stand-in
        LabIngestionMetrics(CollectorRegistry()), "127.0.0.1", port, 1 << 20, max_connections=2,
        yield_slot_after_idle_seconds=IDLE_SECONDS,
    )  # fmt: skip
    serving = asyncio.create_task(listener.serve(stopping))
    try:
        idle_reader, idle_writer = await connect(port)
        busy_reader, busy_writer = await connect(port)
        busy_writer.write(b"\x0bMSH|^~\\&|LIS|HOSP\r")  # a frame begun, to be continued
        await busy_writer.drain()
        await asyncio.sleep(IDLE_SECONDS + 0.5)  # the first one idle long enough (or longer)
        new_reader, new_writer = await connect(port)
        assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # its slot given up
        new_writer.write(b"\x0bMSH|^~\\&|LIS|HOSP\r\x1c\r")
        assert b"MSA|AA" in await asyncio.wait_for(new_reader.readuntil(b"\x1c\r"), 5)
        late_reader, late_writer = await connect(port)  # none idle long enough now
        assert await asyncio.wait_for(late_reader.read(), 5) == b""
        busy_writer.write(b"\x1c\r")  # the frame begun was kept going all along
        assert b"MSA|AA" in await asyncio.wait_for(busy_reader.readuntil(b"\x1c\r"), 5)
        for w in (idle_writer, busy_writer, new_writer, late_writer):
            w.close()
    finally:
        stopping.set()
        await serving


async def test_a_frame_begun_and_not_continued_ends_its_connection_and_is_kept() -> None:
    port, stopping = free_port(), asyncio.Event()
    acknowledger = CountingAcknowledger()
    listener = MllpListener(
        acknowledger,  # type: ignore[arg-type]  # a hand-written stand-in
        LabIngestionMetrics(CollectorRegistry()), "127.0.0.1", port, 1 << 20,
        frame_stall_seconds=0.2,
    )  # fmt: skip
    serving = asyncio.create_task(listener.serve(stopping))
    try:
        idle_reader, idle_writer = await connect(port)  # between frames: may wait for ever
        reader, writer = await connect(port)
        writer.write(b"\x0bMSH|^~\\&|LIS|HOSP\rPID|1||MRN")  # and then nothing
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        ((partial, reason),) = acknowledger.frames
        assert partial.startswith(b"\x0bMSH") and "not continued" in reason
        idle_writer.write(b"\x0bMSH|^~\\&|LIS|HOSP\r\x1c\r")  # still served
        await idle_writer.drain()
        assert b"MSA|AA" in await asyncio.wait_for(idle_reader.readuntil(b"\x1c\r"), 5)
        writer.close()
        idle_writer.close()
    finally:
        stopping.set()
        await serving
