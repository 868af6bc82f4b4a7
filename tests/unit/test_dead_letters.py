"""The dead-letter writer on a connection that refuses what PostgreSQL refuses (NUL in text,
text that is not UTF-8, a second row for the same message), alone and under the batch
processor."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope, utc_now
from shared.contracts.events.dead_letter import MessageDeadLettered
from shared.contracts.registry import decode_payload
from shared.db.migrations import PLATFORM_MIGRATIONS
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.dead_letters import (
    MAX_EVENT_VALUE_BYTES,
    MAX_REASON_CHARS,
    DeadLetterWriter,
    dead_letter_event_id,
)
from shared.messaging.handling import EventHandler, PoisonMessage
from shared.messaging.outbox import OutboxWriter
from shared.messaging.processing import BatchProcessor
from shared.metrics import ConsumerMetrics
from tests.factories import crp_result

CONSUMER = "crp-monitor"
LAB = "lab.results.v1"
KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588


class Database:
    def __init__(self) -> None:
        self.dead_letters: list[dict[str, Any]] = []
        self.outbox: list[tuple[Any, ...]] = []


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise asyncpg.exceptions.CharacterNotInRepertoireError(
                'invalid byte sequence for encoding "UTF8": 0x00'
            )
        value.encode()  # asyncpg cannot send a lone surrogate either
    elif isinstance(value, list | tuple):
        for item in value:
            _check_text(item)


class PgLikeConnection:
    """Writes become visible in ``Database`` on commit; the unique index of migration 0003."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dead_letters: list[dict[str, Any]] = []
        self.outbox: list[tuple[Any, ...]] = []

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        assert "INSERT INTO dead_letters" in sql
        assert "ON CONFLICT" in sql
        _check_text(list(args))
        names = ("consumer", "topic", "partition", "offset", "message_key",
                 "message_key_bytes", "value", "reason_code", "reason")  # fmt: skip
        row = dict(zip(names, args, strict=True))
        identity = (*args[:4], hashlib.sha256(row["value"]).digest())
        for other in [*self.db.dead_letters, *self.dead_letters]:
            if (*(other[n] for n in names[:4]), hashlib.sha256(other["value"]).digest()) == (
                identity
            ):
                return []
        self.dead_letters.append(row)
        return [{"id": len(self.db.dead_letters) + len(self.dead_letters)}]

    async def execute(self, sql: str, *args: Any) -> str:
        assert "INSERT INTO outbox" in sql
        _check_text(list(args))
        for row in args[0]:
            if row[0] in {r[0] for r in [*self.db.outbox, *self.outbox]}:
                raise asyncpg.exceptions.UniqueViolationError("outbox_event_id_key")
        self.outbox.extend(args[0])
        return "INSERT 0 1"


