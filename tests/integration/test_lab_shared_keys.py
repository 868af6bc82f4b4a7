"""Result keys shared by patients, on PostgreSQL (review 44; the real lookup, write and
BatchIngestor): a cancellation finds its own patient's preliminary result behind another
patient's, and never withdraws a final result another instance stored after its read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest

from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    RejectionCode,
)
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from shared.contracts.events.lab import Channel
from shared.db.pool import ReservedConnections
from tests.integration.lab_fixtures import STORED_ID, migrated_lab_pool

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
CRP = (Coding("1988-5", "http://loinc.org"),)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_lab_pool(database, "test-lab-shared-keys")
    async with pool.acquire() as conn:
        await add_source(conn, "LIS", "HOSP")
        for subject, mrn in (("S-1", "MRN1"), ("S-2", "MRN2")):
            await conn.execute(
                """INSERT INTO enrolled_subjects (subject_id, site_id, site_timezone,
                                                  hospital_id_hmac, day1, enrolled_at)
                   VALUES ($1, 'CH-01', 'Europe/Zurich', $2, '2026-11-02', now())""",
                subject, f"h({mrn})",
            )  # fmt: skip
    yield pool
    await pool.close()


def sent(control_id: str, mrn: str, *obs: tuple[str, str]) -> IngestLabMessage:
    observations = tuple(
        ObservationInput("K", CRP, value, ("mg/L",) if value else (), status=status,
                         collected_at=NOW)
        for status, value in obs
    )  # fmt: skip
    lab = LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, mrn, observations)
    return IngestLabMessage(lab, lambda: "", NOW)


async def run(pool: asyncpg.Pool, messages: list[IngestLabMessage]) -> list[IngestOutcome]:
    connections = ReservedConnections(pool, keep=1)
    ingest = BatchIngestor(
        lambda: LabIngestionUnitOfWork(connections, "lab-ingestion", STORED_ID),
        lambda mrn: f"h({mrn})",
    )
    try:
        return [o for m in messages for o in await ingest([m])]  # one batch each
    finally:
        await connections.close()


async def standing(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT subject_id, status FROM results WHERE cancelled_at IS NULL ORDER BY recorded_at"
    )
    return [(r["subject_id"], r["status"]) for r in rows]


async def test_a_cancellation_withdraws_the_patients_preliminary_behind_anothers(
    pool: asyncpg.Pool,
) -> None:
    """MRN1's P, MRN2's P (same order and test), MRN1's X: accepted, MRN1's P withdrawn."""
    outcomes = await run(pool, [sent("1", "MRN1", ("P", "40")), sent("2", "MRN2", ("P", "40")),
                                sent("3", "MRN1", ("X", ""))])  # fmt: skip
    assert [(o.accepted, o.code) for o in outcomes] == [(True, None)] * 3, outcomes[2]
    assert await standing(pool) == [("S-2", "P")]


async def test_a_final_and_its_cancellation_withdraw_the_patients_earlier_preliminary(
    pool: asyncpg.Pool,
) -> None:
    """MRN1's P, then MRN1's [F 40, X], then MRN2's P: every version of MRN1's result
    withdrawn. With MRN2's P before it, MRN1's [F 40, X] is refused (review 201: a final
    under a key holding another patient's preliminary result) and both preliminaries
    stand."""
    outcomes = await run(pool, [sent("1", "MRN1", ("P", "40")),
                                sent("2", "MRN1", ("F", "40"), ("X", "")),
                                sent("3", "MRN2", ("P", "40"))])  # fmt: skip
    assert [(o.accepted, o.code) for o in outcomes] == [(True, None)] * 3
    assert await standing(pool) == [("S-2", "P")]
    outcomes = await run(pool, [sent("4", "MRN1", ("P", "41")), sent("5", "MRN1", ("F", "41"))])
    assert [(o.accepted, o.code) for o in outcomes] == [
        (True, None), (False, RejectionCode.OTHER_PATIENTS_RESULT)
    ]  # fmt: skip
    assert sorted(await standing(pool)) == [("S-1", "P"), ("S-2", "P")]


# --- the careful path's cancellation, written after another instance's fast-path result ----


class WriterAfter(LabIngestionUnitOfWork):
    """A unit of work whose batch is written after ``meanwhile`` ran (another instance's
    batch, started between this batch's read and its write)."""

    meanwhile: list[Callable[[], Awaitable[None]]] = []

    async def commit(self) -> None:
        while self.meanwhile:
            await self.meanwhile.pop(0)()
        await super().commit()


async def test_a_cancellation_never_withdraws_a_final_result_stored_after_its_read(
    pool: asyncpg.Pool,
) -> None:
    """MRN1's P 40 stored. Instance B reads the chain for MRN1's X (only the P); instance A
    sends a new final result under the key (the fast path: it knows MRN1) before B writes.
    B's write cancels the patient's whole chain under the key: had A's F 40 been written
    then, it would be withdrawn with no event while published. The guard (migration 0018)
    refuses A's fast path on a key that holds a result; A reads under the chain lock, after
    B's commit, and its F 40 starts a new chain that stands."""
    a_connections = ReservedConnections(pool, keep=1)
    b_connections = ReservedConnections(pool, keep=1)
    a = BatchIngestor(lambda: LabIngestionUnitOfWork(a_connections, "lab-ingestion", STORED_ID),
                      lambda mrn: f"h({mrn})")  # fmt: skip
    b = BatchIngestor(lambda: WriterAfter(b_connections, "lab-ingestion", STORED_ID),
                      lambda mrn: f"h({mrn})")  # fmt: skip
    try:
        await a([sent("1", "MRN1", ("P", "40"))])  # A reads: MRN1 is remembered
        fast: asyncio.Task[list[IngestOutcome]] | None = None

        async def final_meanwhile() -> None:
            nonlocal fast
            fast = asyncio.create_task(a([sent("2", "MRN1", ("F", "40"))]))
            await asyncio.sleep(0.5)  # time for A's fast write (refused: it waits for the lock)

        WriterAfter.meanwhile = [final_meanwhile]
        (cancelled,) = await b([sent("3", "MRN1", ("X", ""))])
        assert fast is not None
        (final_outcome,) = await asyncio.wait_for(fast, 10)
    finally:
        await a_connections.close()
        await b_connections.close()
    assert cancelled.accepted and final_outcome.accepted and final_outcome.results == 1
    final = await pool.fetchrow("SELECT result_id, cancelled_at FROM results WHERE status = 'F'")
    assert final["cancelled_at"] is None  # stored after the cancellation: it stands
    events = await pool.fetch("SELECT event_type, envelope FROM outbox")
    published = [
        e["event_type"] for e in events if str(final["result_id"]) in bytes(e["envelope"]).decode()
    ]
    assert published == ["LabResultRecorded"]
