"""An accepted message as stored, found by the id its sender gave it (``cachexia message
show``): ids are stored as keyed hashes (stored_ids.py), so this is the way to answer a
laboratory that asks whether a message arrived and what became of its results."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.lab_ingestion.adapters.stored_ids import StoredId


@dataclass(frozen=True)
class StoredResult:
    result_id: uuid.UUID
    analyte: str
    status: str
    value: float | None
    unit: str | None
    collected_at: datetime
    supersedes_result_id: uuid.UUID | None
    cancelled_at: datetime | None
    laboratory_comment: bool = False  # the lab commented on it (its text is not stored)
    comparator: str | None = None  # set: the value is a limit (``<``: below it)
    # the message whose cancellation withdrew it (None: standing, or withdrawn before
    # migration 0030 or by hand: which message did is not known)
    cancelled_by: uuid.UUID | None = None


@dataclass(frozen=True)
class WithdrawnResult:
    """A result a message's cancellation withdrew, and the message that had stored it;
    ``result_key`` as stored (its keyed hash, never shown) tells the chains withdrawn apart."""

    result_id: uuid.UUID
    analyte: str
    status: str
    message_id: uuid.UUID
    result_key: str


@dataclass(frozen=True)
class StoredMessage:
    message_id: uuid.UUID
    source: str
    channel: str
    outcome: str
    subject_id: str | None
    received_at: datetime
    results: tuple[StoredResult, ...]
    # how many of its trial results asked to withdraw one (X, D, W), whether or not they
    # found anything (None: stored before migration 0030, not counted), and what they withdrew
    cancellations: int | None = None
    withdrew: tuple[WithdrawnResult, ...] = ()


async def find_message(
    conn: asyncpg.Connection, stored_id: StoredId, source: str, control_id: str
) -> StoredMessage | None:
    """The message ``source`` sent under ``control_id`` (as the message wrote it), with the
    results stored from it and those its cancellations withdrew; None if no such message was
    stored."""
    row = await conn.fetchrow(_MESSAGE, source, stored_id(control_id))
    if row is None:
        return None
    results = await conn.fetch(_RESULTS, row["message_id"])
    withdrew = await conn.fetch(_WITHDREW, row["message_id"])
    return StoredMessage(
        row["message_id"], row["source"], row["channel"], row["outcome"], row["subject_id"],
        row["received_at"], tuple(StoredResult(*r) for r in results), row["cancellations"],
        tuple(WithdrawnResult(*r) for r in withdrew),
    )  # fmt: skip


_MESSAGE = """
SELECT message_id, source, channel, outcome, subject_id, received_at, cancellations
  FROM messages WHERE source = $1 AND control_id = $2
"""
_RESULTS = """
SELECT result_id, analyte, status, value, unit, collected_at, supersedes_result_id,
       cancelled_at, laboratory_comment, comparator, cancelled_by_message
  FROM results WHERE message_id = $1 ORDER BY recorded_at
"""
# what the message withdrew (migration 0030's index)
_WITHDREW = """
SELECT result_id, analyte, status, message_id, result_key FROM results
 WHERE cancelled_by_message = $1 ORDER BY recorded_at
"""
