"""Payload of the dead-letter topics (`dlq.<service>.v1`)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload


class MessageDeadLettered(EventPayload):
    """A consumed message that can never be processed, with the reason why.

    The original bytes are kept (base64) so that an operator can repair and replay them.
    Only platform events are consumed from Kafka, and those carry no PHI.
    """

    event_type = "MessageDeadLettered"

    consumer: str = Field(max_length=100)
    topic: str = Field(max_length=200)
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    key: str | None = Field(default=None, max_length=200)
    value_base64: str
    reason_code: str = Field(max_length=64)
    reason: str = Field(max_length=2000)
    failed_at: AwareDatetime
