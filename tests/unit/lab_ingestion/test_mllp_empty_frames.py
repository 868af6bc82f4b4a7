"""An empty MLLP frame (review 92): some engines send ``<VT><FS><CR>`` as a keep-alive. It
was answered AR with an empty MSA-2 and kept as a rejection, and such an engine paired that
stale AR with its next message. It is counted and logged (at DEBUG, without content), and
neither answered nor kept."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from bench.infra import free_port
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.mllp import MllpListener
from services.lab_ingestion.entrypoints.mllp_limits import STRAY_BYTES
from services.lab_ingestion.entrypoints.mllp_streams import empty
from services.lab_ingestion.service_layer.commands import RecordRejectedInput
from tests.unit.lab_ingestion.route_fakes import FakeSubmit
from tests.unit.lab_ingestion.test_mllp_ack_conformance import CR, FS, VT, body, header, msa

EMPTY = [
    VT + FS + CR,
    VT + b" " + FS + CR,
    VT + b"\r\n" + FS + CR,
    VT + b"\t \r" + FS + CR,
    b"\r\n" + VT + FS + CR,  # line noise left after the frame before
    FS + CR,  # not even a <VT>
    VT + FS,  # ended by the next frame's <VT>
]


async def exchange(chunks: list[bytes]) -> tuple[list[bytes], FakeSubmit, float]:
    """Send ``chunks`` on one connection; every ACK that comes within a moment, what was
    submitted, and the empty-frame counter."""
    port, stopping = free_port(), asyncio.Event()
    submit = FakeSubmit()
    registry = CollectorRegistry()
    metrics = LabIngestionMetrics(registry)
    acknowledger = Hl7Acknowledger(submit, lambda s: "h" * 64, metrics)
    listener = MllpListener(acknowledger, metrics, "127.0.0.1", port, 1 << 20)
    serving = asyncio.create_task(listener.serve(stopping))
    await listener.listening()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    acks = []
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        while True:
            try:
                acks.append(await asyncio.wait_for(reader.readuntil(FS + CR), 0.5))
            except TimeoutError:
                break
    finally:
        writer.close()
        stopping.set()
        await serving
    count = registry.get_sample_value("lab_mllp_empty_frames_total")
    return acks, submit, count or 0.0


@pytest.mark.parametrize("keep_alive", EMPTY)
async def test_an_empty_frame_is_not_answered_and_the_next_message_gets_its_own_ack(
    keep_alive: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "services.lab_ingestion.entrypoints.mllp")
    message = VT + (header("M1") + body()).encode() + FS + CR
    acks, submit, count = await exchange([keep_alive, message])
    assert [msa(ack)[1:3] for ack in acks] == [["AA", "M1"]]
    assert not [c for c in submit.commands if isinstance(c, RecordRejectedInput)]
    assert count == 1
    (record,) = [r for r in caplog.records if "empty frame" in r.getMessage()]
    assert record.levelno == logging.DEBUG


async def test_stray_bytes_before_an_empty_frame_are_still_kept() -> None:
    acks, submit, count = await exchange([b"\x00" + VT + FS + CR])
    assert acks == []
    rows = [c for c in submit.commands if isinstance(c, RecordRejectedInput)]
    assert [r.reason for r in rows] == [STRAY_BYTES]
    assert count == 1


def test_a_frame_with_anything_but_blanks_is_not_empty() -> None:
    assert empty(VT) and empty(b"") and empty(VT + b" \r\n\t")
    assert not empty(VT + b"\x00") and not empty(b"x") and not empty(VT + b"MSH")
