"""Senders' local test codes mapped to LOINC (``lab_ingestion.local_codes``, migration 0025):
the statements ``cachexia source code`` runs, the read the running service refreshes its
table with (``local_code_cache``), and the mappings' changes a trigger records (migration
0026). Nothing here commits: the caller's transaction does."""

from __future__ import annotations

import asyncpg

from services.lab_ingestion.domain.local_codes import (
    KeptLocalCode,
    LocalCode,
    LocalCodeChange,
    LocalCodeTable,
)


async def read_local_code_table(conn: asyncpg.Connection) -> LocalCodeTable:
    """Every sender's mappings, as one table."""
    rows = await conn.fetch(
        "SELECT application, facility, system, code, loinc FROM lab_ingestion.local_codes"
    )
    return LocalCodeTable(_mapping(row) for row in rows)


async def add_local_code(conn: asyncpg.Connection, mapping: LocalCode) -> str | None:
    """Keep the mapping if the sender's code is not mapped; the LOINC code it is mapped to
    already (left as it is, whatever ``mapping`` says), None if it was not and now is. A
    mapping is never changed here: a concurrent add of the same code waits for the other's
    insert, then reads what it kept. The sender must be allowed (a foreign key:
    asyncpg.ForeignKeyViolationError otherwise)."""
    for _ in range(3):  # a kept row removed between the two statements: insert again
        inserted = await conn.fetchval(
            """INSERT INTO lab_ingestion.local_codes (application, facility, system, code, loinc)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (application, facility, system, code) DO NOTHING
               RETURNING true""",
            mapping.application, mapping.facility, mapping.system, mapping.code, mapping.loinc,
        )  # fmt: skip
        if inserted:
            return None
        kept = await conn.fetchval(
            """SELECT loinc FROM lab_ingestion.local_codes
                WHERE application = $1 AND facility = $2 AND system = $3 AND code = $4
                  FOR UPDATE""",
            mapping.application, mapping.facility, mapping.system, mapping.code,
        )  # fmt: skip
        if kept is not None:
            return str(kept)
    raise RuntimeError("the local code's mapping changed three times while it was added")


async def remove_local_code(
    conn: asyncpg.Connection, application: str, facility: str, system: str, code: str
) -> LocalCode | None:
    """Forget a mapping; the one removed, None if there was none."""
    row = await conn.fetchrow(
        """DELETE FROM lab_ingestion.local_codes
            WHERE application = $1 AND facility = $2 AND system = $3 AND code = $4
        RETURNING application, facility, system, code, loinc""",
        application, facility, system, code,
    )  # fmt: skip
    return _mapping(row) if row else None


async def list_local_codes(
    conn: asyncpg.Connection, application: str | None = None, facility: str | None = None
) -> list[KeptLocalCode]:
    """The mappings (of one sender when both are given), by sender, system and code."""
    rows = await conn.fetch(
        """SELECT application, facility, system, code, loinc, added_at
             FROM lab_ingestion.local_codes
             WHERE ($1::text IS NULL OR application = $1)
               AND ($2::text IS NULL OR facility = $2)
             ORDER BY application, facility, system, code""",
        application, facility,
    )  # fmt: skip
    return [KeptLocalCode(_mapping(row), row["added_at"]) for row in rows]


async def list_local_code_changes(
    conn: asyncpg.Connection, application: str | None = None, facility: str | None = None
) -> list[LocalCodeChange]:
    """The mappings' changes (of the application, the facility, when given), oldest first: a
    mapping kept before migration 0026 is there as of when it was last set."""
    rows = await conn.fetch(
        """SELECT application, facility, system, code, loinc, changed_at
             FROM lab_ingestion.local_code_changes
             WHERE ($1::text IS NULL OR application = $1)
               AND ($2::text IS NULL OR facility = $2)
             ORDER BY changed_at, change_id""",
        application, facility,
    )  # fmt: skip
    return [_change(row) for row in rows]


async def count_local_codes(conn: asyncpg.Connection, application: str, facility: str) -> int:
    """How many codes the sender has mapped."""
    count = await conn.fetchval(
        "SELECT count(*) FROM lab_ingestion.local_codes WHERE application = $1 AND facility = $2",
        application, facility,
    )  # fmt: skip
    return int(count)


def _mapping(row: asyncpg.Record) -> LocalCode:
    return LocalCode(row["application"], row["facility"], row["system"], row["code"], row["loinc"])


def _change(row: asyncpg.Record) -> LocalCodeChange:
    return LocalCodeChange(
        row["application"], row["facility"], row["system"], row["code"], row["loinc"],
        row["changed_at"],
    )  # fmt: skip
