"""A frame over the size limit (review 92). It was answered AR with an empty MSA-2 (and
MSH-5/6, and a v2.5.1 header whatever the message's version) and the connection closed:
an engine matching MSA-2 could not pair the AR and resent the message for ever. Its MSH,
read from the head of the block, is echoed as in any AR; the rest is discarded up to the
frame's end without being held, and the connection goes on with the next frame."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from bench.infra import free_port
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.mllp import MllpListener
from services.lab_ingestion.entrypoints.mllp_limits import ABANDONED_BLOCK, STRAY_BYTES
from services.lab_ingestion.entrypoints.mllp_streams import Skipped, header_line, skip_block
from services.lab_ingestion.service_layer.commands import RecordRejectedInput
from tests.unit.lab_ingestion.route_fakes import FakeSubmit
from tests.unit.lab_ingestion.test_mllp_ack_conformance import CR, FS, VT, body, msa

LIMIT = 4096
BIG = "NTE|1||" + "x" * (3 * LIMIT) + "\r"


def message(control_id: str, *, version: str = "2.5.1", extra: str = "") -> bytes:
    return (
        f"MSH|^~\\&|LIS^1.2.3^ISO|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{control_id}|P|"
        f"{version}\r{body(order=control_id)}{extra}"
    ).encode()


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    submit: FakeSubmit

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def ack(self) -> bytes:
        return await asyncio.wait_for(self.reader.readuntil(FS + CR), 5)

    def kept(self) -> list[RecordRejectedInput]:
        return [c for c in self.submit.commands if isinstance(c, RecordRejectedInput)]


@pytest.fixture
async def connection() -> AsyncIterator[Connection]:
    port, stopping = free_port(), asyncio.Event()
    submit = FakeSubmit()
    metrics = LabIngestionMetrics(CollectorRegistry())
    acknowledger = Hl7Acknowledger(submit, lambda s: "h" * 64, metrics)
    listener = MllpListener(
        acknowledger, metrics, "127.0.0.1", port, LIMIT, frame_stall_seconds=0.3
    )
    serving = asyncio.create_task(listener.serve(stopping))
    await listener.listening()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield Connection(reader, writer, submit)
    finally:
        writer.close()
        stopping.set()
        await serving


@pytest.mark.parametrize("version", ["2.5.1", "2.3"])
async def test_a_frame_over_the_limit_is_answered_ar_echoing_its_msh(
    connection: Connection, version: str
) -> None:
    await connection.send(VT + message("BIG-1", version=version, extra=BIG) + FS + CR)
    ack = await connection.ack()
    msh = ack.strip(VT + FS + CR).split(CR)[0]
    assert msa(ack)[1:3] == ["AR", "BIG-1"]
    assert msh.split(b"|")[4:6] == [b"LIS^1.2.3^ISO", b"HOSP"]  # MSH-5/6
    assert msh.split(b"|")[11] == version.encode()
    err = ack.strip(VT + FS + CR).split(CR)[2]
    assert b"207^Application internal error" in err or b"207&Application internal error" in err
    (kept,) = connection.kept()
    assert kept.reason == f"message larger than {LIMIT} bytes"
    assert kept.redacted_payload == "[redacted]"  # not held, so not kept: as before
    # the connection goes on
    await connection.send(VT + message("NEXT-1") + FS + CR)
    assert msa(await connection.ack())[1:3] == ["AA", "NEXT-1"]


async def test_a_frame_far_over_the_limit_sent_in_pieces_is_answered_too(
    connection: Connection,
) -> None:
    await connection.send(VT + message("BIG-2"))
    for _ in range(64):  # 64 limits' worth, never held whole
        await connection.send(b"y" * LIMIT)
    await connection.send(FS)
    await asyncio.sleep(0.05)
    await connection.send(CR + VT + message("NEXT-2") + FS + CR)
    assert msa(await connection.ack())[1:3] == ["AR", "BIG-2"]
    assert msa(await connection.ack())[1:3] == ["AA", "NEXT-2"]


async def test_a_frame_over_the_limit_ended_fs_before_the_next_vt(connection: Connection) -> None:
    await connection.send(VT + message("BIG-3", extra=BIG) + FS + VT + message("NEXT-3") + FS + CR)
    assert msa(await connection.ack())[1:3] == ["AR", "BIG-3"]
    assert msa(await connection.ack())[1:3] == ["AA", "NEXT-3"]


async def test_a_block_over_the_limit_abandoned_for_a_new_one_is_kept_unanswered(
    connection: Connection,
) -> None:
    await connection.send(VT + message("BIG-4", extra=BIG) + VT + message("NEXT-4") + FS + CR)
    assert msa(await connection.ack())[1:3] == ["AA", "NEXT-4"]
    (kept,) = connection.kept()
    assert kept.reason == f"{ABANDONED_BLOCK}; it was larger than {LIMIT} bytes"


async def test_a_frame_over_the_limit_only_with_what_came_before_its_block(
    connection: Connection,
) -> None:
    """Stray bytes and a block abandoned, each within the limit, then a message: more than
    the limit before the frame's end, yet each block is kept, or answered, as ever."""
    stray = b"z" * (LIMIT // 2)
    abandoned = VT + message("OLD-5", extra="NTE|1||" + "x" * (LIMIT // 2) + "\r")
    await connection.send(stray + abandoned + VT + message("NEXT-5") + FS + CR)
    assert msa(await connection.ack())[1:3] == ["AA", "NEXT-5"]
    assert [k.reason for k in connection.kept()] == [STRAY_BYTES, ABANDONED_BLOCK]
    assert "|OLD-5|" in connection.kept()[1].redacted_payload


async def test_a_frame_over_the_limit_without_a_whole_msh_is_answered_without_msa2(
    connection: Connection,
) -> None:
    await connection.send(VT + b"MSH|^~\\&|LIS|HOSP|" + b"x" * (3 * LIMIT) + FS + CR)
    assert msa(await connection.ack())[1:3] == ["AR", ""]
    await connection.send(VT + message("NEXT-6") + FS + CR)
    assert msa(await connection.ack())[1:3] == ["AA", "NEXT-6"]


async def test_a_frame_over_the_limit_cut_by_the_sender_closing_is_kept(
    connection: Connection,
) -> None:
    await connection.send(VT + message("BIG-7", extra=BIG))
    connection.writer.close()
    for _ in range(100):
        if connection.kept():
            break
        await asyncio.sleep(0.02)
    (kept,) = connection.kept()
    assert kept.reason.startswith("connection closed in the middle of an MLLP frame")
    assert kept.reason.endswith(f"larger than {LIMIT} bytes")


async def test_a_frame_over_the_limit_not_continued_ends_its_connection(
    connection: Connection,
) -> None:
    await connection.send(VT + message("BIG-8", extra=BIG))  # and then nothing
    assert await asyncio.wait_for(connection.reader.read(), 5) == b""
    (kept,) = connection.kept()
    assert kept.reason.startswith("MLLP frame not continued")


async def test_skip_block_holds_no_more_than_what_comes() -> None:
    reader = asyncio.StreamReader(limit=LIMIT)
    reader.feed_data(VT + b"x" * LIMIT)
    skipped: list[int] = []
    skipping = asyncio.create_task(skip_block(reader, skipped.append))
    for _ in range(20):
        await asyncio.sleep(0)
        assert len(reader._buffer) <= 1  # type: ignore[attr-defined]  # StreamReader private
        reader.feed_data(b"y" * LIMIT + FS)
    reader.feed_data(CR + VT + b"next")
    assert await skipping is Skipped.ENDED
    assert bytes(reader._buffer) == VT + b"next"  # type: ignore[attr-defined]  # StreamReader private
    assert sum(skipped) == 1 + LIMIT + 20 * (LIMIT + 1) - 1  # up to the last <FS>


def test_the_header_line_is_read_only_when_whole() -> None:
    assert header_line(VT + b"MSH|^~\\&|A\rPID") == b"MSH|^~\\&|A"
    assert header_line(b"\r\n" + VT + b"MSH|^~\\&|A\nPID") == b"MSH|^~\\&|A"
    assert header_line(VT + b"MSH|^~\\&|A|B|C") == b""
