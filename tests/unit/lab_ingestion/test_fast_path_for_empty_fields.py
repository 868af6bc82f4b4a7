"""Review 71: every CBC with an empty field now takes the careful path (a read, the chain lock).

What goes wrong: commit 7b9591f sends any message with a trial result reported without a
value to the careful path (``_fast_path_applies``: ``reports_without_value``), since the
key must be known never to have held anything. Commit 2bace5d makes the manual-count codes
(``753-4``, ``778-1``) trial results, and CBCs carry those fields, usually empty, on every
report. So the ordinary CBC, planned yesterday without a read, is now read first under the
global chain lock (``serialise_chains``), one batch at a time across instances: 20 CBCs
cost 20 reads instead of 1 (checked against 57d78d9). SPEC.md's MLLP target (>= 1,500
ORU/s, ACK after commit) was met on the fast path; realistic CBC traffic no longer takes it.

What should happen: a message whose results without a value sit under keys that are new
is planned on assumptions like any new result, the write's guard checking them.

Suggested fix: on the fast path, read a result without a value as X obtaining nothing and
add its key to ``BatchAssumptions.new_result_keys`` (``assert_batch_current`` already
refuses a batch whose new keys held anything; the batch is then replanned carefully).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _cbc(order: str) -> str:
    return (
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|{order}|P|2.5.1\r"
        "PID|1||MRN1^^^HOSP^MR\r"
        f"OBR|1|PLC1|{order}|CBC^Blood count^L|||20261120081512+0100\r"
        "OBX|1|NM|NEUT^Neutrophils^L^751-8^Neutrophils^LN||0.3|10*9/L|||||F|||"
        "20261120081512+0100\r"
        "OBX|2|NM|NEUTM^Neutrophils manual^L^753-4^Neutrophils manual^LN|||10*9/L|||||F|||"
        "20261120081512+0100\r"
    )


async def test_cbcs_with_an_empty_manual_field_are_planned_without_a_read() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    for number in range(20):
        lab, _ = parse_oru(_cbc(f"CBC-{number}"), identify=lambda s: f"h({s})")
        await ingest([IngestLabMessage(lab, lambda: "", RECEIVED - timedelta(hours=1))])
    assert len(db.results) == 20
    assert db.lookups <= 1, (
        f"{db.lookups} reads for 20 new CBCs: each took the careful path (read under the "
        "chain lock), where yesterday one read served the subject's first message only"
    )
