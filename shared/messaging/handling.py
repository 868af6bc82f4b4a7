"""What a consumer's handler is, and how it refuses an event: no database, no broker.

Handlers live in the services' service layers, which import neither the database driver nor
Kafka; ``BatchProcessor`` (``shared.messaging.processing``) runs them in its unit of work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope

# (unit of work, envelope, decoded payload); the unit of work is the service's own
EventHandler = Callable[[Any, Envelope, EventPayload], Awaitable[None]]


class PoisonMessage(Exception):
    """Raise from a handler for an event that can never be applied (bad data).

    ``reason_code`` and ``reason`` are stored as the dead letter's and published on the
    dead-letter topic as written: the code's own words, quoting no value of the input."""

    def __init__(self, reason_code: str, reason: str) -> None:
        super().__init__(reason)
        self.reason_code = reason_code
        self.reason = reason
