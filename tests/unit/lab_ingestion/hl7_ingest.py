"""One HL7 message through the batch ingestor and its fake database, as the tests of results
without a value, withdrawals and corrections send them (received 11:00 UTC on 20 Nov)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

RECEIVED = datetime(2026, 11, 20, 11, tzinfo=UTC)


async def ingest_hl7(db: FakeDatabase, text: str) -> IngestOutcome:
    """``text`` parsed (identifiers hashed as ``h(...)``) and ingested alone."""
    lab, _ = parse_oru(text, identify=lambda s: f"h({s})")
    (outcome,) = await ingestor(db)([IngestLabMessage(lab, lambda: "", RECEIVED)])
    return outcome
