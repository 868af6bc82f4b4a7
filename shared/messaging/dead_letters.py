"""Keeps a message that can never be processed and announces it on the dead-letter topic.

A poison message may hold anything, so everything written for it must be storable: the raw
key and value go to ``bytea`` columns, texts are escaped (PostgreSQL's ``text`` holds no NUL,
JSON and UTF-8 no lone surrogate), and the announcement carries at most
``MAX_EVENT_VALUE_BYTES`` of the value, so that it stays far below Kafka's default message
size limit (1 MiB) however large the message was. The dead-letter topics are blinded: the
announcement of a message from an unblinded topic (the arm, the actual dose) carries neither
its value nor its reason, which stay in the table. A message is stored once per consumer and
position (and value digest): a redelivered batch writes and announces nothing again, and the
announcement's event id is derived from the same identity.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable

import asyncpg

from shared.contracts.envelope import make_envelope, utc_now
from shared.contracts.events.dead_letter import MessageDeadLettered
from shared.contracts.topics import TOPICS, dead_letter_topic
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.outbox import OutboxWriter

MAX_REASON_CHARS = 2000
MAX_REASON_CODE_CHARS = 64
MAX_KEY_CHARS = 200
MAX_SUBJECT_ID_CHARS = 64
MAX_EVENT_VALUE_BYTES = 256 * 1024
MAX_EVENT_KEY_BYTES = 1024
UNBLINDED_REASON = (
    "withheld: the message is from an unblinded topic; its value and reason are kept in the "
    "service's dead_letters table only"
)
DEAD_LETTER_NAMESPACE = uuid.UUID("6ca08e9d-c306-46e9-be19-60e32b28b89f")

# the unique index of shared migration 0003; value_sha256 is generated from value
_INSERT = """INSERT INTO dead_letters (consumer, topic, partition, "offset", message_key,
                                       message_key_bytes, value, reason_code, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (consumer, topic, partition, "offset", value_sha256) DO NOTHING
             RETURNING id"""


def storable(text: str) -> str:
    """``text`` as PostgreSQL and JSON can hold it: NUL as the visible escape ``\\x00``, a
    lone surrogate as ``\\udcxx``."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode(errors="backslashreplace").decode()
    return text


def plain_ascii(text: str) -> str:
    """``storable`` and ASCII only (a database not encoded in UTF-8 rejects other characters)."""
    return storable(text).encode("ascii", "backslashreplace").decode()


def dead_letter_event_id(consumer: str, message: ConsumedMessage) -> uuid.UUID:
    """The same for every delivery of one message to one consumer, different for another
    message at a re-used position (a broker that lost its data)."""
    digest = hashlib.sha256(message.value or b"").hexdigest()
    identity = f"{consumer}\n{message.topic}\n{message.partition}\n{message.offset}\n{digest}"
    return uuid.uuid5(DEAD_LETTER_NAMESPACE, identity)


def _subject_id(raw_key: bytes | None) -> str | None:
    """The key is the subject id on every platform topic; one that is not printable UTF-8
    of a subject id's length is not one."""
    if raw_key is None:
        return None
    try:
        key = raw_key.decode()
    except UnicodeDecodeError:
        return None
    return key if key and len(key) <= MAX_SUBJECT_ID_CHARS and key.isprintable() else None


def _unblinded(topic: str) -> bool:
    spec = TOPICS.get(topic)
    return spec is not None and spec.unblinded


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class DeadLetterWriter:
    """Writes on the unit of work's connection: the dead letter commits with the batch."""

    def __init__(self, conn: asyncpg.Connection, outbox: OutboxWriter, service: str) -> None:
        self._conn = conn
        self._outbox = outbox
        self._service = service

    async def add(
        self,
        message: ConsumedMessage,
        consumer: str,
        reason_code: str,
        reason: str,
        *,
        plain: bool = False,
    ) -> bool:
        """Store the dead letter and queue its announcement; False when this message was
        stored already (a redelivered batch), and nothing is written or announced again.

        ``plain`` is the fallback for a dead letter whose full form could not be stored:
        every text ASCII, no text key (the key bytes are still kept). Call it in a savepoint.
        """
        text: Callable[[str], str] = plain_ascii if plain else storable
        reason_code = text(reason_code)[:MAX_REASON_CODE_CHARS]
        reason = text(reason)[:MAX_REASON_CHARS]
        raw_key = message.key
        key = None
        if raw_key is not None and not plain:
            key = storable(raw_key.decode(errors="replace"))[:MAX_KEY_CHARS]
        value = message.value or b""
        rows = await self._conn.fetch(
            _INSERT,
            text(consumer),
            text(message.topic),
            message.partition,
            message.offset,
            key,
            raw_key,
            value,
            reason_code,
            reason,
        )
        if not rows:
            return False
        if _unblinded(message.topic):
            # the arm or the actual dose would reach a topic without the unblinded ACLs: the
            # value and the reason (a decoding error may quote it) stay in the table only
            shown, reason = b"", UNBLINDED_REASON
        else:
            shown = value[:MAX_EVENT_VALUE_BYTES]
        payload = MessageDeadLettered(
            consumer=text(consumer)[:100],
            topic=text(message.topic)[:200],
            partition=message.partition,
            offset=message.offset,
            key=key,
            key_base64=(
                _b64(raw_key)
                if raw_key is not None and len(raw_key) <= MAX_EVENT_KEY_BYTES
                else None
            ),
            value_base64=_b64(shown),
            value_size=len(value),
            value_truncated=len(shown) < len(value),
            reason_code=reason_code,
            reason=reason,
            failed_at=utc_now(),
        )
        envelope = make_envelope(
            payload,
            producer=self._service,
            subject_id=None if plain else _subject_id(raw_key),
            event_id=dead_letter_event_id(consumer, message),
        )
        envelope.to_bytes()  # a failure to serialise shows here, in the caller's savepoint
        self._outbox.add(dead_letter_topic(self._service), envelope)
        return True
