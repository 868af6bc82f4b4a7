"""Keeps a message that can never be processed and announces it on the dead-letter topic."""

from __future__ import annotations

import base64

import asyncpg

from shared.contracts.envelope import utc_now
from shared.contracts.events.dead_letter import MessageDeadLettered
from shared.contracts.topics import dead_letter_topic
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.outbox import OutboxWriter, make_envelope

MAX_REASON_CHARS = 2000
MAX_SUBJECT_ID_CHARS = 64


class DeadLetterWriter:
    """Writes on the unit of work's connection: the dead letter commits with the batch."""

    def __init__(self, conn: asyncpg.Connection, outbox: OutboxWriter, service: str) -> None:
        self._conn = conn
        self._outbox = outbox
        self._service = service

    async def add(
        self, message: ConsumedMessage, consumer: str, reason_code: str, reason: str
    ) -> None:
        reason = reason[:MAX_REASON_CHARS]
        reason_code = reason_code[:64]
        value = message.value or b""
        key = message.key.decode(errors="replace")[:200] if message.key else None
        await self._conn.execute(
            """INSERT INTO dead_letters
                   (consumer, topic, partition, "offset", message_key, value, reason_code, reason)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            consumer,
            message.topic,
            message.partition,
            message.offset,
            key,
            value,
            reason_code,
            reason,
        )
        payload = MessageDeadLettered(
            consumer=consumer,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=key,
            value_base64=base64.b64encode(value).decode(),
            reason_code=reason_code,
            reason=reason,
            failed_at=utc_now(),
        )
        # the key is the subject id on every platform topic; a longer one is not a subject id
        subject_id = key if key is not None and len(key) <= MAX_SUBJECT_ID_CHARS else None
        envelope = make_envelope(payload, producer=self._service, subject_id=subject_id)
        self._outbox.add(dead_letter_topic(self._service), envelope)
