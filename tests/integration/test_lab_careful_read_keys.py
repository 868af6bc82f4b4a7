"""The careful path's write against a fast-path write to a key it read as empty, on
PostgreSQL (review 84, defect 1; the real lookup, guard and BatchIngestor).

Instance B's batch takes the careful path (it holds an X) and reads the key as holding
nothing; before B writes, instance A stores a result there on the fast path, which takes no
chain lock. B's write must be refused by the guard (``assert_batch_current`` on the keys B
read as empty), and B's batch planned again from a read that sees A's row. When A's write
runs at the same moment as B's (A commits after B's write statement began, so B's guard
cannot see A's row), the key's claim (migration 0022) makes B wait for A and refuses B."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.lab_ingestion.adapters.repository import LabRepository
from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from shared.contracts.events.lab import Channel
from shared.db.pool import ReservedConnections
from shared.messaging.outbox import OutgoingEvent
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


def instance(
    connections: ReservedConnections,
    unit_of_work: type[LabIngestionUnitOfWork],
    on_replan: Callable[[], None] = lambda: None,
) -> BatchIngestor:
    """One instance's batch ingestion, on its own connection."""
    return BatchIngestor(
        lambda: unit_of_work(connections, "lab-ingestion", STORED_ID),
        lambda mrn: f"h({mrn})",
        on_replan=on_replan,
    )


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
    a = instance(a_connections, LabIngestionUnitOfWork)
    b = instance(b_connections, WriterAfter, on_replan=lambda: replans.append("b"))
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
    assert await versions_of_f4(pool) == [("F", True)]  # one F 4, withdrawn
    events = [r["event_type"] for r in await pool.fetch("SELECT event_type FROM outbox")]
    assert sorted(events) == ["LabResultCancelled", "LabResultRecorded", "LabResultRecorded"]


async def versions_of_f4(pool: asyncpg.Pool) -> list[tuple[str, bool]]:
    """Each stored result of value 4: its status, and whether it is withdrawn."""
    rows = await pool.fetch(
        "SELECT status, cancelled_at FROM results WHERE value = 4 ORDER BY recorded_at"
    )
    return [(r["status"], r["cancelled_at"] is not None) for r in rows]


class PausedRepository(LabRepository):
    """Runs ``meanwhile`` after its write statement and before its transaction commits."""

    meanwhile: list[Callable[[], Awaitable[None]]] = []

    async def write(self, outbox: Sequence[OutgoingEvent]) -> None:
        await super().write(list(outbox))
        while self.meanwhile:
            await self.meanwhile.pop(0)()


class CommitsLate(LabIngestionUnitOfWork):
    """Writes its batch in a transaction that commits after ``PausedRepository.meanwhile``."""

    def bind(self, conn: asyncpg.Connection) -> None:
        super().bind(conn)
        self.labs = PausedRepository(conn, self._stored_id)

    async def commit(self) -> None:
        if self._tx is None:
            self._tx = self.connection.transaction()
            await self._tx.start()
        await super().commit()


async def waiting_for_a_lock(pool: asyncpg.Pool, done: asyncio.Future[Any]) -> bool:
    """Until a session of this database waits for a lock (or ``done`` is): True if one does."""
    for _ in range(200):
        if done.done():
            return False
        waiting = await pool.fetchval(
            """SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'"""
        )
        if waiting:
            return True
        await asyncio.sleep(0.05)
    raise AssertionError("neither waiting nor done")


@dataclass
class Race:
    """What each instance answered, whether B waited for a lock, and B's re-plans."""

    fast: list[IngestOutcome]
    careful: list[IngestOutcome]
    b_waited: list[bool]
    replans: list[str]


async def race_at_the_same_moment(pool: asyncpg.Pool, status: str, value: str) -> Race:
    """A (fast path) writes ``status`` K1 ``value`` and holds its transaction open while B
    (careful, for its X) reads and writes [the lab's copy of it, X K1]; then A commits."""
    a_connections = ReservedConnections(pool, keep=1)
    b_connections = ReservedConnections(pool, keep=1)
    replans: list[str] = []
    a = instance(a_connections, CommitsLate)
    b = instance(b_connections, LabIngestionUnitOfWork, on_replan=lambda: replans.append("b"))
    careful: asyncio.Task[list[IngestOutcome]] | None = None
    b_waited: list[bool] = []
    try:
        await a([sent("9", ("F", "K2", "12"))])  # A reads once: MRN1 is remembered

        async def b_meanwhile() -> None:
            nonlocal careful
            careful = asyncio.create_task(
                b([sent("0", (status, "K1", value)), sent("2", ("X", "K1", ""))])
            )
            b_waited.append(await waiting_for_a_lock(pool, careful))

        PausedRepository.meanwhile = [b_meanwhile]
        fast = await a([sent("1", (status, "K1", value))])  # commits once B wrote or waits
        assert careful is not None
        answers = await asyncio.wait_for(careful, 30)
    finally:
        PausedRepository.meanwhile = []
        if careful is not None and not careful.done():
            careful.cancel()
        await a_connections.close()
        await b_connections.close()
    return Race(fast, answers, b_waited, replans)


async def test_a_careful_write_at_the_same_moment_as_a_fast_write_to_its_key_is_refused(
    pool: asyncpg.Pool,
) -> None:
    """As above, but A's fast-path write has run and not yet committed when B reads and
    writes: B's read and guard cannot see A's F 4 (uncommitted, then committed after B's
    write statement took its snapshot). Without a claim both committed, and A's copy of the
    F 4 that the lab withdrew stood. B's claim of K1 waits for A's; A commits; B is refused,
    reads again, finds A's F 4 and withdraws it."""
    race = await race_at_the_same_moment(pool, "F", "4")
    assert [(o.accepted, o.results) for o in race.fast] == [(True, 1)]
    assert race.b_waited == [True]  # B's claim of K1 waited for A's commit
    assert [(o.accepted, o.duplicate, o.cancelled) for o in race.careful] == [
        (True, True, 0), (True, False, 1),
    ], race.careful  # fmt: skip
    assert race.replans == ["b"]
    assert await versions_of_f4(pool) == [("F", True)]  # one F 4, withdrawn


async def test_preliminary_copies_written_at_the_same_moment_never_both_stand(
    pool: asyncpg.Pool,
) -> None:
    """The same race with a preliminary result, which no results index covers (migrations
    0009 and 0011 hold final and corrected ones): only the claim serialises the two writes
    (review 85). Without it B's P went in withdrawn and A's copy stood."""
    race = await race_at_the_same_moment(pool, "P", "3")
    assert [o.accepted for o in race.fast] == [True]
    assert race.b_waited == [True]
    assert all(o.accepted for o in race.careful), race.careful
    assert race.replans == ["b"]
    standing = await pool.fetchval(
        "SELECT count(*) FROM results WHERE value = 3 AND cancelled_at IS NULL"
    )
    assert standing == 0
