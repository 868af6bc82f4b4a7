"""Look up payload models by (event_type, schema_version) and validate envelopes."""

from __future__ import annotations

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope
from shared.contracts.topics import TOPICS


class UnknownEventType(ValueError):
    """The envelope names an event type or version this build does not know."""


def _build_registry() -> dict[tuple[str, int], type[EventPayload]]:
    registry: dict[tuple[str, int], type[EventPayload]] = {}
    for spec in TOPICS.values():
        for model in spec.payloads:
            registry[(model.event_type, model.schema_version)] = model
    return registry


PAYLOAD_MODELS: dict[tuple[str, int], type[EventPayload]] = _build_registry()


def payload_model(event_type: str, schema_version: int) -> type[EventPayload]:
    try:
        return PAYLOAD_MODELS[(event_type, schema_version)]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r} v{schema_version}") from None


def decode_payload(envelope: Envelope) -> EventPayload:
    """Validate an envelope's payload against its model (raises pydantic ValidationError)."""
    model = payload_model(envelope.event_type, envelope.schema_version)
    return model.model_validate(envelope.payload)
