"""Every frame that owes an ACK gets exactly one, in order, and nothing else is sent
(review 117): a second ACK written for a frame without a <VT> passed every MLLP test, which
read the ACKs they expected and no further.

The real listener on a local socket, the real acknowledger (parser, ACK builder) and the
hand-written submit of route_fakes: a connection sends a random sequence of frames
(``mllp_stream_model``) in random writes; the ACKs are read one by one and matched by MSA-1
and MSA-2 to the frames that owe one, then nothing more comes (read with a short timeout),
and at the end of the stream the connection closes with nothing more sent."""

from __future__ import annotations

import asyncio
import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from bench.infra import free_port
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.mllp import MllpListener
from tests.unit.lab_ingestion.mllp_stream_model import LIMIT, Stream, splits, streams
from tests.unit.lab_ingestion.route_fakes import FakeSubmit
from tests.unit.lab_ingestion.test_mllp_ack_conformance import CR, FS, msa

# how long nothing more must come once every ACK owed came (a second ACK is written at once)
SILENCE_SECONDS = 0.3


async def exchange(stream: Stream, chunks: list[bytes]) -> tuple[list[bytes], bytes, FakeSubmit]:
    """Send ``chunks`` on one connection; the ACKs owed as they come, one by one, what came
    after them (within ``SILENCE_SECONDS``, then up to the connection's close once the
    stream ended), and what was submitted."""
    port, stopping = free_port(), asyncio.Event()
    submit = FakeSubmit()
    metrics = LabIngestionMetrics(CollectorRegistry())
    acknowledger = Hl7Acknowledger(submit, lambda s: "h" * 64, metrics)
    listener = MllpListener(acknowledger, metrics, "127.0.0.1", port, LIMIT)
    serving = asyncio.create_task(listener.serve(stopping))
    await listener.listening()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for chunk in chunks:  # each its own TCP segment, as far as the kernel goes
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.001)
        acks = [await asyncio.wait_for(reader.readuntil(FS + CR), 5) for _ in stream.answers()]
        try:
            more = await asyncio.wait_for(reader.read(1), SILENCE_SECONDS)
        except TimeoutError:
            more = b""
        writer.write_eof()  # the stream ends: the listener closes the connection
        more += await asyncio.wait_for(reader.read(), 5)
        return acks, more, submit
    finally:
        writer.close()
        stopping.set()
        await serving


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_frame_owing_an_ack_gets_exactly_one_in_order_then_silence(
    data: st.DataObject,
) -> None:
    stream = data.draw(streams(max_frames=6))
    chunks = data.draw(splits(stream.data))
    acks, more, submit = asyncio.run(exchange(stream, chunks))
    answered = [tuple(msa(ack)[1:3]) for ack in acks]
    # the ACKs owed, in order, and nothing else, ever (one assertion: a second ACK fails it
    # whether it came in the middle or at the end)
    assert (answered, more) == (stream.answers(), b""), stream.frames
    accepted = [control_id for code, control_id in stream.answers() if code == "AA"]
    assert [c.message.control_id for c in submit.ingests] == accepted
