"""A batch Bundle sent again whole (its answer was lost) is checked in work linear in its
entries (review 45): each entry asks whether the Bundle is a resend, and checking the whole
Bundle for each held the event loop for seconds (1,000 entries: 14 s)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.domain import planning
from services.lab_ingestion.service_layer import ingest, transactions
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from tests.unit.lab_ingestion.route_fakes import bundle, observation
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def batch_commands(entries: int) -> list[IngestLabMessage]:
    """A batch Bundle's entries as the HTTP route builds them: each its own command, with
    the Bundle's messages."""
    resources = [
        observation(id=f"o{i}", identifier=[{"system": "urn:lis", "value": f"R-{i}"}])
        for i in range(entries)
    ]
    parsed = parse_bundle(bundle("batch", *resources), "LIS", "HOSP", lambda s: f"h({s})")
    return [
        IngestLabMessage(m, lambda: "", AT, check_source=False, bundle=parsed.messages)
        for m in parsed.messages
    ]


async def test_a_batch_bundle_sent_again_whole_is_checked_once_per_bundle() -> None:
    entries = 120
    db = FakeDatabase(enrolled={"h(MRN-4711-0815)": "S-1"})
    store = ingestor(db)
    first = await store(batch_commands(entries))
    assert all(o.accepted and not o.duplicate and o.results == 1 for o in first)
    calls = 0

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return planning.check_repeated_version(*args, **kwargs)

    with (
        patch.object(transactions, "check_repeated_version", counted),
        patch.object(ingest, "check_repeated_version", counted),
    ):
        again = await store(batch_commands(entries))
    assert all(o.accepted and o.duplicate for o in again)
    assert calls <= 4 * entries, f"{calls} version checks for a Bundle of {entries} entries"
    assert len(db.results) == entries
