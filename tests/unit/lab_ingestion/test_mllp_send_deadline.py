"""A peer that never reads its ACKs (review 132): every ACK's send is bounded by a deadline,
past which the connection is aborted and its slot freed, over a real socket whose receive
buffer is tiny and never read. The ACK's echo of the inbound MSH is bounded too."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from prometheus_client import CollectorRegistry

from bench.infra import free_port
from services.lab_ingestion.adapters.hl7_ack import Header, build_ack
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.mllp import MllpListener
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_mllp_listener import connect

SEND_SECONDS = 0.5
SLACK_SECONDS = 3.0  # a sweep of a busy machine, the loop's turns
# more than the kernel's send buffer (at most tcp_wmem's 4 MiB) and the transport's buffer
# take: the drain of one such ACK waits for a reader
LARGE_ACK = "MSH|^~\\&|ACK\rMSA|AR|1|" + "x" * (8 << 20) + "\r"
SMALL_ACK = "MSH|^~\\&|ACK\rMSA|AA|1\r"
FRAME = b"\x0bMSH|^~\\&|NOSUCH|NOWHERE|LENA|TRIAL|20261120||ORU^R01|1|P|2.5.1\r\x1c\r"


class LargeAckAcknowledger:
    """Answers the first connection's frames with ACKs a peer must read to be sent."""

    def __init__(self) -> None:
        self.answered = 0
        self.first = asyncio.Event()

    async def acknowledge(self, raw: bytes, channel: Channel, **_: object) -> tuple[str, str]:
        self.answered += 1
        self.first.set()
        return "AR", LARGE_ACK if self.answered == 1 else SMALL_ACK


def not_reading_client(port: int) -> socket.socket:
    """A client whose receive buffer is as small as the kernel allows, never read."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    client.connect(("127.0.0.1", port))
    client.setblocking(False)
    return client


async def aborted(client: socket.socket, within: float) -> bool:
    """Whether the server ended the connection within ``within`` seconds (its reset, or
    its end, found by a read of what the client never read)."""
    ends = time.monotonic() + within
    while time.monotonic() < ends:
        try:
            while client.recv(1 << 20):
                pass
            return True  # its end read
        except BlockingIOError:
            await asyncio.sleep(0.05)
        except OSError:  # reset
            return True
    return False


async def test_an_ack_not_taken_within_the_deadline_aborts_its_connection_and_frees_its_slot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One slot, taken by a peer that sends a frame and never reads: its drain waited for
    ever, its connection 'answering' (never swept, never idle), and every lab was refused.
    Now it is aborted at the deadline, counted, and the next client is answered."""
    port, stopping = free_port(), asyncio.Event()
    registry = CollectorRegistry()
    acknowledger = LargeAckAcknowledger()
    listener = MllpListener(
        acknowledger, LabIngestionMetrics(registry),  # type: ignore[arg-type]  # a stand-in
        "127.0.0.1", port, 1 << 20, max_connections=1, send_seconds=SEND_SECONDS,
    )  # fmt: skip
    serving = asyncio.create_task(listener.serve(stopping))
    try:
        await listener.listening()
        slow = not_reading_client(port)
        slow.send(FRAME)
        started = time.monotonic()
        await acknowledger.first.wait()
        # never read before the deadline: reading takes the ACK, and its drain then ends
        await asyncio.sleep(SEND_SECONDS + 0.5)
        assert await aborted(slow, SLACK_SECONDS)
        assert time.monotonic() - started >= SEND_SECONDS - 0.05
        slow.close()
        reader, writer = await connect(port)  # the slot is free: answered
        writer.write(FRAME)
        await writer.drain()
        ack = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 5)
        assert b"MSA|AA|1" in ack
        writer.close()
    finally:
        stopping.set()
        await serving
    assert registry.get_sample_value("lab_mllp_send_timeouts_total") == 1
    assert "ACK not taken within the send deadline" in caplog.text


def test_an_ack_echoes_no_more_of_the_msh_than_its_fields_hold() -> None:
    """A 600 KB MSH-5 (and MSH-3, MSH-10, MSH-12) made a 600 KB ACK: a few frames of a peer
    that never reads filled its connection's buffers. Each echo is cut to three times its HL7
    length (a value of that length as sent, each character escaped), never inside an escape
    sequence."""
    huge = "R" * 600_000
    header = Header(
        sending_application=huge, sending_facility="LAB", receiving_application=huge,
        receiving_facility=huge, echoed_facility="A\\F\\" * 100_000, control_id=huge,
        version=huge, trigger=huge, processing_id=huge,
    )  # fmt: skip
    ack = build_ack(header, "AR", text="x" * 10_000, control_id="1")
    assert len(ack) < 4_500
    msh, msa = ack.split("\r")[:2]
    fields = msh.split("|")
    assert fields[2] == fields[3] == fields[4] == "R" * 3 * 227
    assert 3 * 220 <= len(fields[5]) <= 3 * 227 and fields[5].count("\\") % 2 == 0  # none cut
    assert msa.split("|")[2] == "R" * 3 * 199


def test_an_msh10_of_its_full_length_is_echoed_whole_though_escaped() -> None:
    """Review 135: a 190-character MSH-10 holding carets (another separator set), rewritten
    in the default separators, was cut, and the lab could not match its ACK."""
    sent = ("A^" * 95)[:190]
    escaped = sent.replace("^", "\\S\\")
    ack = build_ack(Header(control_id=sent, control_id_sent=escaped), "AA", control_id="1")
    assert ack.split("\r")[1].split("|")[2] == escaped
    short = build_ack(Header(sending_application="LIS", control_id="MSG-1"), "AA", control_id="1")
    assert "|LIS|" in short and "MSA|AA|MSG-1" in short
