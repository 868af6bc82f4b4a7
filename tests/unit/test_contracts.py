"""Event contracts: committed JSON Schemas, the payload registry and the envelope."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope
from shared.contracts.events.lab import LabResultRecorded
from shared.contracts.events.trial import SubjectEnrolled
from shared.contracts.export import render_schemas, write_schemas
from shared.contracts.registry import (
    PAYLOAD_MODELS,
    UnknownEventType,
    decode_payload,
    payload_model,
)
from shared.contracts.topics import TOPICS
from tests.factories import crp_result, subject_enrolled

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
FIX_HINT = "the committed JSON Schemas drifted from the models: run `make schemas` and commit"


def _committed_schemas() -> dict[str, str]:
    return {
        path.relative_to(SCHEMAS).as_posix(): path.read_text()
        for path in SCHEMAS.rglob("*")
        if path.is_file()
    }


# --- schema drift -----------------------------------------------------------------------------


def test_schemas_folder_exists() -> None:
    assert SCHEMAS.is_dir(), f"{SCHEMAS} is missing; {FIX_HINT}"


def test_no_rendered_schema_is_missing_from_the_repository() -> None:
    missing = sorted(set(render_schemas()) - set(_committed_schemas()))
    assert not missing, f"not committed under schemas/: {missing}; {FIX_HINT}"


def test_no_committed_schema_is_stale() -> None:
    extra = sorted(set(_committed_schemas()) - set(render_schemas()))
    assert not extra, f"committed but no longer generated: {extra}; {FIX_HINT}"


def test_committed_schemas_match_the_models() -> None:
    rendered, committed = render_schemas(), _committed_schemas()
    different = sorted(
        name for name in rendered.keys() & committed.keys() if rendered[name] != committed[name]
    )
    assert not different, f"content differs: {different}; {FIX_HINT}"


def test_render_schemas_is_deterministic_valid_json() -> None:
    first, second = render_schemas(), render_schemas()
    assert first == second
    for name, text in first.items():
        schema = json.loads(text)
        assert isinstance(schema, dict), name
        assert text.endswith("\n"), name


def test_payload_schemas_carry_topic_identity(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == set(render_schemas())
    for spec in TOPICS.values():
        for model in spec.payloads:
            name = f"{spec.name}/{model.event_type}.v{model.schema_version}.schema.json"
            schema = json.loads((tmp_path / name).read_text())
            assert schema["x-topic"] == spec.name
            assert schema["x-unblinded"] is spec.unblinded
            assert schema["$id"] == f"{spec.name}/{model.event_type}.v{model.schema_version}"
            assert schema["additionalProperties"] is False, f"{name} must forbid unknown fields"


# --- topics and registry ----------------------------------------------------------------------


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_every_topic_carries_at_least_one_payload(topic: str) -> None:
    spec = TOPICS[topic]
    assert spec.name == topic
    assert len(spec.payloads) >= 1
    assert all(issubclass(model, EventPayload) for model in spec.payloads)


def test_payload_identities_are_unique_across_models() -> None:
    owners: dict[tuple[str, int], set[type[EventPayload]]] = {}
    for spec in TOPICS.values():
        for model in spec.payloads:
            owners.setdefault((model.event_type, model.schema_version), set()).add(model)
    clashes = {key: models for key, models in owners.items() if len(models) > 1}
    assert not clashes, f"two models share an (event_type, schema_version): {clashes}"
    assert set(PAYLOAD_MODELS) == set(owners)
    for key, models in owners.items():
        assert {PAYLOAD_MODELS[key]} == models


# payloads whose class was renamed after their wire name was fixed (its schema file, $id)
CLASS_NAMES_OF_WIRE_NAMES = {"CrpOverdue": "CrpWentOverdue"}


def test_event_type_equals_the_class_name() -> None:
    for (event_type, version), model in PAYLOAD_MODELS.items():
        assert model.__name__ == CLASS_NAMES_OF_WIRE_NAMES.get(event_type, event_type)
        assert version >= 1


def test_unblinded_topics_are_exactly_randomisation_and_dispensing() -> None:
    unblinded = {name for name, spec in TOPICS.items() if spec.unblinded}
    assert unblinded == {"trial.randomisation.v1", "dose.dispensing.v1"}


def test_payload_model_lookup() -> None:
    assert payload_model("SubjectEnrolled", 1) is SubjectEnrolled
    with pytest.raises(UnknownEventType):
        payload_model("SubjectEnrolled", 99)
    with pytest.raises(UnknownEventType):
        payload_model("NoSuchEvent", 1)


# --- envelope ---------------------------------------------------------------------------------


def test_envelope_round_trips_through_bytes() -> None:
    cause = subject_enrolled("S-0001")
    envelope = crp_result("S-0001", 12.5).model_copy(
        update={"correlation_id": cause.event_id, "causation_id": cause.event_id}
    )
    raw = envelope.to_bytes()
    assert isinstance(raw, bytes)
    again = Envelope.from_bytes(raw)
    assert again == envelope
    assert again.to_bytes() == raw
    assert again.occurred_at.utcoffset() == dt.timedelta(0)


def test_envelope_rejects_naive_datetimes() -> None:
    with pytest.raises(ValidationError, match="occurred_at"):
        Envelope(
            event_id=uuid.uuid4(),
            event_type="SubjectEnrolled",
            schema_version=1,
            occurred_at=dt.datetime(2026, 1, 1, 12, 0),  # naive on purpose
            recorded_at=dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC),
            producer="dose-decision",
            subject_id="S-1",
            correlation_id=None,
            causation_id=None,
            payload={},
        )
    raw = json.loads(subject_enrolled("S-1").to_bytes())
    raw["recorded_at"] = "2026-01-01T12:00:00"
    with pytest.raises(ValidationError, match="recorded_at"):
        Envelope.from_bytes(json.dumps(raw).encode())


def test_envelope_rejects_unknown_fields() -> None:
    raw = json.loads(subject_enrolled("S-1").to_bytes())
    raw["patient_name"] = "Jane Doe"
    with pytest.raises(ValidationError, match="patient_name"):
        Envelope.from_bytes(json.dumps(raw).encode())


def test_envelope_is_immutable() -> None:
    envelope = subject_enrolled("S-1")
    with pytest.raises(ValidationError):
        envelope.subject_id = "S-2"  # type: ignore[misc]  # frozen: what this test tries


@pytest.mark.parametrize(
    ("field", "value"),
    [("event_type", ""), ("schema_version", 0), ("producer", ""), ("subject_id", "x" * 65)],
)
def test_envelope_field_constraints(field: str, value: object) -> None:
    raw = json.loads(subject_enrolled("S-1").to_bytes())
    raw[field] = value
    with pytest.raises(ValidationError, match=field):
        Envelope.from_bytes(json.dumps(raw).encode())


# --- decode_payload ---------------------------------------------------------------------------


def test_decode_payload_returns_the_registered_model() -> None:
    envelope = crp_result("S-1", 3.2)
    payload = decode_payload(envelope)
    assert isinstance(payload, LabResultRecorded)
    assert payload.value == pytest.approx(3.2)
    assert payload.model_dump(mode="json") == envelope.payload


def test_decode_payload_validates_against_the_model() -> None:
    envelope = subject_enrolled("S-1")
    bad = envelope.model_copy(update={"payload": {**envelope.payload, "hospital_id_hmac": "nope"}})
    with pytest.raises(ValidationError, match="hospital_id_hmac"):
        decode_payload(bad)
    extra = envelope.model_copy(update={"payload": {**envelope.payload, "name": "Jane"}})
    with pytest.raises(ValidationError, match="name"):
        decode_payload(extra)


def test_decode_payload_raises_unknown_event_type() -> None:
    envelope = subject_enrolled("S-1")
    with pytest.raises(UnknownEventType, match="Nonexistent"):
        decode_payload(envelope.model_copy(update={"event_type": "Nonexistent"}))
    with pytest.raises(UnknownEventType):
        decode_payload(envelope.model_copy(update={"schema_version": 7}))


def test_unknown_event_type_is_a_value_error() -> None:
    assert issubclass(UnknownEventType, ValueError)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_produced_payload_always_decodes_again(value: float) -> None:
    try:
        envelope = crp_result("S-1", value)
    except ValidationError:
        return  # rejected at the producer: fine
    decode_payload(Envelope.from_bytes(envelope.to_bytes()))


def test_event_ids_are_unique_per_envelope() -> None:
    ids = {subject_enrolled("S-1").event_id for _ in range(50)}
    assert len(ids) == 50
    assert all(isinstance(i, uuid.UUID) for i in ids)
