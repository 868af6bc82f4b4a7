"""Two instances of lab-ingestion writing to one database at once (scaled out on Kafka).

Each instance is the real BatchIngestor on its own connections; the chain lock and the
indexes of migrations 0009 and 0011 must keep every result's chain one line: a correction
racing another correction continues the chain, a cancellation racing a correction leaves
nothing standing, two patients' first results under one key never both stand, and the
database itself refuses a fork.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from functools import partial

import asyncpg
import pytest

from services.lab_ingestion.adapters.repository import LabRepository
from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from services.lab_ingestion.bootstrap import definition
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    NormalisedResult,
    ObservationInput,
    StaleBatch,
)
from services.lab_ingestion.domain.records import MessageRecord, ResultRecord
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from shared.contracts.events.lab import Analyte, Channel
from shared.contracts.events.trial import SubjectEnrolled
from shared.contracts.identity import hospital_id_hmac
from shared.db.pool import ReservedConnections
from shared.subjects import SubjectDirectory
from tests.integration.lab_fixtures import STORED_ID, migrated_lab_pool

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
HMAC = partial(hospital_id_hmac, b"k" * 32)
CRP = (Coding("1988-5", "http://loinc.org"),)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_lab_pool(database, "test-lab-instances", max_size=8)
    async with pool.acquire() as conn:
        await add_source(conn, "LIS", "HOSP")
        await conn.execute(
            """INSERT INTO enrolled_subjects (subject_id, site_id, site_timezone,
                                              hospital_id_hmac, day1, enrolled_at)
               VALUES ('S-1', 'CH-01', 'Europe/Zurich', $1, '2026-11-02', now()),
                      ('S-2', 'CH-01', 'Europe/Zurich', $2, '2026-11-02', now())""",
            HMAC("MRN1"), HMAC("MRN2"),
        )  # fmt: skip
    yield pool
    await pool.close()


@dataclasses.dataclass
class Instance:
    ingest: BatchIngestor
    connections: ReservedConnections
    replans: int = 0

    async def send(
        self, control_id: str, status: str = "F", value: str = "12", mrn: str = "MRN1"
    ) -> IngestOutcome:
        observation = ObservationInput("K", CRP, value, ("mg/L",), status=status, collected_at=AT)
        lab = LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, mrn, (observation,))
        (outcome,) = await self.ingest([IngestLabMessage(lab, lambda: "", AT)])
        return outcome


@pytest.fixture
async def instances(pool: asyncpg.Pool) -> AsyncIterator[tuple[Instance, Instance]]:
    made = instance(pool), instance(pool)
    yield made
    for each in made:
        await each.connections.close()  # before the pool closes: it waits for them


def instance(pool: asyncpg.Pool) -> Instance:
    connections = ReservedConnections(pool, keep=1)
    made = Instance(None, connections)  # type: ignore[arg-type]  # set below: it counts replans
    made.ingest = BatchIngestor(
        lambda: LabIngestionUnitOfWork(connections, "lab-ingestion", STORED_ID), HMAC,
        on_replan=lambda: setattr(made, "replans", made.replans + 1),
    )  # fmt: skip
    return made


async def written_by_a_race(
    pool: asyncpg.Pool,
    like: str,
    control_id: str,
    *,
    subject: str = "subject_id",
    status: str = "r.status",
    supersedes: str = "r.supersedes_result_id",
) -> None:
    """A copy of message ``like`` and its result (value 14) under ``control_id`` (of
    ``subject``, SQL), written past the indexes as concurrent instances of an earlier
    version could have."""
    new, old = STORED_ID(control_id), STORED_ID(like)  # (hex digits: safe in SQL text)
    await pool.execute(
        f"""INSERT INTO messages SELECT gen_random_uuid(), source, '{new}', channel,
                   outcome, {subject}, result_count, received_at
              FROM messages WHERE control_id = '{old}';
            INSERT INTO results SELECT gen_random_uuid(), m.message_id, m.subject_id, r.source,
                   r.result_key, r.analyte, r.loinc, 14, r.unit, '14', r.original_unit,
                   r.reference_low, r.reference_high, r.abnormal_flag, {status}, r.collected_at,
                   r.reported_at, {supersedes}
              FROM results r JOIN messages o ON o.message_id = r.message_id, messages m
             WHERE o.control_id = '{old}' AND m.control_id = '{new}'"""
    )  # fmt: skip


async def chain(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        """SELECT result_id, status, value, supersedes_result_id, cancelled_at FROM results
            WHERE result_key = $1 ORDER BY recorded_at""",
        STORED_ID("K"),
    )
    return rows


async def test_two_instances_correcting_one_result_at_once_keep_one_chain(
    pool: asyncpg.Pool, instances: tuple[Instance, Instance]
) -> None:
    a, b = instances
    assert (await a.send("M-1")).results == 1
    for round_ in range(5):  # each round: both correct the chain's head at the same moment
        # (to values never sent before: without report times, a correction back to a value
        # replaced since cannot be told from a late copy, and is refused, review 171)
        outcomes = await asyncio.gather(
            a.send(f"A-{round_}", "C", str(20 + 2 * round_)),
            b.send(f"B-{round_}", "C", str(21 + 2 * round_)),
        )
        assert [o.results for o in outcomes] == [1, 1]
    rows = await chain(pool)
    assert len(rows) == 11
    # one line: the final result, then each correction superseding the one before it
    assert [r["supersedes_result_id"] for r in rows] == [None, *(r["result_id"] for r in rows[:-1])]
    # the chain lock made the second writer wait and read, rather than be refused and retry
    assert (a.replans, b.replans) == (1, 0)  # a's first batch: nobody remembered yet


async def test_a_cancellation_racing_a_correction_leaves_no_result_standing(
    pool: asyncpg.Pool, instances: tuple[Instance, Instance]
) -> None:
    a, b = instances
    for round_ in range(5):
        # a new chain (the last one was cancelled): another value, no late copy (review 39)
        await a.send(f"M-{round_}", value=str(20 + round_))
        cancelled, corrected = await asyncio.gather(
            a.send(f"X-{round_}", "X"), b.send(f"C-{round_}", "C", "15")
        )
        assert cancelled.accepted
        rows = await chain(pool)
        standing = [r for r in rows if r["cancelled_at"] is None]
        # the correction was either written first and withdrawn with its chain, or read the
        # chain cancelled and was rejected: never a correction left standing after the cancel
        assert standing == [], (round_, corrected)


async def test_the_database_refuses_to_fork_a_chain_or_to_start_a_second_one(
    pool: asyncpg.Pool,
) -> None:
    crp = NormalisedResult(Analyte.CRP, "1988-5", 12.0, "mg/L", "12", "mg/L", 0, 5, "H")

    def stored(control_id: str, supersedes: uuid.UUID | None) -> tuple[MessageRecord, ResultRecord]:
        message = MessageRecord(
            uuid.uuid4(), "LIS^HOSP", control_id, "mllp", "accepted", "S-1", 1, AT
        )
        result = ResultRecord(
            uuid.uuid4(), message.message_id, "S-1", "LIS^HOSP", "K", "F" if supersedes is None
            else "C", crp, AT, None, supersedes,
        )  # fmt: skip
        return message, result

    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        first_message, first = stored("1", None)
        repository.stage([first_message], [first], [], [], AT)
        await repository.write([])
        correction_message, correction = stored("2", first.result_id)
        repository.stage([correction_message], [correction], [], [], AT)
        await repository.write([])
        for control_id, supersedes in (("3", first.result_id), ("4", None)):
            message, result = stored(control_id, supersedes)  # a fork; a second first result
            repository.stage([message], [result], [], [], AT)
            with pytest.raises(StaleBatch, match="chain"):
                await repository.write([])
    assert len(await chain(pool)) == 2


async def test_two_patients_first_results_under_one_key_at_once_never_both_stand(
    pool: asyncpg.Pool, instances: tuple[Instance, Instance]
) -> None:
    """Both instances take the fast path (no standing result assumed); the database refuses
    the second writer, which reads, finds the other patient's result and rejects its own."""
    a, b = instances
    await a.send("warm-a")  # each instance remembers both subjects: the fast path applies
    await b.send("warm-b", mrn="MRN2")
    # a key that held a result, withdrawn or not, is read first (migration 0017): free it,
    # with its claim (0022)
    free_the_key = "DELETE FROM results; DELETE FROM result_key_claims"
    await pool.execute(free_the_key)
    for round_ in range(5):
        first, second = await asyncio.gather(
            a.send(f"A-{round_}"), b.send(f"B-{round_}", mrn="MRN2")
        )
        rows = await pool.fetch(
            "SELECT subject_id FROM results WHERE result_key = $1 AND cancelled_at IS NULL",
            STORED_ID("K"),
        )
        assert len(rows) == 1, (round_, first, second)
        stored = first if rows[0]["subject_id"] == "S-1" else second
        refused = second if stored is first else first
        assert stored.results == 1 and refused.code is not None
        assert refused.code.value == "result-of-another-patient"
        await pool.execute(free_the_key)


