"""Apply batches of consumed events: inbox, handlers, dead letters, one transaction per batch.

Framework-agnostic: the faust agent (or any other consumer) hands over a list of
``ConsumedMessage`` and acknowledges them only after ``process_until_done`` returned.

- Every event in the batch is decoded and validated first; one that cannot be is a poison
  message and goes to the dead-letter table and topic with its reason.
- The batch runs in one transaction. If a handler raises, the transaction is rolled back and
  the batch is run again with one savepoint per event, so only the culprit is dead-lettered
  and the partition keeps flowing.
- Each dead letter is written in its own savepoint. One that cannot be stored as is (a
  database error that is not transient) is stored again in a plain form (ASCII texts, raw
  bytes); one that cannot be stored at all is logged (critical) and counted with reason
  ``dead-letter-not-stored``, and the batch goes on: the message is unprocessable anyway, it
  stays in Kafka at the logged position, and a partition blocked behind it would stop every
  later event of the trial (the process would exit, restart and fail on it forever).
- Transient infrastructure errors (``TRANSIENT_DB_ERRORS``: the storage's faults, a grant revoked
  or a table renamed by a migration too) are retried with back-off and never dead-letter anything.
- A handler's failure is dead-lettered ``handler-error`` with its type and SQLSTATE only
  (``error_kind``), never the exception's text: asyncpg's message and DETAIL quote row
  values, and the reason is stored and published on the dead-letter topic. A
  ``PoisonMessage`` keeps its code and reason: the code's own words, quoting no value.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope
from shared.contracts.registry import UnknownEventType, decode_payload
from shared.contracts.topics import TOPICS
from shared.db.pool import TRANSIENT_DB_ERRORS
from shared.db.unit_of_work import PostgresUnitOfWork
from shared.errors import error_kind
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.handling import EventHandler, PoisonMessage
from shared.metrics import ConsumerMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodedEvent:
    message: ConsumedMessage
    envelope: Envelope
    payload: EventPayload


@dataclass
class Decoded:
    events: list[DecodedEvent] = field(default_factory=list)
    poison: list[tuple[ConsumedMessage, str, str]] = field(default_factory=list)


def decode_message(message: ConsumedMessage) -> DecodedEvent:
    """Parse and validate one message; raise PoisonMessage with the reason if impossible."""
    if not message.value:
        raise PoisonMessage("empty-value", "the message has no value")
    try:
        envelope = Envelope.from_bytes(message.value)
    except ValidationError as exc:
        raise PoisonMessage("invalid-envelope", _summary(exc)) from None
    spec = TOPICS.get(message.topic)
    if spec is not None and envelope.event_type not in {p.event_type for p in spec.payloads}:
        raise PoisonMessage(
            "unknown-event-type", f"{envelope.event_type!r} is not carried by {message.topic}"
        )
    if spec is not None and spec.keyed_by_subject:
        _check_subject_key(message, envelope)
    try:
        payload = decode_payload(envelope)
    except UnknownEventType as exc:
        raise PoisonMessage("unknown-event-type", str(exc)) from None
    except ValidationError as exc:
        raise PoisonMessage("invalid-payload", _summary(exc)) from None
    return DecodedEvent(message, envelope, payload)


def _check_subject_key(message: ConsumedMessage, envelope: Envelope) -> None:
    """A topic keyed by subject carries each event under its subject's id (SPEC section 2):
    one without, or under another key, sits in a partition where its subject's other events
    are not, and would be applied out of their order."""
    if envelope.subject_id is None:
        raise PoisonMessage("missing-subject", f"{message.topic} is keyed by subject_id; none")
    if message.key != envelope.subject_id.encode():
        raise PoisonMessage("wrong-key", "the message key is not the envelope's subject_id")


def _summary(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
    return "; ".join(parts[:10])


DEAD_LETTER_NOT_STORED = "dead-letter-not-stored"


@dataclass
class Tally:
    """What one attempt did; reported to metrics only once its transaction committed."""

    poison: list[tuple[ConsumedMessage, str, str]] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    dead_lettered: list[tuple[ConsumedMessage, str]] = field(default_factory=list)
    not_stored: list[ConsumedMessage] = field(default_factory=list)

    def report(self, metrics: ConsumerMetrics, consumer: str) -> None:
        for topic in self.applied:
            metrics.count_applied(topic)
        for topic in self.duplicates:
            metrics.count_duplicate(topic)
        for message, code in self.dead_lettered:
            metrics.count_dead_letter(message.topic, code)
            log.error("message dead-lettered", extra={
                "consumer": consumer, "topic": message.topic, "partition": message.partition,
                "offset": message.offset, "reason_code": code,
            })  # fmt: skip
        for message in self.not_stored:  # logged (critical) when it failed
            metrics.count_dead_letter(message.topic, DEAD_LETTER_NOT_STORED)


class BatchProcessor:
    """Applies batches for one consumer (a service reading some topics)."""

    def __init__(
        self,
        *,
        consumer: str,
        uow_factory: Callable[[], PostgresUnitOfWork],
        handlers: Mapping[str, EventHandler],
        metrics: ConsumerMetrics,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self.consumer = consumer
        self._uow_factory = uow_factory
        self._handlers = dict(handlers)
        self._metrics = metrics
        self._max_backoff = max_backoff_seconds

    async def process_until_done(
        self, messages: Sequence[ConsumedMessage], should_stop: Callable[[], bool]
    ) -> None:
        """Apply the batch, retrying transient errors until it succeeds or we are stopping."""
        decoded = self._decode(messages)
        backoff = 0.1
        while True:
            try:
                await self._process_decoded(decoded)
                return
            except TRANSIENT_DB_ERRORS as exc:
                if should_stop():
                    raise
                self._metrics.count_retry()
                log.warning(
                    "batch failed on a transient error; retrying",
                    extra={"consumer": self.consumer, "error": type(exc).__name__},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def process(self, messages: Sequence[ConsumedMessage]) -> None:
        """Apply the batch once; transient errors propagate to the caller."""
        await self._process_decoded(self._decode(messages))

    async def _process_decoded(self, decoded: Decoded) -> None:
        started = time.perf_counter()
        try:
            tally = await self._apply(decoded, isolate=False)
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception:
            log.warning("a handler failed; re-running the batch event by event",
                        extra={"consumer": self.consumer})  # fmt: skip
            tally = await self._apply(decoded, isolate=True)
        self._metrics.time_batch(self.consumer).observe(time.perf_counter() - started)
        tally.report(self._metrics, self.consumer)

    def _decode(self, messages: Sequence[ConsumedMessage]) -> Decoded:
        decoded = Decoded()
        for message in messages:
            self._metrics.count_consumed(message.topic)
            try:
                event = decode_message(message)
            except PoisonMessage as poison:
                decoded.poison.append((message, poison.reason_code, poison.reason))
                continue
            if event.envelope.event_type in self._handlers:
                decoded.events.append(event)
        return decoded

    async def _apply(self, decoded: Decoded, *, isolate: bool) -> Tally:
        tally = Tally(poison=list(decoded.poison))
        async with self._uow_factory() as uow:
            fresh = await uow.inbox(self.consumer).claim(
                [e.envelope.event_id for e in decoded.events]
            )
            applied: set[uuid.UUID] = set()
            for event in decoded.events:
                event_id = event.envelope.event_id
                if event_id not in fresh or event_id in applied:
                    tally.duplicates.append(event.message.topic)
                    continue
                applied.add(event_id)
                handler = self._handlers[event.envelope.event_type]
                if isolate:
                    failure = await self._apply_isolated(uow, handler, event)
                    if failure is not None:
                        tally.poison.append((event.message, *failure))
                        continue
                else:
                    await handler(uow, event.envelope, event.payload)
                tally.applied.append(event.message.topic)
            for message, code, reason in tally.poison:
                await self._dead_letter(uow, tally, message, code, reason)
            await uow.commit()
        return tally

    async def _dead_letter(
        self,
        uow: PostgresUnitOfWork,
        tally: Tally,
        message: ConsumedMessage,
        code: str,
        reason: str,
    ) -> None:
        """Store one dead letter in a savepoint; never fail the batch over it (see above)."""
        errors: list[Exception] = []
        for plain in (False, True):
            if plain:
                reason = f"stored in plain form after {type(errors[0]).__name__}; {reason}"
            mark = uow.outbox.mark()
            try:
                async with uow.savepoint():
                    stored = await uow.dead_letters.add(
                        message, self.consumer, code, reason, plain=plain
                    )
            except TRANSIENT_DB_ERRORS:
                raise
            except Exception as exc:
                uow.outbox.discard_since(mark)
                errors.append(exc)
                continue
            if stored:
                tally.dead_lettered.append((message, code))
            else:
                log.info("dead letter already stored (redelivered)", extra={
                    "consumer": self.consumer, "topic": message.topic,
                    "partition": message.partition, "offset": message.offset,
                })  # fmt: skip
            return
        tally.not_stored.append(message)
        value = message.value or b""
        log.critical(
            "a dead letter could not be stored; the message is skipped and stays in Kafka "
            "at this position until retention",
            extra={
                "consumer": self.consumer, "topic": message.topic,
                "partition": message.partition, "offset": message.offset,
                "reason_code": code.encode("ascii", "backslashreplace").decode()[:64],
                "value_bytes": len(value), "value_sha256": hashlib.sha256(value).hexdigest(),
                "errors": [
                    f"{type(e).__name__}({getattr(e, 'sqlstate', None) or ''})" for e in errors
                ],
            },
        )  # fmt: skip

    async def _apply_isolated(
        self, uow: PostgresUnitOfWork, handler: EventHandler, event: DecodedEvent
    ) -> tuple[str, str] | None:
        mark = uow.outbox.mark()
        try:
            async with uow.savepoint():
                await handler(uow, event.envelope, event.payload)
                await uow.flush()  # buffered writes fail here, inside the savepoint
        except TRANSIENT_DB_ERRORS:
            raise
        except PoisonMessage as poison:
            uow.outbox.discard_since(mark)
            return poison.reason_code, poison.reason
        except Exception as exc:
            uow.outbox.discard_since(mark)
            return "handler-error", error_kind(exc)  # never its text: it can quote values
        return None
