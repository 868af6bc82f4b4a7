"""The events lab-ingestion builds are what the contract's descriptions say (the schemas and
the README quote them): a cancellation's own id names no result, the withdrawn one is
``cancelled_result_id``; ``occurred_at`` is a result's collection time; values and reference
ranges are converted, never rounded; every envelope field is written; the rejection codes
described are lab-ingestion's; the analytes' codes described are the ones identified."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.lab_ingestion.domain.analyte_codes import LOINC_CODES, SAME_TEST_CODES
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.envelope import Envelope
from shared.contracts.events.lab import Analyte, LabMessageRejected
from tests.unit.lab_ingestion.test_batch_ingestor import AT, FakeDatabase, ingestor, message

SPEC_ENVELOPE = [
    "event_id", "event_type", "schema_version", "occurred_at", "recorded_at", "producer",
    "subject_id", "correlation_id", "causation_id", "payload",
]  # fmt: skip


async def published(*commands: IngestLabMessage) -> list[Envelope]:
    """The events of ``commands``, each ingested in a batch of its own, as the outbox got
    them."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    for command in commands:
        await ingest([command])
    return [envelope for _, envelope in db.events]


@pytest.mark.parametrize(
    ("status", "reason"), [("X", "cannot-be-obtained"), ("D", "deleted"), ("W", "deleted")]
)
async def test_a_cancellation_names_the_withdrawn_result_in_cancelled_result_id(
    status: str, reason: str
) -> None:
    before = datetime.now(UTC)
    recorded, cancelled = await published(
        message("1", key="K"), message("2", status=status, key="K")
    )
    result_id = recorded.payload["result_id"]
    assert cancelled.event_type == "LabResultCancelled"
    assert cancelled.payload["cancelled_result_id"] == result_id
    assert cancelled.payload["result_id"] != result_id  # its own: it names no result
    assert cancelled.payload["reason"] == reason
    # occurred_at: a result's collection time; a cancellation's, when it was built
    assert recorded.occurred_at == AT
    assert before <= cancelled.occurred_at <= datetime.now(UTC)


async def test_a_corrected_results_cancellation_names_the_correction() -> None:
    final, correction, cancelled = await published(
        message("1", key="K"), message("2", status="C", key="K"), message("3", "MRN1", "D", "K")
    )
    assert correction.payload["supersedes_result_id"] == final.payload["result_id"]
    assert cancelled.payload["cancelled_result_id"] == correction.payload["result_id"]


async def test_a_converted_value_and_its_range_are_published_unrounded() -> None:
    command = message("1", value="100")
    observation = dataclasses.replace(
        command.message.observations[0], unit=("nmol/L",), reference_range="0-47.62"
    )
    lab = dataclasses.replace(command.message, observations=(observation,))
    (event,) = await published(IngestLabMessage(lab, lambda: "", AT))
    payload = event.payload
    per_mg_l = Decimal("9.524")  # PROTOCOL section 6's laboratory convention
    assert payload["value"] == float(Decimal(100) / per_mg_l)
    assert (payload["reference_low"], payload["reference_high"]) == (
        0.0, float(Decimal("47.62") / per_mg_l),
    )  # fmt: skip
    assert (payload["unit"], payload["original_value"], payload["original_unit"]) == (
        "mg/L", "100", "nmol/L",
    )  # fmt: skip


async def test_every_event_writes_every_envelope_field() -> None:
    events = await published(message("1", key="K"), message("2", status="D", key="K"))
    for event in events:
        document: dict[str, Any] = json.loads(event.to_bytes())
        assert list(document) == SPEC_ENVELOPE, event.event_type
        assert document["causation_id"] is None
        assert document["correlation_id"] is not None  # the stored message's id


def test_the_rejection_codes_described_are_lab_ingestions() -> None:
    description = LabMessageRejected.model_json_schema()["properties"]["reason_code"]
    described = set(re.findall(r"`([a-z-]+)`", description["description"]))
    assert described == {code.value for code in RejectionCode}


def test_the_analyte_description_names_each_code_with_its_analyte() -> None:
    """Every LOINC code lab-ingestion identifies an analyte by is written in the Analyte
    description after that analyte's name."""
    description = " ".join((Analyte.__doc__ or "").split())
    names = [(m.start(), m[1]) for m in re.finditer(r"``([a-z]+)``", description)]
    for code, analyte in {**LOINC_CODES, **SAME_TEST_CODES}.items():
        where = re.search(rf"(?<![0-9-]){re.escape(code)}(?![0-9])", description)
        assert where is not None, code
        named = [name for start, name in names if start < where.start()]
        assert named and named[-1] == analyte.value, (code, analyte)