async def test_the_database_refuses_a_second_patients_first_result_under_a_key(
    pool: asyncpg.Pool,
) -> None:
    crp = NormalisedResult(Analyte.CRP, "1988-5", 12.0, "mg/L", "12", "mg/L", 0, 5, "H")
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        for control_id, subject in (("1", "S-1"), ("2", "S-2")):
            message = MessageRecord(
                uuid.uuid4(), "LIS^HOSP", control_id, "mllp", "accepted", subject, 1, AT
            )
            result = ResultRecord(
                uuid.uuid4(), message.message_id, subject, "LIS^HOSP", "K", "F", crp, AT, None,
                None,
            )  # fmt: skip
            repository.stage([message], [result], [], [], AT)
            if subject == "S-1":
                await repository.write([])
                continue
            with pytest.raises(StaleBatch, match="chain"):
                await repository.write([])
    assert [r["status"] for r in await chain(pool)] == ["F"]


async def test_migration_0011_stops_with_advice_on_keys_two_patients_share(
    pool: asyncpg.Pool, instances: tuple[Instance, Instance]
) -> None:
    a, _ = instances
    await a.send("M-1")
    await pool.execute("DROP INDEX results_one_standing_root")
    # the other patient's first result under the key, as a race wrote it
    await written_by_a_race(pool, "M-1", "M-2", subject="'S-2'", supersedes="NULL")
    migration = (definition.migrations / "0011_one_chain_per_key.sql").read_text()
    with pytest.raises(asyncpg.RaiseError, match="1 result key\\(s\\)") as raised:
        await pool.execute(migration)
    assert "every version of the others" in (raised.value.hint or "")
    # the other patient's result was corrected too: cancelling its first result alone
    # would leave the correction standing, and the key refusing every later result
    b_first = await pool.fetchval("SELECT result_id FROM results WHERE subject_id = 'S-2'")
    await written_by_a_race(pool, "M-2", "C-2", status="'C'", supersedes=f"'{b_first}'")
    await pool.execute("UPDATE results SET cancelled_at = now() WHERE result_id = $1", b_first)
    with pytest.raises(asyncpg.RaiseError, match="1 result key\\(s\\)"):
        await pool.execute(migration)
    await pool.execute("UPDATE results SET cancelled_at = now() WHERE subject_id = 'S-2'")
    await pool.execute(migration)  # as advised: every version of the other patient's
    assert (await a.send("C-1", "C", "13")).results == 1  # the key's owner corrects it


