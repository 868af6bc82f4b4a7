"""Regressions review 59 found in blocks, message ids and unit words (2026-12-05)."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.fuzz_inputs import blocks_kept_apart
from bench.ingest_mllp import oru
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import Coding, ObservationInput, Rejected
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.service_layer.commands import RecordRejectedInput
from tests.unit.lab_ingestion.test_mllp_ack_conformance import (
    CR,
    FS,
    VT,
    body,
    converse,
    header,
    msa,
)


def test_an_escaped_separator_and_a_component_are_two_message_ids() -> None:
    """MSH-10 `A\\S\\B` (one value holding a literal ^) and MSH-10 `A^B` (two components)
    are two messages. A single value is keyed unescaped ("as read"), a multi-part one as
    the whole field re-escaped, so both are keyed `A^B`: the second is taken as a resend
    (discarded as a duplicate, or refused `reused-message-id`). Before the change they were
    `A^B` and `A`."""
    one_value, _ = parse_oru(header("A\\S\\B") + body())
    two_components, _ = parse_oru(header("A^B") + body(order="ORD2", value="13"))
    assert one_value.control_id != two_components.control_id, one_value.control_id


async def test_msa2_still_echoes_msh10_when_a_later_component_has_a_bad_escape() -> None:
    """MSH-10 `MSG0001^\\.sp200\\`: before the change only MSH-10.1 was read (AA, MSA-2
    echoed as written). Now every component is unescaped to build the identity; the
    formatting escape raises, the whole header is lost, and the AR goes out with an empty
    MSA-2, which the lab's engine cannot match to the message it sent."""
    text = header("MSG0001^\\.sp200\\") + body()
    (ack,), _ = await converse([VT + text.encode() + FS + CR], 1)
    assert msa(ack)[2] == "MSG0001^\\.sp200\\", msa(ack)


async def test_the_fuzz_bench_expects_a_row_for_each_block_kept_apart() -> None:
    """bench/fuzz_inputs.py inserts <VT> among its mutations and checks the rows in
    `rejections`: a frame with a <VT> inside leaves a row for the block abandoned before it
    (kept, unanswered) and one for the answered rest if it is refused."""
    text = oru(100_022)[1:-2].replace(b"CRP^LN", b"CRP^L\x0bN")
    frame = VT + text + FS + CR
    (ack,), submit = await converse([frame], 1)
    rows = [c for c in submit.commands if isinstance(c, RecordRejectedInput)]
    not_accepted = 0 if msa(ack)[1] == "AA" else 1
    assert blocks_kept_apart(frame) == 1
    assert len(rows) == not_accepted + blocks_kept_apart(frame), [r.reason for r in rows]


def test_a_surname_in_the_unit_field_is_not_quoted_in_a_reason() -> None:
    """A rejection reason shows a unit text only when every word of it is a unit's; the new
    `ui` base and `mc` prefix made `Cui`, `Gui`, `Mui` (surnames) unit words, so a name keyed
    into OBX-6 is now quoted in the stored and published reason."""
    observation = ObservationInput(
        result_key="ORD1|1988-5|",
        codes=(Coding("1988-5", "http://loinc.org"),),
        value="12.5",
        unit=("Cui",),
        collected_at=datetime(2026, 11, 20, 8, tzinfo=UTC),
    )
    rejected = normalise(observation)
    assert isinstance(rejected, Rejected)
    assert "Cui" not in rejected.reason, rejected.reason
