"""HL7 v2 / MLLP conformance of the acknowledgement: framing, MSA-2, MSH-18.

The real MLLP listener and the real Hl7Acknowledger (parser, ACK builder) over a local
socket, with the hand-written submit of route_fakes (no database): what a laboratory's
interface engine sends, and what it gets back.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from bench.infra import free_port
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.mllp import MllpListener
from services.lab_ingestion.entrypoints.mllp_limits import (
    ABANDONED_BLOCK,
    NO_START_BLOCK,
    STRAY_BYTES,
)
from services.lab_ingestion.entrypoints.mllp_streams import blocks_of
from services.lab_ingestion.service_layer.commands import RecordRejectedInput
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.route_fakes import FakeSubmit

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def header(control_id: str, extra: str = "") -> str:
    return (
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{control_id}|P|2.5.1{extra}\r"
    )


def body(mrn: str = "MRN123", order: str = "ORD1", value: str = "12.5") -> str:
    return (
        f"PID|1||{mrn}^^^HOSP^MR\r"
        f"OBR|1|PLC1|{order}|LAB^Lab panel|||20261120081500+0100\r"
        f"OBX|1|NM|1988-5^CRP^LN||{value}|mg/L|0-5|H|||F|||20261120081500+0100\r"
    )


def msa(ack: bytes) -> list[str]:
    for segment in ack.strip(VT + FS + CR).split(CR):
        if segment.startswith(b"MSA"):
            return segment.decode("latin-1").split("|")
    raise AssertionError(f"no MSA in {ack!r}")


async def converse(chunks: list[bytes], acks: int) -> tuple[list[bytes], FakeSubmit]:
    """Send ``chunks`` on one MLLP connection; return the first ``acks`` ACK frames."""
    port, stopping = free_port(), asyncio.Event()
    submit = FakeSubmit()
    metrics = LabIngestionMetrics(CollectorRegistry())
    acknowledger = Hl7Acknowledger(submit, lambda s: "h" * 64, metrics)
    listener = MllpListener(acknowledger, metrics, "127.0.0.1", port, 1 << 20)
    serving = asyncio.create_task(listener.serve(stopping))
    await listener.listening()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        frames = []
        for _ in range(acks):
            frames.append(await asyncio.wait_for(reader.readuntil(FS + CR), 5))
        return frames, submit
    finally:
        writer.close()
        stopping.set()
        await serving


async def test_a_start_block_inside_a_frame_answers_only_the_last_block() -> None:
    """A sender abandoned frame M1 after its MSH (no <FS><CR>) and started frame M2 with a
    new <VT> on the same connection. MLLP delimits a block by <VT>: what came before the
    second <VT> is an abandoned block, never part of M2. Read as one message, M2's results
    were stored under M1's control id and answered `AA` M1; the real M1, resent, was then
    refused `reused-message-id`."""
    abandoned = VT + header("M1").encode()  # cut off after MSH: no <FS><CR>
    second = VT + (header("M2") + body()).encode() + FS + CR
    (ack,), submit = await converse([abandoned, second], 1)
    stored_ids = [c.message.control_id for c in submit.ingests]
    assert "M1" not in stored_ids, (msa(ack), stored_ids)
    assert msa(ack)[1:3] != ["AA", "M1"], msa(ack)


async def test_stray_bytes_before_a_start_block_do_not_refuse_the_message() -> None:
    """A byte after a frame's <FS><CR> (here a NUL the sender's driver pads with) glues
    onto the next frame, which was refused `AR` "does not start with <VT>" with an empty
    MSA-2. Bytes outside a block are kept apart; the block after them is answered."""
    first = VT + (header("M1") + body()).encode() + FS + CR + b"\x00"
    second = VT + (header("M2") + body(order="ORD2", value="13")).encode() + FS + CR
    (ack1, ack2), submit = await converse([first, second], 2)
    assert msa(ack1)[1:3] == ["AA", "M1"]
    assert msa(ack2)[2] == "M2", msa(ack2)
    assert msa(ack2)[1] == "AA", msa(ack2)
    assert [c.message.control_id for c in submit.ingests] == ["M1", "M2"]


async def test_custom_component_separator_msa2_echoes_the_whole_control_id() -> None:
    """A sender with MSH-2 `#~\\&` and MSH-10 `MSG#1`: the ACK (in HL7's default
    separators) says MSA-2 `MSG^1`; `MSG`, the first component only, matched no MSH-10 the
    engine sent (and `MSG#2` got the same MSA-2)."""
    text = (header("MSG#1") + body()).replace("^", "#")  # MSH-2 becomes #~\\&
    assert text.startswith("MSH|#~\\&|LIS|")
    (ack,), _ = await converse([VT + text.encode() + FS + CR], 1)
    assert msa(ack)[2] == "MSG^1", msa(ack)


def test_control_ids_differing_after_a_component_are_two_messages() -> None:
    """MSH-10 `20261120^0001` and `20261120^0002` (a LIS that writes its id with a `^`
    and an engine that does not escape it) are two messages: stored under `20261120` (the
    first component), the second was refused `reused-message-id`, or dropped as a
    duplicate."""
    first, _ = parse_oru(header("20261120^0001") + body())
    second, _ = parse_oru(header("20261120^0002") + body(order="ORD2", value="14"))
    assert first.control_id != second.control_id, (first.control_id, second.control_id)


async def test_declared_utf8_is_not_read_as_latin1_after_one_stray_byte() -> None:
    """MSH-18 `UNICODE UTF-8`, a hospital number `MÜLLER1`, and one stray cp1252 byte in a
    comment (NTE). Decoded as ISO 8859-1 whole, PID-3 was `MÃ\\x9cLLER1`, matched no
    enrolment and the CRP was discarded with an `AA`. A message that breaks its declared
    character set is malformed (AR), never read silently in another."""
    text = (header("U-1", "|||||CHE|UNICODE UTF-8") + body(mrn="MÜLLER1")).encode(
        "utf-8"
    ) + "NTE|1||siehe Befund \u2013 Labor\r".encode("cp1252")  # an en dash
    (ack,), submit = await converse([VT + text + FS + CR], 1)
    numbers = [c.message.patient_identifier for c in submit.ingests]
    assert numbers in ([], ["MÜLLER1"]), (msa(ack), numbers)


def test_the_builders_make_an_accepted_message() -> None:
    """The builders above make a message the service accepts (guards the tests' inputs)."""
    message, ack_header = parse_oru(header("OK-1") + body(), Channel.MLLP)
    assert message.control_id == "OK-1" and ack_header.version == "2.5.1"


def test_a_control_id_of_one_value_keeps_its_identity() -> None:
    """Stored ids are keyed hashes of the identity: one value reads as it always did (a
    trailing empty component left out), so that a message resent across an upgrade is still
    found; one holding a separator stays escaped, never the id of a field of two values."""
    for sent, identity in (
        ("ABC", "ABC"),
        ("A\\S\\B", "A\\S\\B"),
        ("ABC^", "ABC"),
        (" ABC ", "ABC"),
    ):
        message, _ = parse_oru(header(sent) + body())
        assert message.control_id == identity, (sent, message.control_id)


def test_a_control_id_of_several_parts_is_the_whole_field_in_default_separators() -> None:
    for sent, identity in (
        ("A~B", "A~B"), ("A&1^B", "A&1^B"), ("A^B\\S\\C", "A^B\\S\\C"), ("A^^", "A"),
    ):  # fmt: skip
        message, _ = parse_oru(header(sent) + body())
        assert message.control_id == identity, (sent, message.control_id)
    text = (header("MSG#1") + body()).replace("^", "#")
    message, ack_header = parse_oru(text)
    assert (message.control_id, ack_header.control_id_sent) == ("MSG^1", "MSG^1")


def test_a_frame_is_cut_before_each_start_block() -> None:
    """What precedes the last <VT> is kept apart (stray bytes, abandoned blocks); line
    noise or a <VT> alone is nothing to keep."""
    assert blocks_of(VT + b"MSH|2") == [VT + b"MSH|2"]
    assert blocks_of(b"\n" + VT + b"MSH|2") == [b"\n" + VT + b"MSH|2"]
    assert blocks_of(b"MSH|2") == [b"MSH|2"]
    assert blocks_of(b"\x00" + VT + b"MSH|2") == [b"\x00", VT + b"MSH|2"]
    assert blocks_of(VT + b"MSH|1\r" + VT + b"MSH|2") == [VT + b"MSH|1\r", VT + b"MSH|2"]
    assert blocks_of(b"\r\n" + VT + VT + b"\r" + VT + b"MSH|2") == [VT + b"MSH|2"]
    assert blocks_of(b"x" + VT + b"MSH|1" + VT + b"MSH|2") == [
        b"x", VT + b"MSH|1", VT + b"MSH|2",
    ]  # fmt: skip


def kept_reasons(submit: FakeSubmit) -> list[str]:
    return [c.reason for c in submit.commands if isinstance(c, RecordRejectedInput)]


async def test_an_abandoned_block_and_stray_bytes_are_kept_and_not_answered() -> None:
    abandoned = b"\x00" + VT + header("M1").encode()
    second = VT + (header("M2") + body()).encode() + FS + CR
    (ack,), submit = await converse([abandoned, second], 1)
    assert msa(ack)[1:3] == ["AA", "M2"]
    assert kept_reasons(submit) == [STRAY_BYTES, ABANDONED_BLOCK]
    kept = [c for c in submit.commands if isinstance(c, RecordRejectedInput)][-1]
    assert "|M1|" in kept.redacted_payload and kept.code is RejectionCode.MALFORMED
    assert [c.message.control_id for c in submit.ingests] == ["M2"]


async def test_a_frame_without_a_start_block_is_refused_with_its_msh10_echoed() -> None:
    (ack,), submit = await converse([b"\x00" + (header("M3") + body()).encode() + FS + CR], 1)
    assert msa(ack)[1:3] == ["AR", "M3"]
    assert kept_reasons(submit) == [NO_START_BLOCK]