async def test_a_chain_whose_correction_alone_was_deleted_can_be_corrected_again(
    pool: asyncpg.Pool, instances: tuple[Instance, Instance]
) -> None:
    """Earlier versions withdrew a deleted correction alone, and its original stood again:
    that original is the chain's head, and a new correction supersedes it."""
    a, _ = instances
    await a.send("M-1")
    await a.send("C-1", "C", "13")
    await pool.execute("UPDATE results SET cancelled_at = now() WHERE status = 'C'")
    assert (await a.send("C-2", "C", "14")).results == 1
    final, _, corrected = await chain(pool)
    assert corrected["supersedes_result_id"] == final["result_id"]
    assert corrected["cancelled_at"] is None


async def test_the_migration_stops_with_advice_on_chains_forked_before_it(
    pool: asyncpg.Pool, instances: tuple[Instance, Instance]
) -> None:
    a, _ = instances
    await a.send("M-1")
    await pool.execute("DROP INDEX results_superseded_once; DROP INDEX results_one_standing_root")
    await a.send("C-1", "C", "13")
    # a second correction of the final result, as two instances wrote it
    await written_by_a_race(pool, "C-1", "C-2")
    migration = (definition.migrations / "0009_chain_integrity.sql").read_text()
    with pytest.raises(asyncpg.RaiseError, match="1 result\\(s\\) superseded") as raised:
        await pool.execute(migration)
    assert "cancelled_at" in (raised.value.hint or "")


