"""asyncpg repository of CRP series; rows become domain objects here. What a write reports
is judged by the domain (``domain.stored_results``), not here."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg

from services.crp_monitor.domain.model import CrpCancellation, CrpMeasurement, PendingCancellations
from services.crp_monitor.domain.stored_results import StoredKind, StoredRow
from shared.contracts.events.lab import Comparator

# Results are stored already cancelled when a cancellation of theirs is pending (same result
# and subject); the pending cancellations of every result stored are then released, each
# reported as applied or, when it named another subject, as not applied.
# A result under the id of one stored, or earlier in this statement, under another subject
# (a producer re-using ids) is not stored ("taken"), nor is one of the same subject whose
# content (value, comparator, collection time, status, result superseded) differs
# ("reused"; "5" then "<5" under one id differ: a limit is no measurement): the one
# stored first stands, the later one is reported (and dead-lettered: the domain refuses it),
# never dropped by ON CONFLICT unseen. Its id is not kept as refused: it is the stored
# result's id. The same result again (a redelivery under a new event id), compared as stored
# (float8, timestamptz; two NULL comparators, both measured, are the same; cancelled_at is
# no content: a result stored cancelled is the same result), is a duplicate, left to ON
# CONFLICT.
# A correction naming a result stored, or in this statement, under another subject is not
# stored ("refused") and reported; nor is one naming a result refused that way (kept in
# crp_refused_results, or refused earlier in this batch: $9), which carries the other
# patient's value on. The batch is then run again event by event, so only that event is
# dead-lettered, and one read before its result in the same batch is stored as it would be
# alone. Corrections stored earlier under another subject that name a result stored now are
# reported: they stand in no series (``for_subject`` marks them).
# Results are inserted in the order given ($1's), which is the order their events were read:
# received_seq numbers them so, and of one sample's values the later received is the later
# point of the series.
_STORE_RESULTS = """
WITH incoming (result_id, subject_id, value_mg_l, comparator, collected_at, status,
               supersedes_result_id, source_event_id, seq) AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::text[], $5::timestamptz[],
                         $6::text[], $7::uuid[], $8::uuid[]) WITH ORDINALITY
), taken AS (
    SELECT seq, kind FROM (
        -- a scalar subquery: one primary-key probe per row, where a join would let the
        -- planner hash the whole table; OFFSET 0 keeps the filter below from probing again
        SELECT i.seq, (SELECT CASE
                                  WHEN r.subject_id <> i.subject_id THEN 'taken'
                                  WHEN (r.value_mg_l, r.comparator, r.collected_at,
                                        r.status, r.supersedes_result_id)
                                       IS DISTINCT FROM (i.value_mg_l, i.comparator,
                                                         i.collected_at, i.status,
                                                         i.supersedes_result_id)
                                  THEN 'reused'
                              END
                       FROM crp_results r WHERE r.result_id = i.result_id) AS kind
        FROM incoming i OFFSET 0
    ) probed WHERE kind IS NOT NULL
    UNION
    SELECT i.seq, CASE WHEN o.subject_id <> i.subject_id THEN 'taken' ELSE 'reused' END
    FROM incoming i JOIN incoming o ON o.result_id = i.result_id
    WHERE o.seq < i.seq
      AND (o.subject_id, o.value_mg_l, o.comparator, o.collected_at, o.status,
           o.supersedes_result_id)
          IS DISTINCT FROM (i.subject_id, i.value_mg_l, i.comparator, i.collected_at,
                            i.status, i.supersedes_result_id)
), refused AS (
    -- as in taken (none without supersedes_result_id)
    SELECT i.seq FROM incoming i
    WHERE (SELECT r.subject_id FROM crp_results r
           WHERE r.result_id = i.supersedes_result_id) <> i.subject_id
    UNION
    SELECT i.seq FROM incoming i JOIN incoming o ON o.result_id = i.supersedes_result_id
    WHERE o.subject_id <> i.subject_id
    UNION
    SELECT i.seq FROM incoming i
    WHERE i.supersedes_result_id = ANY($9::uuid[])
       OR EXISTS (SELECT 1 FROM crp_refused_results f WHERE f.result_id = i.supersedes_result_id)
    EXCEPT  -- (applies to the whole union) a taken id is the stored result's: never kept
    SELECT seq FROM taken
), stored AS (
    INSERT INTO crp_results (result_id, subject_id, value_mg_l, comparator, collected_at,
                             status, supersedes_result_id, source_event_id, cancelled_at)
    SELECT i.result_id, i.subject_id, i.value_mg_l, i.comparator, i.collected_at, i.status,
           i.supersedes_result_id, i.source_event_id, p.cancelled_at
    FROM incoming i
    LEFT JOIN crp_pending_cancellations p
           ON p.result_id = i.result_id AND p.subject_id = i.subject_id
    WHERE i.seq NOT IN (SELECT seq FROM refused UNION SELECT seq FROM taken)
    -- received_seq (identity) is drawn row by row as they come out of this ordered SELECT:
    -- in the order the events were read, whatever order the join gave
    ORDER BY i.seq
    ON CONFLICT (result_id) DO NOTHING
    RETURNING result_id, subject_id
), released AS (
    DELETE FROM crp_pending_cancellations p USING stored s
    WHERE p.result_id = s.result_id
    RETURNING p.result_id, p.subject_id, p.source_event_id, p.subject_id = s.subject_id AS applied
)
SELECT 'released' AS kind, result_id, subject_id, source_event_id, applied,
       NULL::uuid AS corrected_result_id, NULL::text AS corrected_subject_id
