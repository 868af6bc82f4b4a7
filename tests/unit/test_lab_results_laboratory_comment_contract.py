"""``laboratory_comment`` on lab.results.v1: optional, written only when true.

Events published before the field (the outbox keeps and republishes them for 14 days) must
still be read, as results without a comment; and a consumer built before it, whose payload
model forbids unknown fields, must still read every event of a result without a comment,
byte for byte the event it always was."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.envelope import Envelope
from shared.contracts.events.lab import LabResultRecorded
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


def _commented(envelope: Envelope) -> Envelope:
    payload = decode_payload(envelope).model_copy(update={"laboratory_comment": True})
    return envelope.model_copy(update={"payload": payload.model_dump(mode="json")})


def test_an_event_published_before_the_field_reads_as_a_result_without_a_comment() -> None:
    envelope = crp_result("S-1", 12.0)
    assert "laboratory_comment" not in envelope.payload  # as every event before it
    consumed = ConsumedMessage(LAB_RESULTS, 0, 7, b"S-1", envelope.to_bytes())
    payload = decode_message(consumed).payload
    assert isinstance(payload, LabResultRecorded)
    assert payload.laboratory_comment is False


def test_a_commented_result_carries_the_flag_through_the_broker() -> None:
    envelope = _commented(crp_result("S-1", 12.0))
    assert envelope.payload["laboratory_comment"] is True
    consumed = ConsumedMessage(LAB_RESULTS, 0, 8, b"S-1", envelope.to_bytes())
    payload = decode_message(consumed).payload
    assert isinstance(payload, LabResultRecorded)
    assert payload.laboratory_comment is True


def test_an_event_without_a_comment_holds_only_the_fields_an_older_consumer_knows() -> None:
    older = set(LabResultRecorded.model_fields) - {"laboratory_comment"}
    assert set(crp_result("S-1", 12.0).payload) <= older


def test_the_committed_schema_makes_the_field_optional_and_false_by_default() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema["properties"]["laboratory_comment"] == {
        **schema["properties"]["laboratory_comment"], "type": "boolean", "default": False,
    }  # fmt: skip
    assert "laboratory_comment" not in schema["required"]


async def test_lab_ingestion_stores_and_publishes_whether_the_laboratory_commented() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    command = message("1")
    noted = dataclasses.replace(command.message.observations[0], laboratory_comment=True)
    plain = dataclasses.replace(noted, result_key="K2", laboratory_comment=False)
    lab = dataclasses.replace(command.message, observations=(noted, plain))
    (outcome,) = await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    assert outcome.accepted and outcome.results == 2, outcome
    assert [r.result.laboratory_comment for r in db.results] == [True, False]
    payloads = [e.payload for _, e in db.events if e.event_type == "LabResultRecorded"]
    assert [p.get("laboratory_comment") for p in payloads] == [True, None]