async def test_a_unit_of_work_whose_rollback_fails_still_gives_its_connection_back(
    pool: asyncpg.Pool, database: str
) -> None:
    own = await migrated_lab_pool(database, "test-rollback-fails", max_size=2)
    connections = ReservedConnections(own, keep=1)
    with pytest.raises(RuntimeError, match="rollback fails too"):  # the batch's own error
        async with LabIngestionUnitOfWork(connections, "lab-ingestion", STORED_ID) as uow:
            await uow.serialise_chains()  # in a transaction, holding the chain lock
            server_pid = uow.connection.get_server_pid()
            await pool.execute("SELECT pg_terminate_backend($1)", server_pid)
            raise RuntimeError("the batch failed; then its rollback fails too")
    await connections.close()
    async with asyncio.timeout(10):  # closing waits for every connection lent out
        await own.close()
    locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
    assert await pool.fetchval(locks) == 0  # the chain lock was not left behind


@pytest.mark.parametrize("change", ["re-enrolled after a withdrawal", "a second enrolment"])
async def test_a_resend_after_the_subject_directory_changed_is_a_duplicate(
    pool: asyncpg.Pool, instances: tuple[Instance, Instance], change: str
) -> None:
    """MRN1's result is stored for S-1 and the ACK lost; then S-1 is withdrawn and the
    patient re-enrolled as S-6 (or S-6 is enrolled beside S-1). The lab resends the message,
    same MSH-10 and content, to the other instance: it was stored, so it is answered as a
    duplicate, not rejected (subject-withdrawn, ambiguous-patient) and kept for replay."""
    a, b = instances
    assert (await a.send("M-1")).results == 1
    async with pool.acquire() as conn:
        directory = SubjectDirectory(conn)
        if change.startswith("re-enrolled"):
            await directory.withdraw("S-1", AT + timedelta(hours=1))
        await directory.enrol("S-6", SubjectEnrolled(
            site_id="CH-01", site_timezone="Europe/Zurich", hospital_id_hmac=HMAC("MRN1"),
            enrolled_at=AT + timedelta(days=1), day1=date(2026, 11, 22),
        ))  # fmt: skip
    resent = await b.send("M-1")
    assert (resent.accepted, resent.duplicate, resent.code) == (True, True, None), resent
    assert await pool.fetchval("SELECT count(*) FROM rejections") == 0
    stored = "SELECT count(*) FROM messages WHERE control_id = $1"
    assert await pool.fetchval(stored, STORED_ID("M-1")) == 1