FROM released
UNION ALL
SELECT 'refused', result_id, subject_id, source_event_id, NULL, supersedes_result_id, NULL
FROM incoming WHERE seq IN (SELECT seq FROM refused)
UNION ALL
SELECT t.kind, i.result_id, i.subject_id, i.source_event_id, NULL, NULL, NULL
FROM incoming i JOIN taken t ON t.seq = i.seq
UNION ALL
SELECT 'correction-of-another-subject', c.result_id, c.subject_id, c.source_event_id, NULL,
       s.result_id, s.subject_id
FROM stored s CROSS JOIN LATERAL (
    -- OFFSET 0 keeps this a probe of the index per stored result, not a scan of every
    -- correction ever stored (a merge join)
    SELECT c.result_id, c.subject_id, c.source_event_id FROM crp_results c
    WHERE c.supersedes_result_id = s.result_id AND c.subject_id <> s.subject_id OFFSET 0
) c
"""


class CrpSeriesRepository:
    """Adds are buffered and written in one statement when the unit of work flushes, in the
    order added (the handlers add them in the order their events were read); what the
    statement reports is handed back as it is (``StoredRow``)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._pending: list[tuple[CrpMeasurement, uuid.UUID]] = []
        # refused in this unit of work: (result, subject, event), kept by ``keep_refused``
        self._refused: dict[uuid.UUID, tuple[str, uuid.UUID]] = {}

    async def add(self, measurement: CrpMeasurement, source_event_id: uuid.UUID) -> None:
        self._pending.append((measurement, source_event_id))

    async def flush(self) -> list[StoredRow]:
        """Write the buffered results in one statement and report, a row each, the results
        it refused (another subject's result id, its subject's stored result's id with other
        content, a correction naming another subject's result), the kept cancellations it
        released and the corrections of another subject's result it found. The caller judges
        the report, and rolls back on a refusal."""
        if not self._pending:
            return []
        pending, self._pending = self._pending, []
        rows = await self._conn.fetch(
            _STORE_RESULTS,
            [m.result_id for m, _ in pending],
            [m.subject_id for m, _ in pending],
            [m.value_mg_l for m, _ in pending],
            [None if m.comparator is None else m.comparator.value for m, _ in pending],
            [m.collected_at for m, _ in pending],
            [m.status for m, _ in pending],
            [m.supersedes_result_id for m, _ in pending],
            [event_id for _, event_id in pending],
            list(self._refused),
        )
        return [_stored(row) for row in rows]

    def remember_refused(self, refused: Iterable[StoredRow]) -> None:
        """Corrections refused as naming another subject's result (their events are
        dead-lettered in this unit of work): ``keep_refused`` keeps them, and the next flush
        refuses corrections of them (a batch run event by event refuses one per flush)."""
        self._refused.update(
            (row.result_id, (row.subject_id, row.source_event_id)) for row in refused
        )

    async def keep_refused(self) -> list[StoredRow]:
        """Keep the ids of the corrections refused in this unit of work: corrections of them
        are refused in later batches too, and one stored earlier stands in no series. A
        cancellation of one, kept because it was read first, waits for a result that never
        comes: released (reported with ``applied`` None: nothing to apply)."""
        if not self._refused:
            return []
        refused, self._refused = self._refused, {}
        released = await self._conn.fetch(
            """WITH kept AS (
                   INSERT INTO crp_refused_results (result_id, subject_id, source_event_id)
                   SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[])
                   ON CONFLICT (result_id) DO NOTHING
               )
               DELETE FROM crp_pending_cancellations WHERE result_id = ANY($1::uuid[])
               RETURNING result_id, subject_id, source_event_id""",
            list(refused),
            [subject_id for subject_id, _ in refused.values()],
            [event_id for _, event_id in refused.values()],
        )
        return [
            StoredRow(
                StoredKind.RELEASED, row["result_id"], row["subject_id"], row["source_event_id"]
            )
            for row in released
        ]

    async def was_refused(self, result_id: uuid.UUID) -> bool:
        """True for a correction refused as naming another subject's result."""
        if result_id in self._refused:
            return True
        found = await self._conn.fetchval(
            "SELECT 1 FROM crp_refused_results WHERE result_id = $1", result_id
        )
        return found is not None

    async def cancel(self, cancellation: CrpCancellation) -> bool:
        """Cancel the subject's stored result; False if there is none not cancelled yet. The
        result may be among the buffered ones: the caller flushes first."""
        if self._pending:
            raise RuntimeError("results are buffered: flush before cancelling")
        status = await self._conn.execute(
            """UPDATE crp_results SET cancelled_at = $3
               WHERE result_id = $1 AND subject_id = $2 AND cancelled_at IS NULL""",
            cancellation.result_id,
            cancellation.subject_id,
            cancellation.cancelled_at,
        )
        return bool(status.endswith(" 1"))

    async def subject_of(self, result_id: uuid.UUID) -> str | None:
        """The subject of a stored result (None: not stored)."""
        subject_id: str | None = await self._conn.fetchval(
            "SELECT subject_id FROM crp_results WHERE result_id = $1", result_id
        )
        return subject_id

    async def keep_pending(self, cancellation: CrpCancellation) -> None:
        """Keep a cancellation until its result is stored (``flush`` applies it)."""
        await self._conn.execute(
            """INSERT INTO crp_pending_cancellations
                   (result_id, subject_id, cancelled_at, source_event_id)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (result_id, subject_id) DO NOTHING""",
            cancellation.result_id,
            cancellation.subject_id,
            cancellation.cancelled_at,
            cancellation.event_id,
        )

    async def for_subject(self, subject_id: str) -> list[CrpMeasurement]:
        rows = await self._conn.fetch(
            """SELECT result_id, subject_id, value_mg_l, comparator, collected_at, status,
                      supersedes_result_id, cancelled_at IS NOT NULL AS cancelled, received_seq,
                      EXISTS (SELECT 1 FROM crp_results o
                              WHERE o.result_id = r.supersedes_result_id
                                AND o.subject_id <> r.subject_id)
                      -- stored before the correction it names was refused
                      OR EXISTS (SELECT 1 FROM crp_refused_results f
                                 WHERE f.result_id = r.supersedes_result_id)
                      AS corrects_another_subject
               FROM crp_results r
               -- of one collection time, as received (the domain orders them so too)
               WHERE r.subject_id = $1 ORDER BY r.collected_at, r.received_seq""",
            subject_id,
        )
        return [_measurement(row) for row in rows]


async def pending_cancellations(conn: asyncpg.Connection) -> PendingCancellations:
    """How many cancellations wait for their result, and since when the oldest has."""
    row = await conn.fetchrow(
        "SELECT count(*) AS count, min(received_at) AS oldest FROM crp_pending_cancellations"
    )
    assert row is not None  # an aggregate without GROUP BY returns one row
    return PendingCancellations(row["count"], row["oldest"])


def _stored(row: asyncpg.Record) -> StoredRow:
    return StoredRow(
        StoredKind(row["kind"]), row["result_id"], row["subject_id"], row["source_event_id"],
        row["applied"], row["corrected_result_id"], row["corrected_subject_id"],
    )  # fmt: skip


def _measurement(row: asyncpg.Record) -> CrpMeasurement:
    fields = dict(row)
    comparator = fields.pop("comparator")  # NULL: measured (every result stored before 0005)
    return CrpMeasurement(
        **fields, comparator=None if comparator is None else Comparator(comparator)
    )
