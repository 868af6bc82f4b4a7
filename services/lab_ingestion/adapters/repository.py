"""asyncpg repository of lab-ingestion; every call works on a whole batch of messages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.lab_ingestion.domain.records import MessageRecord, RejectionRecord, ResultRecord

SourceKey = tuple[str, str]


class LabRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def allowed_sources(self) -> set[SourceKey]:
        rows = await self._conn.fetch("SELECT application, facility FROM sources")
        return {(r["application"], r["facility"]) for r in rows}

    async def known_messages(self, keys: Sequence[SourceKey]) -> set[SourceKey]:
        """Which (source, control id) pairs were stored before."""
        if not keys:
            return set()
        rows = await self._conn.fetch(
            """SELECT source, control_id FROM messages
               WHERE (source, control_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))""",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        return {(r["source"], r["control_id"]) for r in rows}

    async def subjects_by_hmac(self, hmacs: Sequence[str]) -> dict[str, str]:
        if not hmacs:
            return {}
        rows = await self._conn.fetch(
            """SELECT hospital_id_hmac, subject_id FROM enrolled_subjects
               WHERE hospital_id_hmac = ANY($1::text[]) AND withdrawn_at IS NULL""",
            list(set(hmacs)),
        )
        return {r["hospital_id_hmac"]: r["subject_id"] for r in rows}

    async def latest_results(self, keys: Sequence[SourceKey]) -> dict[SourceKey, uuid.UUID]:
        """The newest standing result per (source, result key)."""
        if not keys:
            return {}
        rows = await self._conn.fetch(
            """SELECT DISTINCT ON (source, result_key) source, result_key, result_id
               FROM results
               WHERE (source, result_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                 AND cancelled_at IS NULL
               ORDER BY source, result_key, recorded_at DESC""",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        return {(r["source"], r["result_key"]): r["result_id"] for r in rows}

    async def add_messages(self, records: Sequence[MessageRecord]) -> None:
        if not records:
            return
        await self._conn.executemany(
            """INSERT INTO messages (message_id, source, control_id, channel, outcome,
                                     subject_id, result_count, received_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            [
                (m.message_id, m.source, m.control_id, m.channel, m.outcome, m.subject_id,
                 m.result_count, m.received_at)
                for m in records
            ],
        )  # fmt: skip

    async def add_results(self, records: Sequence[ResultRecord]) -> None:
        if not records:
            return
        await self._conn.executemany(
            """INSERT INTO results (result_id, message_id, subject_id, source, result_key,
                   analyte, loinc, value, unit, original_value, original_unit, reference_low,
                   reference_high, abnormal_flag, status, collected_at, reported_at,
                   supersedes_result_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                       $17, $18)""",
            [
                (r.result_id, r.message_id, r.subject_id, r.source, r.result_key,
                 r.result.analyte.value, r.result.loinc, r.result.value, r.result.unit,
                 r.result.original_value, r.result.original_unit, r.result.reference_low,
                 r.result.reference_high, r.result.abnormal_flag, r.status, r.collected_at,
                 r.reported_at, r.supersedes_result_id)
                for r in records
            ],
        )  # fmt: skip

    async def cancel_results(self, result_ids: Sequence[uuid.UUID], at: datetime) -> None:
        if result_ids:
            await self._conn.execute(
                "UPDATE results SET cancelled_at = $2 WHERE result_id = ANY($1::uuid[])",
                list(result_ids),
                at,
            )

    async def add_rejections(self, records: Sequence[RejectionRecord]) -> None:
        if not records:
            return
        await self._conn.executemany(
            """INSERT INTO rejections (rejection_id, channel, source, control_id, reason_code,
                                       reason, payload, received_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            [
                (r.rejection_id, r.channel, r.source, r.control_id, r.code.value, r.reason,
                 r.payload, r.received_at)
                for r in records
            ],
        )  # fmt: skip


async def add_source(conn: asyncpg.Connection, application: str, facility: str) -> bool:
    status = await conn.execute(
        "INSERT INTO lab_ingestion.sources (application, facility) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        application,
        facility,
    )
    return bool(status.endswith(" 1"))
