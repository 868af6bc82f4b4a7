"""The one envelope every event travels in (SPEC section 2), and how a new event is wrapped in it.

Pure: no driver, no broker. The service layer builds its events with ``make_envelope``
without loading the outbox's database code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import EventPayload


def utc_now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Metadata plus a payload; the payload is validated against its registered model.

    ``event_id`` and ``recorded_at`` are required: decoding must never make them up, or a
    redelivered event would get a new id and pass every inbox (``make_envelope`` draws them
    for a new event)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    event_type: str = Field(min_length=1, max_length=100)
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    producer: str = Field(min_length=1, max_length=100)
    subject_id: str | None = Field(default=None, max_length=64)
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    payload: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


def make_envelope(
    payload: EventPayload,
    *,
    producer: str,
    subject_id: str | None,
    occurred_at: object = None,
    causation: Envelope | None = None,
    event_id: uuid.UUID | None = None,
    correlation_id: uuid.UUID | None = None,
) -> Envelope:
    """Wrap a payload; a caused event inherits the correlation id of its cause (an event
    of no cause may name one: the input it came from). An ``event_id`` derived from what
    the event records makes writing it twice harmless (the outbox keeps one row per event
    id)."""
    causation_id = None
    if causation is not None:
        correlation_id = causation.correlation_id or causation.event_id
        causation_id = causation.event_id
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        event_type=payload.event_type,
        schema_version=payload.schema_version,
        occurred_at=occurred_at or utc_now(),
        recorded_at=utc_now(),
        producer=producer,
        subject_id=subject_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload=payload.model_dump(mode="json"),
    )