class Uow:
    """The unit of work with the real outbox and dead-letter writers."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.commits = 0

    async def __aenter__(self) -> Uow:
        self.conn = PgLikeConnection(self.db)
        self.outbox = OutboxWriter(self.conn)
        self.dead_letters = DeadLetterWriter(self.conn, self.outbox, CONSUMER)
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def inbox(self, consumer: str) -> Any:
        class Inbox:
            async def claim(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
                return set(ids)

        return Inbox()

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        marks = len(self.conn.dead_letters), len(self.conn.outbox)
        try:
            yield
        except BaseException:
            del self.conn.dead_letters[marks[0] :]
            del self.conn.outbox[marks[1] :]
            raise

    async def flush(self) -> None:
        return None

    async def commit(self) -> None:
        await self.outbox.flush()
        self.db.dead_letters.extend(self.conn.dead_letters)
        self.db.outbox.extend(self.conn.outbox)
        self.commits += 1


def batch_processor(
    db: Database,
    metrics: ConsumerMetrics | None = None,
    handlers: dict[str, EventHandler] | None = None,
) -> BatchProcessor:
    return BatchProcessor(
        consumer=CONSUMER,
        uow_factory=lambda: Uow(db),  # type: ignore[arg-type, return-value]  # a stand-in unit of work
        handlers=handlers or {},
        metrics=metrics or ConsumerMetrics(CollectorRegistry(), "crp-monitor"),
        max_backoff_seconds=0.01,
    )


def announced(db: Database) -> list[tuple[str, Envelope, MessageDeadLettered]]:
    """(topic, envelope, payload) of the committed outbox rows."""
    result = []
    for _, topic, _, _, raw in db.outbox:
        envelope = Envelope.from_bytes(raw)
        payload = decode_payload(envelope)
        assert isinstance(payload, MessageDeadLettered)
        result.append((topic, envelope, payload))
    return result


def never() -> bool:
    return False


# --- under the batch processor ----------------------------------------------------------------


async def test_a_nul_byte_in_the_key_no_longer_blocks_the_partition() -> None:
    db = Database()
    batch = [
        ConsumedMessage(LAB, 3, 41, b"S-1\x00", b"not json at all"),
        ConsumedMessage(LAB, 3, 42, b"S-1", b"also garbage"),
    ]
    await batch_processor(db).process_until_done(batch, never)

    nul, plain = db.dead_letters
    assert nul["message_key"] == "S-1\\x00", "shown as the visible escape"
    assert nul["message_key_bytes"] == b"S-1\x00", "the exact key is kept"
    assert nul["value"] == b"not json at all"
    assert (plain["message_key"], plain["message_key_bytes"]) == ("S-1", b"S-1")
    (_, first, one), (_, second, two) = announced(db)
    assert one.key == "S-1\\x00"
    assert one.key_base64 is not None
    assert base64.b64decode(one.key_base64) == b"S-1\x00"
    assert first.subject_id is None, "a key with NUL is not a subject id"
    assert second.subject_id == "S-1"
    assert two.key == "S-1"


async def test_every_text_written_for_a_dead_letter_is_storable() -> None:
    db = Database()
    message = ConsumedMessage(LAB, 0, 7, b"\xff\xfe\x00", b"\x00\x01")
    async with Uow(db) as uow:
        stored = await uow.dead_letters.add(
            message, CONSUMER, "bad\x00code", "reason \x00 with \udcff a lone surrogate"
        )
        await uow.commit()
    assert stored
    [row] = db.dead_letters
    assert row["reason_code"] == "bad\\x00code"
    assert row["reason"] == "reason \\x00 with \\udcff a lone surrogate"
    assert row["message_key"] == "\ufffd\ufffd\\x00"
    assert row["message_key_bytes"] == b"\xff\xfe\x00"
    [(_, envelope, payload)] = announced(db)
    assert envelope.subject_id is None
    assert base64.b64decode(payload.value_base64) == b"\x00\x01"


async def test_a_redelivered_batch_stores_and_announces_its_dead_letter_once() -> None:
    db = Database()
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry, "crp-monitor")
    batch = [ConsumedMessage(LAB, 1, 5, b"S-1", b"{not json")]
    await batch_processor(db, metrics).process_until_done(batch, never)
    # a crash between the database commit and the offset commit: the batch comes again
    await batch_processor(db, metrics).process_until_done(batch, never)

    assert len(db.dead_letters) == 1
    [(_, envelope, _)] = announced(db)
    assert envelope.event_id == dead_letter_event_id(CONSUMER, batch[0])
    labels = {"service": "crp-monitor", "topic": LAB, "reason": "invalid-envelope"}
    assert registry.get_sample_value("cachexia_dead_letters_total", labels) == 1


async def test_another_message_at_a_reused_position_is_stored_too() -> None:
    """A broker that lost its data (the embedded one keeps it in memory) re-uses offsets."""
    db = Database()
    await batch_processor(db).process_until_done([ConsumedMessage(LAB, 1, 5, None, b"x")], never)
    await batch_processor(db).process_until_done([ConsumedMessage(LAB, 1, 5, None, b"y")], never)
    assert [r["value"] for r in db.dead_letters] == [b"x", b"y"]
    assert len({envelope.event_id for _, envelope, _ in announced(db)}) == 2


def test_the_event_id_is_derived_from_the_consumer_and_the_message() -> None:
    message = ConsumedMessage(LAB, 2, 9, b"k", b"v")
    same = dead_letter_event_id(CONSUMER, ConsumedMessage(LAB, 2, 9, b"other key", b"v"))
    assert dead_letter_event_id(CONSUMER, message) == same
    assert dead_letter_event_id("dose-decision", message) != same
    assert dead_letter_event_id(CONSUMER, ConsumedMessage(LAB, 2, 10, b"k", b"v")) != same
    assert dead_letter_event_id(CONSUMER, ConsumedMessage(LAB, 3, 9, b"k", b"v")) != same
    assert dead_letter_event_id(CONSUMER, ConsumedMessage(LAB, 2, 9, b"k", b"w")) != same


# --- the size of the announcement -------------------------------------------------------------


async def test_a_large_value_is_capped_in_the_event_and_kept_whole_in_the_table() -> None:
    db = Database()
    value = bytes(range(256)) * (8 * 1024)  # 2 MiB
    message = ConsumedMessage(LAB, 0, 1, b"k" * 5000, value)
    async with Uow(db) as uow:
        # the worst case for JSON: every reason character escaped as \u00XX
        await uow.dead_letters.add(message, CONSUMER, "x" * 64, "\x01" * 5000)
        await uow.commit()

    assert db.dead_letters[0]["value"] == value
    assert db.dead_letters[0]["message_key_bytes"] == b"k" * 5000
    [(_, envelope, payload)] = announced(db)
    assert payload.value_truncated is True
    assert payload.value_size == len(value)
    assert base64.b64decode(payload.value_base64) == value[:MAX_EVENT_VALUE_BYTES]
    assert payload.key_base64 is None, "a key over 1 KiB stays in the table only"
    assert payload.key == "k" * 200
    assert len(envelope.to_bytes()) < KAFKA_DEFAULT_MAX_MESSAGE_BYTES // 2


async def test_a_value_within_the_cap_is_announced_whole() -> None:
    db = Database()
    value = b"v" * MAX_EVENT_VALUE_BYTES
    async with Uow(db) as uow:
        await uow.dead_letters.add(ConsumedMessage(LAB, 0, 1, None, value), CONSUMER, "c", "r")
        await uow.commit()
    [(_, _, payload)] = announced(db)
    assert (payload.value_truncated, payload.value_size) == (False, len(value))
    assert base64.b64decode(payload.value_base64) == value


def test_an_event_written_before_the_new_fields_still_decodes() -> None:
    old = {
        "consumer": CONSUMER, "topic": LAB, "partition": 0, "offset": 3, "key": "S-1",
        "value_base64": "eA==", "reason_code": "invalid-envelope", "reason": "r",
        "failed_at": utc_now().isoformat(),
    }  # fmt: skip
    payload = MessageDeadLettered.model_validate(old)
    assert (payload.value_size, payload.value_truncated, payload.key_base64) == (
        None,
        False,
        None,
    )


# --- a failing handler's reason ---------------------------------------------------------------

HOSPITAL_NUMBER = "MRN-4711-0815"


def unique_violation_quoting_a_value() -> asyncpg.exceptions.UniqueViolationError:
    """What asyncpg raises for a duplicate key: its message and DETAIL quote the row."""
    return asyncpg.exceptions.UniqueViolationError.new({
        "S": "ERROR", "C": "23505",
        "M": f'duplicate key value violates unique constraint "x" ({HOSPITAL_NUMBER})',
        "D": f"Key (hospital_number)=({HOSPITAL_NUMBER}) already exists.",
    })  # fmt: skip


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (unique_violation_quoting_a_value(), "UniqueViolationError (SQLSTATE 23505)"),
        (ValueError(f"no such patient {HOSPITAL_NUMBER}"), "ValueError"),
    ],
)
async def test_a_failing_handler_leaves_no_text_of_its_exception_in_the_dead_letter(
    error: Exception, reason: str
) -> None:
    """Its reason is stored and published on dlq.<service>.v1: the type and SQLSTATE only."""
    assert HOSPITAL_NUMBER in str(error)

    async def failing(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        raise error

    db = Database()
    value = crp_result("S-1", 4.0).to_bytes()
    assert HOSPITAL_NUMBER.encode() not in value
    message = ConsumedMessage(LAB, 0, 9, b"S-1", value)
    batch = batch_processor(db, handlers={"LabResultRecorded": failing})
    await batch.process_until_done([message], never)

    [row] = db.dead_letters
    assert (row["reason_code"], row["reason"]) == ("handler-error", reason)
    assert not any(HOSPITAL_NUMBER in str(value) for value in row.values())
    [(_, _, payload)] = announced(db)
    assert (payload.reason_code, payload.reason) == ("handler-error", reason)
    [(_, _, _, _, published)] = db.outbox
    assert HOSPITAL_NUMBER.encode() not in published


async def test_a_poison_message_raised_by_a_handler_keeps_its_reason() -> None:
    """The code's own words, quoting no value: stored and published as written."""

    async def refusing(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
        raise PoisonMessage("result-of-another-subject", "the result belongs to another subject")

    db = Database()
    message = ConsumedMessage(LAB, 0, 9, b"S-1", crp_result("S-1", 4.0).to_bytes())
    await batch_processor(db, handlers={"LabResultRecorded": refusing}).process_until_done(
        [message], never
    )
    [row] = db.dead_letters
    assert (row["reason_code"], row["reason"]) == (
        "result-of-another-subject",
        "the result belongs to another subject",
    )
    [(_, _, payload)] = announced(db)
    assert payload.reason == "the result belongs to another subject"


# --- the writer's rows ------------------------------------------------------------------------


async def test_dead_letter_writer_stores_the_row_and_announces_it() -> None:
    db = Database()
    message = ConsumedMessage(LAB, 3, 42, b"S-1", b"\x00raw")
    async with Uow(db) as uow:
        await uow.dead_letters.add(message, CONSUMER, "invalid-envelope", "r" * 5000)
        await uow.commit()

    [row] = db.dead_letters
    assert (row["consumer"], row["topic"], row["partition"], row["offset"]) == (
        CONSUMER,
        LAB,
        3,
        42,
    )
    assert (row["message_key"], row["value"], row["reason_code"]) == (
        "S-1",
        b"\x00raw",
        "invalid-envelope",
    )
    assert len(row["reason"]) == MAX_REASON_CHARS
    [(topic, envelope, payload)] = announced(db)
    assert topic == "dlq.crp-monitor.v1"
    assert envelope.subject_id == "S-1"
    assert base64.b64decode(payload.value_base64) == b"\x00raw"
    assert (payload.partition, payload.offset, payload.reason_code) == (3, 42, "invalid-envelope")
    assert (payload.value_size, payload.value_truncated) == (4, False)


async def test_dead_letter_writer_handles_a_message_without_key_or_value() -> None:
    db = Database()
    async with Uow(db) as uow:
        await uow.dead_letters.add(ConsumedMessage(LAB, 0, 0, None, None), CONSUMER, "e", "e")
        await uow.commit()
    [row] = db.dead_letters
    assert (row["message_key"], row["message_key_bytes"], row["value"]) == (None, None, b"")
    [(_, envelope, payload)] = announced(db)
    assert envelope.subject_id is None
    assert (payload.key, payload.key_base64, payload.value_size) == (None, None, 0)


async def test_dead_letter_writer_accepts_any_kafka_key() -> None:
    db = Database()
    async with Uow(db) as uow:
        await uow.dead_letters.add(ConsumedMessage(LAB, 0, 1, b"k" * 100, b"j"), CONSUMER, "c", "x")
        await uow.commit()
    [(_, envelope, payload)] = announced(db)
    assert envelope.subject_id is None, "longer than a subject id"
    assert payload.key == "k" * 100


async def test_the_plain_form_writes_ascii_text_only_and_keeps_the_bytes() -> None:
    db = Database()
    message = ConsumedMessage(LAB, 0, 1, b"S-\xc3\xa9", b"value")
    async with Uow(db) as uow:
        await uow.dead_letters.add(message, CONSUMER, "cod\u00e9", "raison \u00e9", plain=True)
        await uow.commit()
    [row] = db.dead_letters
    assert (row["reason_code"], row["reason"]) == ("cod\\xe9", "raison \\xe9")
    assert row["message_key"] is None
    assert (row["message_key_bytes"], row["value"]) == (b"S-\xc3\xa9", b"value")
    [(_, envelope, payload)] = announced(db)
    assert envelope.subject_id is None
    assert payload.key_base64 is not None
    assert base64.b64decode(payload.key_base64) == b"S-\xc3\xa9"


def test_the_migration_keeps_the_key_bytes_and_one_row_per_message() -> None:
    sql = (PLATFORM_MIGRATIONS / "0003_dead_letter_identity.sql").read_text()
    assert "ADD COLUMN message_key_bytes bytea" in sql
    assert "CREATE UNIQUE INDEX dead_letters_message" in sql
    assert '(consumer, topic, partition, "offset", value_sha256)' in sql


@pytest.mark.parametrize("key", [b"S-1", b"S-\xc3\xa9"])
async def test_a_printable_utf8_key_is_the_subject_id(key: bytes) -> None:
    db = Database()
    async with Uow(db) as uow:
        await uow.dead_letters.add(ConsumedMessage(LAB, 0, 1, key, b"j"), CONSUMER, "c", "x")
        await uow.commit()
    [(_, envelope, _)] = announced(db)
    assert envelope.subject_id == key.decode()
