"""The MLLP framing layer, whatever the TCP reads (review 117): ``read_frame``,
``frame_end``, ``blocks_of``, ``empty`` and ``skip_block`` are written by hand on
StreamReader's private buffer, and no test cut a stream anywhere but in a few chosen places.

A random sequence of frames (messages, garbage in a block, frames without a <VT>,
keep-alives, stray bytes and abandoned blocks before a block, frames ended by an <FS>
directly before the next <VT>, blocks over a small size limit, a frame cut by the end of the
stream) is fed to a connection of the real listener in random reads; the acknowledger's calls
and the ACKs written are exactly those the model (``mllp_stream_model``) says, in order, one
ACK per frame that owes one, whatever the cuts. A stand-in acknowledger records its calls."""

from __future__ import annotations

import asyncio
import hashlib

from hl7.mllp import HL7StreamReader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.mllp import MllpListener
from services.lab_ingestion.entrypoints.mllp_streams import frame_end, frames_of, read_frame
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.mllp_stream_model import LIMIT, Stream, splits, streams
from tests.unit.lab_ingestion.test_mllp_ack_conformance import CR, FS, VT

Call = tuple[object, ...]


def ack_of(call: Call) -> str:
    """The stand-in's ACK for an acknowledger's call: names the call (a digest of it)."""
    digest = hashlib.sha256(repr(call).encode()).hexdigest()[:16]
    return f"MSH|^~\\&|ACK\rMSA|{'AA' if call[0] == 'acknowledge' else 'AR'}|{digest}\r"


class RecordingAcknowledger:
    """Records each call in ``log``; answers ``ack_of`` it."""

    def __init__(self, log: list[Call]) -> None:
        self.log = log

    async def acknowledge(self, raw: bytes, channel: Channel, **_: object) -> tuple[str, str]:
        assert channel is Channel.MLLP
        call: Call = ("acknowledge", raw)
        self.log.append(call)
        return "AA", ack_of(call)

    async def reject_frame(
        self,
        raw: bytes,
        code: RejectionCode,
        reason: str,
        *,
        condition: object = None,
        header_from: bytes | None = None,
        peer: str | None = None,
    ) -> str:
        assert code is RejectionCode.MALFORMED
        call: Call = ("reject", raw, reason, header_from)
        self.log.append(call)
        return ack_of(call)


class RecordingWriter:
    """The connection's writing end: each ACK written goes to ``log``."""

    def __init__(self, log: list[Call]) -> None:
        self.log = log
        self.closed = False
        self.transport = self  # the listener asks whether its peer is gone (a reset)

    def is_closing(self) -> bool:
        return self.closed

    def writeblock(self, data: bytes) -> None:
        self.log.append(("sent", data.decode("ascii")))

    async def drain(self) -> None:
        return None

    def get_extra_info(self, name: str) -> None:
        return None  # no socket: no keepalive options to set

    def close(self) -> None:
        self.closed = True


async def converse(chunks: list[bytes]) -> tuple[list[Call], float, bool]:
    """Feed ``chunks`` to one connection of a listener (limit ``LIMIT``), one read at a time
    with the connection's task run in between; then the end of the stream. The calls and
    ACKs, the keep-alives counted, and whether the connection was closed."""
    log: list[Call] = []
    registry = CollectorRegistry()
    metrics = LabIngestionMetrics(registry)
    listener = MllpListener(
        RecordingAcknowledger(log),  # type: ignore[arg-type]  # a hand-written stand-in
        metrics, "127.0.0.1", 0, LIMIT,
    )  # fmt: skip
    reader = HL7StreamReader(limit=LIMIT)  # as start_hl7_server makes it
    writer = RecordingWriter(log)
    connection = asyncio.ensure_future(listener._on_connection(reader, writer))
    for chunk in chunks:
        reader.feed_data(chunk)
        for _ in range(3):  # the connection reads what came, and waits for more
            await asyncio.sleep(0)
    reader.feed_eof()
    await asyncio.wait_for(connection, 5)
    count = registry.get_sample_value("lab_mllp_empty_frames_total") or 0.0
    return log, count, writer.closed


def expected(stream: Stream) -> list[Call]:
    """The model's calls, each ACK written as the stand-in words it."""
    calls: list[Call] = []
    for call in stream.calls():
        answered = call[1]
        if call[0] == "sent" and isinstance(answered, tuple):
            calls.append(("sent", ack_of(answered)))
        else:
            calls.append(call)
    return calls


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_frame_is_read_kept_and_answered_once_in_order_whatever_the_reads(
    data: st.DataObject,
) -> None:
    stream = data.draw(streams())
    chunks = data.draw(splits(stream.data))
    log, keep_alives, closed = asyncio.run(converse(chunks))
    assert log == expected(stream), (stream.frames, chunks)
    assert keep_alives == stream.keep_alives
    assert closed


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_the_same_calls_in_one_read_and_in_many(data: st.DataObject) -> None:
    """Two cuttings of a stream: the same calls, the same ACKs (the model aside)."""
    stream = data.draw(streams())
    first = asyncio.run(converse([stream.data]))
    second = asyncio.run(converse(data.draw(splits(stream.data))))
    assert first == second


# bytes a stream of frames is made of: the ones that end, begin or follow a frame, and data
framing_bytes = st.lists(st.sampled_from([VT, FS, CR, b"\n", b"x"]), max_size=60).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_read_frame_reads_what_frames_of_reads_whatever_the_reads(data: st.DataObject) -> None:
    """Frames as ``read_frame`` reads them off a stream fed in random reads, and what is left
    at its end: those a plain scan for <FS><CR> / <FS><VT> finds in the whole."""
    whole = data.draw(framing_bytes)
    chunks = data.draw(splits(whole))

    async def read_all() -> tuple[list[bytes], bytes]:
        reader = HL7StreamReader(limit=1 << 16)
        frames: list[bytes] = []

        async def feed() -> None:
            for chunk in chunks:
                reader.feed_data(chunk)
                await asyncio.sleep(0)
            reader.feed_eof()

        feeding = asyncio.ensure_future(feed())
        try:
            while True:
                frames.append(await read_frame(reader, 1 << 16))
        except asyncio.IncompleteReadError as end:
            await feeding
            return frames, end.partial

    assert asyncio.run(read_all()) == scan(whole) == frames_of(whole)


def scan(data: bytes) -> tuple[list[bytes], bytes]:
    """The reference: a frame ends at the first <FS> followed by <CR> (both consumed) or by
    <VT> (left for the next frame)."""
    frames, start, at = [], 0, 0
    while at + 1 < len(data):
        if data[at : at + 1] == FS and data[at + 1 : at + 2] in (CR, VT):
            frames.append(data[start:at])
            start = at = at + (2 if data[at + 1 : at + 2] == CR else 1)
        else:
            at += 1
    return frames, data[start:]


def test_frame_end_of_a_trailing_fs_waits() -> None:
    assert frame_end(VT + b"x" + FS) is None
