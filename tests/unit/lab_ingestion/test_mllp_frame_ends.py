"""Where an MLLP frame ends (review 92): at <FS><CR>, or at an <FS> followed directly by the
<VT> of the next frame. A sender that left out the <CR> (``<VT>M1<FS><VT>M2<FS><CR>``) had
M1 kept as an abandoned block and never answered; both are answered now, in order."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from bench.infra import free_port
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.mllp import MllpListener
from services.lab_ingestion.entrypoints.mllp_streams import frame_end, frames_of, read_frame
from services.lab_ingestion.service_layer.commands import RecordRejectedInput
from tests.unit.lab_ingestion.route_fakes import FakeSubmit
from tests.unit.lab_ingestion.test_mllp_ack_conformance import (
    CR,
    FS,
    VT,
    body,
    converse,
    header,
    msa,
)


def message(control_id: str, order: str) -> bytes:
    return (header(control_id) + body(order=order)).encode()


@pytest.mark.parametrize(
    ("data", "end"),
    [
        (VT + b"M" + FS + CR, (2, 4)),
        (VT + b"M" + FS + VT + b"N", (2, 3)),  # the <VT> is left for the next frame
        (VT + b"M" + FS, None),  # the byte after the <FS> decides: not there yet
        (VT + b"M" + FS + b"x" + FS + CR, (4, 6)),  # an <FS> before another byte is data
        (VT + b"M" + FS + b"\n" + VT, None),  # only an <FS> directly before a <VT>
        (VT + b"M" + FS + FS + CR, (3, 5)),
    ],
)
def test_a_frame_ends_at_fs_cr_or_at_fs_before_vt(data: bytes, end: tuple[int, int] | None) -> None:
    assert frame_end(data) == end


def test_frames_of_reads_as_the_listener_does() -> None:
    assert frames_of(VT + b"A" + FS + VT + b"B" + FS + CR + VT + b"C") == (
        [VT + b"A", VT + b"B"], VT + b"C",
    )  # fmt: skip


async def test_fs_directly_before_vt_ends_the_frame_and_both_are_answered() -> None:
    data = VT + message("M1", "ORD1") + FS + VT + message("M2", "ORD2") + FS + CR
    (first, second), submit = await converse([data], 2)
    assert msa(first)[1:3] == ["AA", "M1"]
    assert msa(second)[1:3] == ["AA", "M2"]
    assert [c.message.control_id for c in submit.ingests] == ["M1", "M2"]
    assert not [c for c in submit.commands if isinstance(c, RecordRejectedInput)]


async def test_a_frame_ended_fs_is_answered_when_the_next_vt_comes_without_a_timer() -> None:
    """The byte after <FS> is waited for (it says whether the frame ended); the frame is
    answered as soon as it comes, a <VT> beginning the next frame, which is then read."""
    port, stopping = free_port(), asyncio.Event()
    submit = FakeSubmit()
    metrics = LabIngestionMetrics(CollectorRegistry())
    listener = MllpListener(
        Hl7Acknowledger(submit, lambda s: "h" * 64, metrics), metrics, "127.0.0.1", port, 1 << 20
    )
    serving = asyncio.create_task(listener.serve(stopping))
    await listener.listening()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(VT + message("M1", "ORD1") + FS)
        await writer.drain()
        with pytest.raises(TimeoutError):  # <FS> alone: no end yet
            await asyncio.wait_for(reader.readuntil(FS + CR), 0.3)
        writer.write(VT + message("M2", "ORD2"))
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(FS + CR), 5)
        writer.write(FS + CR)
        await writer.drain()
        second = await asyncio.wait_for(reader.readuntil(FS + CR), 5)
    finally:
        writer.close()
        stopping.set()
        await serving
    assert (msa(first)[1:3], msa(second)[1:3]) == (["AA", "M1"], ["AA", "M2"])


async def test_read_frame_is_bounded_and_keeps_what_follows() -> None:
    reader = asyncio.StreamReader(limit=16)
    reader.feed_data(VT + b"0123" + FS + VT + b"x" * 40)
    assert await read_frame(reader, 16) == VT + b"0123"
    with pytest.raises(asyncio.LimitOverrunError):
        await read_frame(reader, 16)
    reader.feed_eof()
    with pytest.raises(asyncio.IncompleteReadError) as incomplete:
        await read_frame(reader, 1 << 10)
    assert incomplete.value.partial == VT + b"x" * 40
