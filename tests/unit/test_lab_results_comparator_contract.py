"""``comparator`` on lab.results.v1: optional, written only when the value is a limit.

A censored result (``<0.1`` neutrophils, ``>1000`` ALT) carries its limit as ``value`` and
the relation as ``comparator``; every measured result's event is byte for byte the event it
always was, so a consumer built before the field (payload models forbid unknown fields)
still reads it, and refuses (dead-letters) a censored one rather than read its limit as a
measurement."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.envelope import Envelope
from shared.contracts.events.lab import Comparator, LabResultRecorded
from shared.contracts.registry import decode_payload
from shared.contracts.topics import LAB_RESULTS
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.processing import decode_message
from tests.factories import crp_result
from tests.unit.lab_ingestion.test_batch_ingestor import AT, FakeDatabase, ingestor, message

SCHEMA = (
    Path(__file__).resolve().parents[2] / "schemas" / "lab.results.v1"
    / "LabResultRecorded.v1.schema.json"
)  # fmt: skip


def _censored(envelope: Envelope, comparator: str) -> Envelope:
    payload = decode_payload(envelope).model_copy(update={"comparator": Comparator(comparator)})
    return envelope.model_copy(update={"payload": payload.model_dump(mode="json")})


def test_a_measured_result_reads_as_one_and_carries_no_comparator() -> None:
    envelope = crp_result("S-1", 12.0)
    assert "comparator" not in envelope.payload
    consumed = ConsumedMessage(LAB_RESULTS, 0, 7, b"S-1", envelope.to_bytes())
    payload = decode_message(consumed).payload
    assert isinstance(payload, LabResultRecorded)
    assert payload.comparator is None


@pytest.mark.parametrize("comparator", ["<", "<=", ">", ">="])
def test_a_censored_result_carries_its_comparator_through_the_broker(comparator: str) -> None:
    envelope = _censored(crp_result("S-1", 5.0), comparator)
    assert envelope.payload["comparator"] == comparator
    assert envelope.payload["value"] == 5.0
    consumed = ConsumedMessage(LAB_RESULTS, 0, 8, b"S-1", envelope.to_bytes())
    decoded = decode_message(consumed).payload
    assert isinstance(decoded, LabResultRecorded)
    assert decoded.comparator == Comparator(comparator)


@pytest.mark.parametrize("comparator", ["=", "<>", "ad", "", "lt"])
def test_a_comparator_that_is_no_limit_is_refused(comparator: str) -> None:
    payload = decode_payload(crp_result("S-1", 5.0)).model_dump(mode="json")
    with pytest.raises(ValidationError):
        LabResultRecorded.model_validate({**payload, "comparator": comparator})


def test_a_measured_result_holds_only_the_fields_an_older_consumer_knows() -> None:
    older = set(LabResultRecorded.model_fields) - {"comparator", "laboratory_comment"}
    assert set(crp_result("S-1", 12.0).payload) <= older


def test_the_committed_schema_makes_the_comparator_optional_and_names_its_values() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert "comparator" not in schema["required"]
    assert schema["properties"]["comparator"]["default"] is None
    assert schema["$defs"]["Comparator"]["enum"] == ["<", "<=", ">", ">="]


async def test_lab_ingestion_stores_publishes_and_counts_a_limit() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    command = message("1")
    limit = dataclasses.replace(command.message.observations[0], value="<5")
    measured = dataclasses.replace(limit, result_key="K2", value="7")
    lab = dataclasses.replace(command.message, observations=(limit, measured))
    (outcome,) = await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    assert (outcome.accepted, outcome.results, outcome.limits) == (True, 2, 1), outcome
    assert [r.result.comparator for r in db.results] == [Comparator.BELOW, None]
    payloads = [e.payload for _, e in db.events if e.event_type == "LabResultRecorded"]
    assert [(p["value"], p.get("comparator")) for p in payloads] == [(5.0, "<"), (7.0, None)]
