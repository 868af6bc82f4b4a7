"""The careful path's write against a fast-path write to a key it read as empty, on
PostgreSQL (review 84, defect 1; the real lookup, guard and BatchIngestor).

Instance B's batch takes the careful path (it holds an X) and reads the key as holding
nothing; before B writes, instance A stores a result there on the fast path, which takes no
chain lock. B's write must be refused by the guard (``assert_batch_current`` on the keys B
read as empty), and B's batch planned again from a read that sees A's row."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest

from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput
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
    pool = await migrated_lab_pool(database, "test-lab-careful-read-keys")
    async with pool.acquire() as conn:
        await add_source(conn, "LIS", "HOSP")
        await conn.execute(
            """INSERT INTO enrolled_subjects (subject_id, site_id, site_timezone,
                                              hospital_id_hmac, day1, enrolled_at)
               VALUES ('S-1', 'CH-01', 'Europe/Zurich', 'h(MRN1)', '2026-11-02', now())"""
        )
    yield pool
    await pool.close()


def sent(control_id: str, *obs: tuple[str, str, str]) -> IngestLabMessage:
    observations = tuple(
        ObservationInput(key, CRP, value, ("mg/L",) if value else (), status=status,
                         collected_at=NOW)
        for status, key, value in obs
    )  # fmt: skip
    lab = LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, "MRN1", observations)
    return IngestLabMessage(lab, lambda: "", NOW)


class WriterAfter(LabIngestionUnitOfWork):
    """A unit of work whose batch is written after ``meanwhile`` ran (another instance's
    batch, committed between this batch's read and its write)."""

    meanwhile: list[Callable[[], Awaitable[None]]] = []

    async def commit(self) -> None:
        while self.meanwhile:
            await self.meanwhile.pop(0)()
        await super().commit()


async def test_a_careful_batch_is_planned_again_when_a_key_it_read_empty_got_a_row(
    pool: asyncpg.Pool,
) -> None:
    """B: [message 0: F K1 4, message 2: X K1] (careful, for the X), reads K1 empty. A:
    message 1, the lab's copy of F K1 4 under a new id, on the fast path before B writes.
    B's F would be inserted already cancelled (no chain index sees it) and A's F 4, which
    the lab withdrew, would stand. The guard refuses B's write; B reads again, finds A's
    F 4: message 0 restates it (a duplicate), message 2 withdraws it. Nothing stands."""
    a_connections = ReservedConnections(pool, keep=1)
    b_connections = ReservedConnections(pool, keep=1)
    replans: list[str] = []
    a = BatchIngestor(lambda: LabIngestionUnitOfWork(a_connections, "lab-ingestion", STORED_ID),
                      lambda mrn: f"h({mrn})")  # fmt: skip
    b = BatchIngestor(lambda: WriterAfter(b_connections, "lab-ingestion", STORED_ID),
                      lambda mrn: f"h({mrn})", on_replan=lambda: replans.append("b"))  # fmt: skip
    try:
        await a([sent("9", ("F", "K2", "12"))])  # A reads once: MRN1 is remembered
        fast: list[IngestOutcome] = []

        async def copy_meanwhile() -> None:
            fast.extend(await a([sent("1", ("F", "K1", "4"))]))  # no chain lock: not waiting

        WriterAfter.meanwhile = [copy_meanwhile]
        careful = await b([sent("0", ("F", "K1", "4")), sent("2", ("X", "K1", ""))])
    finally:
        WriterAfter.meanwhile = []
        await a_connections.close()
        await b_connections.close()
    assert [(o.accepted, o.results) for o in fast] == [(True, 1)]
    assert [(o.accepted, o.duplicate, o.cancelled) for o in careful] == [
        (True, True, 0), (True, False, 1),
    ], careful  # fmt: skip
    assert replans == ["b"]  # refused once by the guard, then planned from a fresh read
    rows = await pool.fetch(
        "SELECT status, cancelled_at FROM results WHERE value = 4 ORDER BY recorded_at"
    )
    assert [(r["status"], r["cancelled_at"] is not None) for r in rows] == [("F", True)]
    events = [r["event_type"] for r in await pool.fetch("SELECT event_type FROM outbox")]
    assert sorted(events) == ["LabResultCancelled", "LabResultRecorded", "LabResultRecorded"]
