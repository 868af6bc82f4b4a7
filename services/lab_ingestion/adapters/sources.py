"""The HL7 sender allow-list as operators manage it (``cachexia source add | list | remove``).

The service reads the list every couple of seconds (``LabRepository.allowed_sources``), so a
change here reaches a running service without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.lab_ingestion.domain.records import Sender


@dataclass(frozen=True)
class AllowedSender:
    application: str  # MSH-3
    facility: str  # MSH-4
    settings: Sender
    added_at: datetime


@dataclass(frozen=True)
class Cleared:
    """Settings to forget (their defaults apply again)."""

    time_zone: bool = False
    site_id: bool = False
    identifier_authority: bool = False


async def add_source(
    conn: asyncpg.Connection,
    application: str,
    facility: str,
    *,
    time_zone: str | None = None,
    site_id: str | None = None,
    identifier_authority: str | None = None,
    cleared: Cleared | None = None,
) -> bool:
    """Allow a sender (True if it is new); a time zone, site or identifier authority given
    replaces the one kept, one ``cleared`` is forgotten, any other is kept."""
    cleared = cleared or Cleared()
    added = await conn.fetchval(
        """INSERT INTO lab_ingestion.sources
                  (application, facility, time_zone, site_id, identifier_authority)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (application, facility) DO UPDATE
              SET time_zone = CASE WHEN $6 THEN NULL
                                   ELSE coalesce(EXCLUDED.time_zone, sources.time_zone) END,
                  site_id = CASE WHEN $7 THEN NULL
                                 ELSE coalesce(EXCLUDED.site_id, sources.site_id) END,
                  identifier_authority =
                      CASE WHEN $8 THEN NULL
                           ELSE coalesce(EXCLUDED.identifier_authority,
                                         sources.identifier_authority) END
           RETURNING xmax = 0""",
        application, facility, time_zone, site_id, identifier_authority,
        cleared.time_zone, cleared.site_id, cleared.identifier_authority,
    )  # fmt: skip
    return bool(added)


async def list_sources(conn: asyncpg.Connection) -> list[AllowedSender]:
    rows = await conn.fetch(
        """SELECT application, facility, time_zone, site_id, identifier_authority, added_at
             FROM lab_ingestion.sources
            ORDER BY application, facility"""
    )
    return [AllowedSender(r["application"], r["facility"], _sender(r), r["added_at"]) for r in rows]


async def sender_settings(
    conn: asyncpg.Connection, application: str, facility: str
) -> Sender | None:
    """The sender's settings as kept; None when it is not allowed."""
    row = await conn.fetchrow(
        """SELECT time_zone, site_id, identifier_authority FROM lab_ingestion.sources
            WHERE application = $1 AND facility = $2""",
        application, facility,
    )  # fmt: skip
    return None if row is None else _sender(row)


async def remove_source(conn: asyncpg.Connection, application: str, facility: str) -> bool:
    """Take a sender off the allow-list (False if it was not on it): its messages are then
    refused (AR, unknown source) and kept as rejections; what it sent before stays."""
    removed = await conn.fetchval(
        """DELETE FROM lab_ingestion.sources WHERE application = $1 AND facility = $2
           RETURNING true""",
        application, facility,
    )  # fmt: skip
    return bool(removed)


async def allowed_senders(conn: asyncpg.Connection) -> set[tuple[str, str]]:
    """Every sender on the allow-list, as (application, facility)."""
    rows = await conn.fetch("SELECT application, facility FROM lab_ingestion.sources")
    return {(r["application"], r["facility"]) for r in rows}


async def enrolled_sites(conn: asyncpg.Connection) -> set[str]:
    """The sites that have subjects in lab-ingestion's copy of the subject directory."""
    rows = await conn.fetch("SELECT DISTINCT site_id FROM lab_ingestion.enrolled_subjects")
    return {r["site_id"] for r in rows}


def _sender(row: asyncpg.Record) -> Sender:
    return Sender(row["time_zone"], row["site_id"], row["identifier_authority"])
