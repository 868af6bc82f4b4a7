"""A message as read from Kafka, independent of the consumer framework."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsumedMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
