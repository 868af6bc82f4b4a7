"""Payload of the dead-letter topics (`dlq.<service>.v1`)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload


class MessageDeadLettered(EventPayload):
    """A consumed message that can never be processed, with the reason why.

    The original bytes are kept (base64) so that an operator can repair and replay them;
    the event carries at most the first 256 KiB of the value (``value_truncated``,
    ``value_size``): the full value and key stay in the service's ``dead_letters`` table.
    ``key`` is the key as text (invalid UTF-8 replaced, NUL shown as ``\\x00``);
    ``key_base64`` is the exact key when it is at most 1 KiB.
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
    # added compatibly (optional, with defaults): events written before them decode as before
    value_size: int | None = Field(default=None, ge=0)
    value_truncated: bool = False
    key_base64: str | None = Field(default=None, max_length=1400)
