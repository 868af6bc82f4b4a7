"""The HL7 sender allow-list as operators manage it (``cachexia source add | list | remove``).

The service reads the list every couple of seconds (``LabRepository.allowed_sources``), so a
change here reaches a running service without a restart.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.lab_ingestion.domain.allow_list import AllowedSender, Cleared
from services.lab_ingestion.domain.model import authority_name
from services.lab_ingestion.domain.records import Sender


async def add_source(
    conn: asyncpg.Connection,
    application: str,
    facility: str,
    *,
    time_zone: str | None = None,
    site_id: str | None = None,
    identifier_authority: str | Sequence[str] | None = None,
    cleared: Cleared | None = None,
) -> bool:
    """Allow a sender (True if it is new); a time zone, site or identifier authority given
    replaces the one kept, one ``cleared`` is forgotten, any other is kept. The identifier
    authority: its name, or its names (one authority's, the first first: migration 0021)."""
    cleared = cleared or Cleared()
    names = authority_names(identifier_authority)
    added = await conn.fetchval(
        """INSERT INTO lab_ingestion.sources (application, facility, time_zone, site_id,
                                              identifier_authority, identifier_authority_names)
           VALUES ($1, $2, $3, $4, $5, $9::text[])
           ON CONFLICT (application, facility) DO UPDATE
              SET time_zone = CASE WHEN $6 THEN NULL
                                   ELSE coalesce(EXCLUDED.time_zone, sources.time_zone) END,
                  site_id = CASE WHEN $7 THEN NULL
                                 ELSE coalesce(EXCLUDED.site_id, sources.site_id) END,
                  identifier_authority =
                      CASE WHEN $8 THEN NULL
                           ELSE coalesce(EXCLUDED.identifier_authority,
                                         sources.identifier_authority) END,
                  identifier_authority_names =
                      CASE WHEN $8 THEN '{}'
                           WHEN EXCLUDED.identifier_authority IS NOT NULL
                           THEN EXCLUDED.identifier_authority_names
                           ELSE sources.identifier_authority_names END
           RETURNING xmax = 0""",
        application, facility, time_zone, site_id, names[0] if names else None,
        cleared.time_zone, cleared.site_id, cleared.identifier_authority, list(names),
    )  # fmt: skip
    return bool(added)


def authority_names(given: str | Sequence[str] | None) -> tuple[str, ...]:
    """The names given, stripped, in order: blank ones and a name given again (without case
    or ``urn:oid:``, as matched) left out."""
    names = (given,) if isinstance(given, str) else tuple(given or ())
    kept: dict[str, str] = {}
    for name in (n.strip() for n in names):
        if name:
            kept.setdefault(authority_name(name) or name, name)
    return tuple(kept.values())


async def list_sources(conn: asyncpg.Connection) -> list[AllowedSender]:
    rows = await conn.fetch(
        """SELECT application, facility, time_zone, site_id, identifier_authority,
                  identifier_authority_names, added_at
             FROM lab_ingestion.sources
            ORDER BY application, facility"""
    )
    return [
        AllowedSender(r["application"], r["facility"], sender_of(r), r["added_at"]) for r in rows
    ]


async def sender_settings(
    conn: asyncpg.Connection, application: str, facility: str
) -> Sender | None:
    """The sender's settings as kept; None when it is not allowed."""
    row = await conn.fetchrow(
        """SELECT time_zone, site_id, identifier_authority, identifier_authority_names
             FROM lab_ingestion.sources
            WHERE application = $1 AND facility = $2""",
        application, facility,
    )  # fmt: skip
    return None if row is None else sender_of(row)


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


def sender_of(row: asyncpg.Record) -> Sender:
    """A ``sources`` row's settings. The authority's names (migration 0021) count only while
    their first is ``identifier_authority``: a previous version's ``source add`` that has
    since replaced the authority (or forgot it) wrote that column alone, and its one name
    (or none) is the sender's, never mixed with names given for another."""
    first = row["identifier_authority"]
    names = tuple(row["identifier_authority_names"] or ())
    others = names[1:] if first is not None and names[:1] == (first,) else ()
    return Sender(row["time_zone"], row["site_id"], first, others)
