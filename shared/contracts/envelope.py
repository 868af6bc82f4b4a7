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

    Every field SPEC section 2 lists is required, ``subject_id``, ``correlation_id`` and
    ``causation_id`` too (null where empty): every event ever published carries all ten
    (``to_bytes`` writes every field, as it has since the first envelope). ``event_id`` and
    ``recorded_at`` must never be made up by decoding, or a redelivered event would get a
    new id and pass every inbox (``make_envelope`` draws them for a new event)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(
        description="the event's id: a redelivery carries the same one (consumers' inboxes)"
    )
    event_type: str = Field(
        min_length=1, max_length=100, description="the payload model's name (its schema's)"
    )
    schema_version: int = Field(ge=1, description="the payload model's version")
    occurred_at: AwareDatetime = Field(
        description=(
            "when what the event records happened, as its payload's description says "
            "(LabResultRecorded: the specimen's collection time; LabResultCancelled, "
            "LabMessageRejected, MessageDeadLettered: when the event was built)"
        )
    )
    recorded_at: AwareDatetime = Field(description="when the producer built the event")
    producer: str = Field(min_length=1, max_length=100, description="the producing service")
    subject_id: str | None = Field(
        max_length=64,
        description=(
            "the trial subject the event is about, and the topic key; null for an event "
            "about no subject (a lab rejection; a dead letter of a message without a "
            "readable subject key)"
        ),
    )
    correlation_id: uuid.UUID | None = Field(
        description=(
            "what the event belongs to: its cause's correlation id (else its cause's "
            "event id), or the input it came from (lab-ingestion: the stored message's or "
            "the rejection's id); null when none"
        )
    )
    causation_id: uuid.UUID | None = Field(
        description="the event_id of the event that caused this one; null when none did"
    )
    payload: dict[str, Any] = Field(
        description="the payload, valid against the schema of event_type and schema_version"
    )

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
