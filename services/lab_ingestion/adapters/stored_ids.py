"""Senders' ids stored as keyed hashes: an accepted message's control id (MSH-10, a JSON
``message_id``, a FHIR Observation version's id) and its results' keys (order numbers,
result ids) are kept in lab-ingestion's tables only as an HMAC of what the message says.

Laboratory systems build such ids from whatever they hold: the patient's name, birth date,
visit or account number. Masking those with each message's own PID and PV1 cannot work: an
order number is fixed when the test is ordered, while the name's spelling or the visit
number may change before its correction, which then no longer finds its result. A keyed
hash of the id as written is the same every time the lab sends it, reveals nothing of it
without the key, and cannot be guessed from a list of likely names and dates by whoever
reads the database. Ids are only ever compared, never shown: rejections keep their own
(redacted) copy of what was sent, and no event carries an accepted message's ids.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

import asyncpg

STORED_ID_PREFIX = "#"
_TOKEN_HEX = 32  # 128 bits: no two ids of a deployment share a token
_PURPOSE = b"lab-ingestion stored ids v1"
# one hashing of the rows stored before migration 0019 at a time, whoever starts it
_HASHING_LOCK = (0x4C41, 0x4944)
_CHUNK = 5000

StoredId = Callable[[str], str]
# what a result key known only as stored is written behind while a batch plans under it (a
# FHIR result named by an identifier stored with it, ``result_identifiers``): the stored
# form is then taken as it is, never hashed again. A NUL no id a sender wrote starts with.
RESOLVED = "\x00stored:"
_STORED = re.compile(r"#[0-9a-f]{32}")


def resolved_key(stored_key: str) -> str:
    """The key of a result known by its stored form alone, as a batch plans under it."""
    return RESOLVED + stored_key


def stored_id_hasher(subject_key: bytes) -> StoredId:
    """The function that turns an id as the message says it into what is stored: ``#`` and
    32 hex digits of an HMAC-SHA256 under a key derived from the subject key (the
    patients' hashes, under the same key, never equal an id's)."""
    key = hmac.digest(subject_key, _PURPOSE, hashlib.sha256)

    def stored(text: str) -> str:
        if text.startswith(RESOLVED) and _STORED.fullmatch(text[len(RESOLVED) :]):
            return text[len(RESOLVED) :]  # a key read as stored (``resolved_key``)
        # surrogatepass: a JSON id may hold a lone surrogate ("\ud800"); it is still an id
        digest = hmac.digest(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return STORED_ID_PREFIX + digest.hex()[:_TOKEN_HEX]

    return stored


async def hash_ids_stored_as_written(conn: asyncpg.Connection, stored: StoredId) -> int:
    """Hash the control ids and result keys that an earlier version stored as written, then
    validate migration 0019's constraints (which refuse them in new rows), and claim the
    results' keys (migration 0022 claimed only keys already hashed); once, in one
    transaction, whoever calls it first (the service at its start, ``cachexia rejection
    replay``, ``cachexia message show``). Returns the rows changed; with both constraints
    validated it reads nothing else."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *_HASHING_LOCK)
        changed = 0
        for table, column, constraint in await conn.fetch(_NOT_VALIDATED):
            changed += await _rewrite(conn, table, column, stored)
            await conn.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}")
            if table == "results":  # its keys, hashed, claim their first write (0022)
                await conn.execute(_CLAIM_STORED_KEYS)
        return changed


_CLAIM_STORED_KEYS = """INSERT INTO result_key_claims (source, result_key)
                        SELECT DISTINCT source, result_key FROM results
                        ON CONFLICT DO NOTHING"""


# migration 0019's constraints not validated yet, with the table and column each checks
_NOT_VALIDATED = """
SELECT t.table_name, t.column_name, t.constraint_name
  FROM (VALUES ('messages', 'control_id', 'messages_control_id_hashed'),
               ('results', 'result_key', 'results_result_key_hashed'))
       AS t(table_name, column_name, constraint_name)
  JOIN pg_constraint c ON c.conname = t.constraint_name
                      AND c.conrelid = t.table_name::regclass
 WHERE NOT c.convalidated
 ORDER BY t.table_name
"""
STORED_FORM = "^#[0-9a-f]{32}$"  # what migration 0019's constraints take


async def _rewrite(conn: asyncpg.Connection, table: str, column: str, stored: StoredId) -> int:
    """Rewrite ``table``'s ``column`` where it is not hashed, in chunks (a cursor reads the
    values as they were when it opened: PostgreSQL's cursors do not see the transaction's
    later changes)."""
    changed = 0
    chunk: list[str] = []
    select = f"SELECT DISTINCT {column} FROM {table} WHERE {column} !~ $1"  # noqa: S608 - fixed names
    update = f"""UPDATE {table} SET {column} = t.stored
                   FROM unnest($1::text[], $2::text[]) AS t(written, stored)
                  WHERE {column} = t.written"""  # noqa: S608 - fixed names only
    async for row in conn.cursor(select, STORED_FORM, prefetch=_CHUNK):
        chunk.append(row[0])
        if len(chunk) == _CHUNK:
            changed += await _update(conn, update, chunk, stored)
            chunk = []
    return changed + await _update(conn, update, chunk, stored)


async def _update(
    conn: asyncpg.Connection, update: str, written: list[str], stored: StoredId
) -> int:
    if not written:
        return 0
    status = await conn.execute(update, written, [stored(text) for text in written])
    return int(status.rsplit(" ", 1)[1])  # "UPDATE n"
