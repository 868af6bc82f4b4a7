"""Review 224: a rejected HL7 message one of whose values holds every character the scrubber
may join values with (``hl7_decoded_scrub.free_joiner``) was never answered: ``next()``
without a default raised StopIteration on the worker thread that redacts a large message,
which an asyncio future cannot carry, so the connection waited for good and nothing was
kept. Now such values are given up on (``[redacted]``), the message answered and kept, and
no StopIteration ever leaves a worker thread unanswered (``shared.worker_threads``)."""

from __future__ import annotations

import itertools

import pytest

from tests.integration.lab_fixtures import msa
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange, j
from tests.integration.test_lab_review185 import TS

pytestmark = pytest.mark.integration

# every character ``free_joiner`` may pick (``hl7_decoded_scrub._JOINERS``): about 524 KB in
# UTF-8, under the 1 MiB MLLP limit and over the size redacted on a worker thread
JOINERS = "".join(map(chr, itertools.chain(
    range(0x01, 0x09), range(0x0E, 0x1C), range(0x7F, 0x85), range(0x86, 0xA0),
    range(0xF0000, 0x10FFFE))))  # fmt: skip


def refused_crp(cid: str, note: str) -> str:
    """A CRP from the listed LIS^HOSP in UTF-8, its unit unknown (refused, kept)."""
    return j(
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{cid}|P|2.5.1|||||"
        "UNICODE UTF-8",
        "PID|1||MRN4711^^^HOSP^MR||DOE^JOHN||19580214|M|||Gartenweg 3^^Thun^^3600",
        f"ORC|RE|PLC{cid}|F{cid}",
        f"OBR|1|PLC{cid}|F{cid}|CRP^CRP^L|||{TS}",
        f"OBX|1|NM|1988-5^CRP^LN||42|furlongs|0-5|H|||F|||{TS}",
        f"NTE|1||{note}",
    )


async def test_a_value_holding_every_joiner_is_answered_and_kept_redacted(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        ack = msa(await client.exchange(refused_crp("JN-1", f"Thun {JOINERS} Thun")))
    finally:
        await client.close()
    assert ack[1] == "AE", ack
    payload = await lab.pool.fetchval(
        "SELECT payload FROM rejections WHERE control_id = $1", "JN-1"
    )
    assert payload is not None, "the refused message was not kept"
    (note,) = [line for line in payload.split("\r") if line.startswith("NTE")]
    assert note == "NTE|1||[redacted]", note[:80]  # given up on: nothing of it kept
    assert "Thun" not in payload
    assert "|JN-1|" in payload  # the rest of the copy as ever: MSH kept
    # the service answers the next message as before
    (again,) = await exchange(lab, refused_crp("JN-2", "seen in Thun"))
    assert again[1] == "AE", again
