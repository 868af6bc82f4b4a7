"""What the committed JSON Schemas tell consumer teams, who read them (and the README), not
the models: every field of lab-ingestion's events is described, and the envelope requires
every field SPEC section 2 lists."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events.lab import (
    CANONICAL_UNITS,
    Analyte,
    LabMessageRejected,
    LabResultCancelled,
    LabResultRecorded,
)
from shared.contracts.topics import TOPICS
from tests.factories import crp_result

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
# SPEC section 2: "Every event travels in one envelope: ..." (its order)
SPEC_ENVELOPE = (
    "event_id", "event_type", "schema_version", "occurred_at", "recorded_at", "producer",
    "subject_id", "correlation_id", "causation_id", "payload",
)  # fmt: skip
NULLABLE = ("subject_id", "correlation_id", "causation_id")
LAB_MODELS = (LabResultRecorded, LabResultCancelled, LabMessageRejected)


def committed(model: type[EventPayload]) -> dict[str, Any]:
    (topic,) = (spec.name for spec in TOPICS.values() if model in spec.payloads)
    path = SCHEMAS / topic / f"{model.event_type}.v{model.schema_version}.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def undescribed(schema: dict[str, Any]) -> list[str]:
    properties: dict[str, dict[str, Any]] = schema["properties"]
    return [name for name, p in properties.items() if not p.get("description", "").strip()]


@pytest.mark.parametrize("model", LAB_MODELS, ids=lambda m: m.event_type)
def test_every_field_of_a_lab_event_is_described(model: type[EventPayload]) -> None:
    schema = committed(model)
    assert not undescribed(schema), f"{model.event_type}: fields without a description"
    assert schema["description"].strip()
    definitions = schema.get("$defs", {})
    assert all(d.get("description", "").strip() for d in definitions.values()), definitions


def test_the_envelope_schema_requires_every_field_spec_lists() -> None:
    schema = json.loads((SCHEMAS / "envelope.schema.json").read_text())
    assert schema["required"] == list(SPEC_ENVELOPE)
    assert sorted(schema["properties"]) == sorted(SPEC_ENVELOPE)
    assert not undescribed(schema)
    for name in NULLABLE:  # required, and null where empty
        assert {"type": "null"} in schema["properties"][name]["anyOf"], name


@pytest.mark.parametrize("field", NULLABLE)
def test_an_envelope_without_a_field_spec_lists_is_refused(field: str) -> None:
    document = json.loads(crp_result("S-1", 4.0).to_bytes())
    document[field] = None
    Envelope.from_bytes(json.dumps(document).encode())  # null: read
    del document[field]
    with pytest.raises(ValidationError, match=field):
        Envelope.from_bytes(json.dumps(document).encode())


def test_a_new_envelope_writes_every_field_spec_lists() -> None:
    """Every producer builds its events with ``make_envelope``: all ten fields, null ones
    included, are on the wire."""
    payload = LabResultCancelled(
        result_id=uuid.uuid4(), cancelled_result_id=uuid.uuid4(), analyte=Analyte.CRP,
        reason="deleted", source="LIS^HOSP",
    )  # fmt: skip
    envelope = make_envelope(payload, producer="lab-ingestion", subject_id=None)
    assert list(json.loads(envelope.to_bytes())) == list(SPEC_ENVELOPE)


def test_the_unit_description_names_every_canonical_unit_exactly() -> None:
    description = committed(LabResultRecorded)["properties"]["unit"]["description"]
    for analyte, unit in CANONICAL_UNITS.items():
        assert f"{analyte.value} `{unit}`" in description
    assert "`10*9/L`" in description and "`x10^9/L`" in description


def test_a_cancellation_tells_its_own_id_from_the_withdrawn_results() -> None:
    properties = committed(LabResultCancelled)["properties"]
    assert "names no result" in properties["result_id"]["description"]
    assert "`result_id` of the result withdrawn" in properties["cancelled_result_id"]["description"]
