"""lab-ingestion's batch write statement on real PostgreSQL: what its cached plan reads, and
how it refuses a batch planned without a read whose assumptions no longer hold.

asyncpg prepares every statement, and after a few executions PostgreSQL may keep one generic
plan for it. A generic plan of ``result_id = ANY($n)`` scans ``results`` even when the array
is empty; that made every batch slower as the table grew (0.2 ms to 1 ms per batch over
24,000 messages). The write must not read ``results`` when it cancels nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.lab_ingestion.adapters.repository import LabRepository
from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.bootstrap import definition
from services.lab_ingestion.domain.model import NormalisedResult, RejectionCode, StaleBatch
from services.lab_ingestion.domain.planning import content_of
from services.lab_ingestion.domain.records import (
    BatchAssumptions,
    EarlierResult,
    EnrolledSubject,
    MessageRecord,
    RejectionRecord,
    ResultRecord,
    Sender,
    UnheldSample,
    Withdrawal,
)
from services.lab_ingestion.domain.report_fields import ReportField
from services.lab_ingestion.service_layer.events import recorded_event, rejected_event
from shared.contracts.envelope import Envelope
from shared.contracts.events.lab import Analyte, Channel
from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from shared.messaging.outbox import OutgoingEvent
from tests.integration.lab_fixtures import (
    STORED_ID,
    as_before_migration_0019,
    ids_as_written,
    migrated_lab_pool,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_lab_pool(database, "test-lab-repository")
    yield pool
    await pool.close()


def message_with_result(n: int) -> tuple[MessageRecord, ResultRecord]:
    message = MessageRecord(uuid.uuid4(), "LIS^HOSP", f"M-{n}", "mllp", "accepted", "S-1", 1, NOW)
    crp = NormalisedResult(Analyte.CRP, "1988-5", 12.0, "mg/L", "12", "mg/L", 0, 5, "H")
    result = ResultRecord(
        uuid.uuid4(), message.message_id, "S-1", "LIS^HOSP", f"R-{n}", "F", crp, NOW, None, None
    )
    return message, result


def chain_of_versions() -> tuple[MessageRecord, ResultRecord, ResultRecord, ResultRecord]:
    """Message 1 with its final result R-1, a correction of it, and a preliminary one."""
    message, final = message_with_result(1)
    corrected = dataclasses.replace(
        final, result_id=uuid.uuid4(), status="C", supersedes_result_id=final.result_id
    )
    preliminary = dataclasses.replace(final, result_id=uuid.uuid4(), status="P")
    return message, final, corrected, preliminary


async def scans_of_results(conn: asyncpg.Connection, n: int, cancel: list[uuid.UUID]) -> int:
    """How often writing one batch (under a generic plan) read the results table."""
    count = "SELECT pg_stat_get_xact_numscans('results'::regclass)"
    async with conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        before = await conn.fetchval(count)
        repository = LabRepository(conn, STORED_ID)
        message, result = message_with_result(n)
        withdrawals = [Withdrawal(result_id, message.message_id) for result_id in cancel]
        repository.stage([message], [result], withdrawals, [], NOW)
        await repository.write([])
        after = await conn.fetchval(count)
    return int(after - before)


async def test_a_batch_that_cancels_nothing_does_not_read_the_results_table(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        for n in range(50):  # a table with rows, so the planner has something to scan
            await scans_of_results(conn, n, [])
        await conn.execute("ANALYZE results")
        assert await scans_of_results(conn, 1000, []) == 0
        standing = await conn.fetchval("SELECT result_id FROM results LIMIT 1")
        assert await scans_of_results(conn, 1001, [standing]) >= 1  # the counter does count
        cancelled = await conn.fetchval(
            "SELECT cancelled_at FROM results WHERE result_id = $1", standing
        )
    assert cancelled == NOW


async def fill(conn: asyncpg.Connection, n: int) -> None:
    """``n`` stored messages with one result each, and fresh planner statistics."""
    await conn.execute(
        """INSERT INTO messages
           SELECT gen_random_uuid(), 'LIS^HOSP', '#' || md5('F-' || i), 'mllp', 'accepted',
                  'S-1', 1, now()
             FROM generate_series(1, $1) AS i""",
        n,
    )
    await conn.execute(
        """INSERT INTO results (result_id, message_id, subject_id, source, result_key, analyte,
                                loinc, value, unit, original_value, original_unit, status,
                                collected_at)
           SELECT gen_random_uuid(), message_id, 'S-1', source, '#' || md5(control_id), 'crp',
                  '1988-5', 12, 'mg/L', '12', 'mg/L', 'F', now()
             FROM messages""",
    )
    await conn.execute("ANALYZE messages; ANALYZE results")


async def test_checking_a_fast_path_batch_probes_the_index_for_each_result_key(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await fill(conn, 5000)
        read = "SELECT pg_stat_get_xact_tuples_returned('results'::regclass)"
        async with conn.transaction():
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            before = await conn.fetchval(read)
            repository = LabRepository(conn, STORED_ID)
            message, result = message_with_result(2000)
            assumed = BatchAssumptions(new_result_keys=[("LIS^HOSP", "R-2000")])
            repository.stage([message], [result], [], [], NOW, assumptions=assumed)
            await repository.write([])
            rows_read = await conn.fetchval(read) - before
    assert rows_read <= 1  # a scan of the table would have read all 5,000 rows


async def test_a_batch_assuming_no_standing_result_is_refused_when_there_is_one(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await scans_of_results(conn, 1, [])  # stores R-1
        repository = LabRepository(conn, STORED_ID)
        message, result = message_with_result(2)
        assumed = BatchAssumptions(new_result_keys=[("LIS^HOSP", "R-1")])
        repository.stage([message], [result], [], [], NOW, assumptions=assumed)
        with pytest.raises(StaleBatch):
            await repository.write([])
        stored = await conn.fetchval(
            "SELECT count(*) FROM messages WHERE control_id = $1", STORED_ID("M-2")
        )
    assert stored == 0


async def test_a_batch_whose_message_was_stored_meanwhile_is_refused_as_stale(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await scans_of_results(conn, 3, [])
        repository = LabRepository(conn, STORED_ID)
        again = MessageRecord(uuid.uuid4(), "LIS^HOSP", "M-3", "mllp", "accepted", "S-1", 1, NOW)
        repository.stage([again], [], [], [], NOW)
        with pytest.raises(StaleBatch):
            await repository.write([])


# The subject half of the fast path's guard. A batch planned without a read takes the
# patients it has not seen enrolled for not enrolled; only the write's refusal makes the
# service read again and learn otherwise. Without it, every result of a newly enrolled
# patient would be discarded as "not enrolled" (a variant without this check, tried in a
# benchmark, stored no result at all).


async def enrol(conn: asyncpg.Connection, subject_id: str, hmac: str, *, withdrawn: bool) -> None:
    await conn.execute(
        """INSERT INTO enrolled_subjects (subject_id, site_id, site_timezone, hospital_id_hmac,
                                          day1, enrolled_at, withdrawn_at)
           VALUES ($1, 'CH-01', 'Europe/Zurich', $2, '2026-11-02', now(),
                   CASE WHEN $3 THEN now() END)""",
        subject_id, hmac, withdrawn,
    )  # fmt: skip


async def messages_stored(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM messages"))


async def assert_refused(
    conn: asyncpg.Connection,
    message: MessageRecord,
    results: list[ResultRecord],
    assumed: BatchAssumptions,
) -> None:
    repository = LabRepository(conn, STORED_ID)
    repository.stage([message], results, [], [], NOW, assumptions=assumed)
    with pytest.raises(StaleBatch):
        await repository.write([])
    assert await messages_stored(conn) == 0


async def test_a_batch_that_took_an_enrolled_patient_for_not_enrolled_is_refused(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await enrol(conn, "S-7", "hmac-7", withdrawn=False)
        discarded = MessageRecord(
            uuid.uuid4(), "LIS^HOSP", "M-7", "mllp", "not-enrolled", None, 0, NOW
        )
        await assert_refused(conn, discarded, [], BatchAssumptions(subjects=[("hmac-7", None)]))


async def test_a_batch_that_took_a_withdrawn_subject_for_enrolled_is_refused(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await enrol(conn, "S-1", "hmac-1", withdrawn=True)
        message, result = message_with_result(8)
        assumed = BatchAssumptions(subjects=[("hmac-1", EnrolledSubject("S-1", "CH-01"))])
        await assert_refused(conn, message, [result], assumed)


async def test_a_batch_that_took_a_withdrawn_subjects_identifier_for_nobodys_is_refused(
    pool: asyncpg.Pool,
) -> None:
    """Only a read tells whether the message corrects their results or was collected before
    the withdrawal (migration 0012); the read returns them apart from those enrolled."""
    async with pool.acquire() as conn:
        await enrol(conn, "S-1", "hmac-1", withdrawn=True)
        discarded = MessageRecord(
            uuid.uuid4(), "LIS^HOSP", "M-1", "mllp", "not-enrolled", None, 0, NOW
        )
        await assert_refused(conn, discarded, [], BatchAssumptions(subjects=[("hmac-1", None)]))
        await enrol(conn, "S-3", "hmac-1", withdrawn=False)  # enrolled again, as S-3
        message, result = message_with_result(8)
        assumed = BatchAssumptions(subjects=[("hmac-1", EnrolledSubject("S-3", "CH-01"))])
        await assert_refused(conn, message, [result], assumed)  # S-1's late result, maybe
        lookup = await LabRepository(conn, STORED_ID).lookup([], ["hmac-1"], [])
    assert lookup.subjects == {"hmac-1": (EnrolledSubject("S-3", "CH-01"),)}
    ((subject, withdrawn_at),) = lookup.withdrawn["hmac-1"]
    assert subject == EnrolledSubject("S-1", "CH-01") and withdrawn_at is not None


@pytest.mark.parametrize(
    "assumed_subject",
    [EnrolledSubject("S-5", "CH-01"), EnrolledSubject("S-5", "CH-02")],
    ids=["another-subject-shares-the-identifier", "enrolled-at-another-site"],
)
async def test_a_batch_that_assumed_one_subject_where_the_directory_differs_is_refused(
    pool: asyncpg.Pool, assumed_subject: EnrolledSubject
) -> None:
    """The guard compares the whole set of subjects enrolled under the hash (ids and
    sites): a second subject, or a move to another site, sends the batch to a fresh read."""
    async with pool.acquire() as conn:
        await enrol(conn, "S-5", "hmac-5", withdrawn=False)
        if assumed_subject.site_id == "CH-01":
            await enrol(conn, "S-6", "hmac-5", withdrawn=False)
        message, result = message_with_result(5)
        assumed = BatchAssumptions(subjects=[("hmac-5", assumed_subject)])
        await assert_refused(conn, message, [result], assumed)


async def test_a_rejection_written_again_is_stored_and_emitted_once(pool: asyncpg.Pool) -> None:
    """A batch re-run after a commit whose answer was lost writes its rejections again,
    with the same ids (fixed with the command): one row, one event."""
    rejection = RejectionRecord(
        uuid.uuid4(), "mllp", "LIS^HOSP", "M-R", RejectionCode.UNKNOWN_ANALYTE, "no analyte",
        "MSH|...", NOW,
    )  # fmt: skip
    event = OutgoingEvent(LAB_REJECTED, rejected_event(rejection))
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        for _ in range(2):
            repository.stage([], [], [], [rejection], NOW)
            await repository.write([event])
        rows = await conn.fetchval("SELECT count(*) FROM rejections WHERE control_id = 'M-R'")
        events = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE event_id = $1", event.envelope.event_id
        )
    assert (rows, events) == (1, 1)


async def test_a_batch_whose_assumptions_hold_is_stored_in_one_write(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await enrol(conn, "S-1", "hmac-1", withdrawn=False)
        await enrol(conn, "S-2", "hmac-2", withdrawn=True)  # under another identifier
        repository = LabRepository(conn, STORED_ID)
        message, result = message_with_result(9)
        assumed = BatchAssumptions(
            subjects=[
                ("hmac-1", EnrolledSubject("S-1", "CH-01")),
                ("hmac-unknown", None),
            ],
            new_result_keys=[("LIS^HOSP", "R-9")],
        )
        repository.stage([message], [result], [], [], NOW, assumptions=assumed)
        await repository.write([])
        stored = await conn.fetchval(
            "SELECT count(*) FROM results WHERE result_key = $1", STORED_ID("R-9")
        )
        assert (await messages_stored(conn), stored) == (1, 1)


async def test_the_lookup_finds_the_head_of_a_chain_and_a_cancellation_withdraws_it(
    pool: asyncpg.Pool,
) -> None:
    """The head is the standing final or corrected result no other supersedes (rows of one
    batch may share a timestamp); a preliminary never heads a chain. Cancelling the head
    withdraws every version of that patient's result, and no other patient's (a key holds
    one patient's standing chain: migration 0011; another's preliminary may be stored)."""
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        message, final, corrected, preliminary = chain_of_versions()
        other_message, other = message_with_result(2)
        other = dataclasses.replace(other, result_key="R-1", subject_id="S-2", status="P")
        # the final is written last: by timestamp alone it would look like the newest
        repository.stage(
            [message, other_message], [corrected, preliminary, final, other], [], [], NOW
        )
        await repository.write([])
        lookup = await repository.lookup([], [], [("LIS^HOSP", "R-1")])
        # with what it says, so that a final result restating it is told from a change
        content = content_of(corrected.result, NOW)
        assert lookup.latest[("LIS^HOSP", "R-1")] == EarlierResult(
            corrected.result_id, "S-1", "crp", NOW, content, status="C"
        )
        cancel_message, _ = message_with_result(3)
        withdrawal = Withdrawal(corrected.result_id, cancel_message.message_id)
        repository.stage([cancel_message], [], [withdrawal], [], NOW)
        await repository.write([])
        rows = await conn.fetch("SELECT result_id, cancelled_at, cancelled_by_message FROM results")
    cancelled = {r["result_id"] for r in rows if r["cancelled_at"] is not None}
    assert cancelled == {final.result_id, corrected.result_id, preliminary.result_id}
    # each names the message that withdrew it (migration 0030); the other patient's none
    by = {r["result_id"]: r["cancelled_by_message"] for r in rows}
    assert {by[i] for i in cancelled} == {cancel_message.message_id}
    assert by[other.result_id] is None


async def test_the_head_of_a_chain_is_never_a_preliminary_or_a_superseded_result(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        message, final, corrected, preliminary = chain_of_versions()
        repository.stage([message], [corrected, preliminary, final], [], [], NOW)
        await repository.write([])
        lookup = await repository.lookup([], [], [("LIS^HOSP", "R-1")])
    assert lookup.latest == {
        ("LIS^HOSP", "R-1"): EarlierResult(
            corrected.result_id,
            "S-1",
            "crp",
            NOW,
            content_of(corrected.result, NOW),
            status="C",
        )
    }


async def test_a_sender_is_allowed_with_the_time_zone_it_writes_local_times_in(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        assert await add_source(conn, "LIS", "ZH", time_zone="Europe/Zurich") is True
        assert await add_source(conn, "LIS", "ZH") is False  # kept, zone unchanged
        assert await add_source(conn, "LIS", "BE") is True
        assert await add_source(conn, "LIS", "BE", site_id="CH-02") is False  # site set
        assert not await add_source(conn, "LIS", "ZH", identifier_authority="HOSP-ZH")
        assert not await add_source(conn, "LIS", "ZH", site_id="CH-01")  # authority kept
        sources = await LabRepository(conn, STORED_ID).allowed_sources()
    assert sources[("LIS", "ZH")] == Sender("Europe/Zurich", "CH-01", "HOSP-ZH")
    assert sources[("LIS", "BE")] == Sender(None, "CH-02")


async def test_migration_0014_writes_stored_key_times_in_full_but_never_merges_two_chains(
    pool: asyncpg.Pool,
) -> None:
    """Keys of results without an order number stored with their time as written (offset
    none) are written in full, as hl7_time.local_key writes new ones; two stored spellings
    of one time (the defect's two copies) are both left as they were."""
    keys = {
        1: "@202611200700|1988-5||abcd",  # minutes: written to the second
        2: "@20261120080000.50|1988-5||abcd",  # a fraction's trailing zero dropped
        3: "@2026112009|1988-5|2|abcd",  # the hour alone
        4: "@2026-11-20T06:00:00+00:00|1988-5||abcd",  # written with its offset: an instant
        5: "FL1|1988-5|",  # an order number
        6: "@202611201000|1988-5||abcd",  # two copies of one sample: both left apart
        7: "@20261120100000|1988-5||abcd",
    }
    async with pool.acquire() as conn:
        await as_before_migration_0019(conn)  # ids as the migration tested read them
        repository = LabRepository(conn, ids_as_written)
        for n, key in keys.items():
            message, result = message_with_result(n)
            repository.stage([message], [dataclasses.replace(result, result_key=key)], [], [], NOW)
            async with conn.transaction():
                await repository.write([])
        migration = (definition.migrations / "0014_result_key_times.sql").read_text()
        await conn.execute(migration)
    rows = await pool.fetch(
        "SELECT m.control_id, r.result_key FROM results r JOIN messages m USING (message_id)"
    )
    after = {int(row["control_id"].removeprefix("M-")): row["result_key"] for row in rows}
    assert after == {
        1: "@20261120070000|1988-5||abcd",
        2: "@20261120080000.5|1988-5||abcd",
        3: "@20261120090000|1988-5|2|abcd",
        4: keys[4],
        5: keys[5],
        6: keys[6],
        7: keys[7],
    }


async def test_migration_0014_forgets_the_digests_of_the_messages_it_rekeyed(
    pool: asyncpg.Pool,
) -> None:
    """A digest covers the keys: a resend of a message stored before would have been a
    reused id; without a digest it is taken as said again."""
    async with pool.acquire() as conn:
        await as_before_migration_0019(conn)  # ids as the migration tested read them
        repository = LabRepository(conn, ids_as_written)
        for n, key in ((1, "@202611200700|1988-5||abcd"), (2, "FL1|1988-5|")):
            message, result = message_with_result(n)
            message = dataclasses.replace(message, content_digest=f"digest-{n}")
            repository.stage([message], [dataclasses.replace(result, result_key=key)], [], [], NOW)
            async with conn.transaction():
                await repository.write([])
        await conn.execute((definition.migrations / "0014_result_key_times.sql").read_text())
    digests = dict(await pool.fetch("SELECT control_id, content_digest FROM messages"))
    assert digests == {"M-1": None, "M-2": "digest-2"}


async def test_migration_0015_reads_stored_explicit_nulls_as_no_value(pool: asyncpg.Pool) -> None:
    """An OBX-4 of "" left out of the key, an OBX-8 of "" no flag, as they are read now; a
    key another chain already has without it is left apart."""
    rows = {
        1: ('ORD1|1988-5|""', '""'),  # sub-id and flag
        2: ('@20261120070000|1988-5|""|abcd', "H"),  # an untracked key's sub-id
        3: ('ORD2|1988-5|""', None),  # both spellings stored: left apart
        4: ("ORD2|1988-5|", None),
        5: ('""|1988-5|', None),  # an order number of "": cannot be written again
    }
    async with pool.acquire() as conn:
        await as_before_migration_0019(conn)  # ids as the migration tested read them
        repository = LabRepository(conn, ids_as_written)
        for n, (key, flag) in rows.items():
            message, result = message_with_result(n)
            message = dataclasses.replace(message, content_digest=f"digest-{n}")
            normalised = dataclasses.replace(result.result, abnormal_flag=flag)
            result = dataclasses.replace(result, result_key=key, result=normalised)
            repository.stage([message], [result], [], [], NOW)
            async with conn.transaction():
                await repository.write([])
        await conn.execute((definition.migrations / "0015_explicit_null_values.sql").read_text())
    stored = await pool.fetch(
        "SELECT m.control_id, r.result_key, r.abnormal_flag, m.content_digest"
        " FROM results r JOIN messages m USING (message_id) ORDER BY m.control_id"
    )
    assert [tuple(r) for r in stored] == [
        ("M-1", "ORD1|1988-5|", None, None),
        ("M-2", "@20261120070000|1988-5||abcd", "H", None),
        ("M-3", 'ORD2|1988-5|""', None, "digest-3"),
        ("M-4", "ORD2|1988-5|", None, "digest-4"),
        ("M-5", '""|1988-5|', None, "digest-5"),
    ]


async def test_migration_0016_keeps_only_table_codes_as_flags(pool: asyncpg.Pool) -> None:
    """A flag that is no table code (a hospital number, a name) is removed from the stored
    results and from the events kept in the outbox; a code is written in upper case."""
    flags = {1: "h", 2: "ZZMRN123987", 3: "H", 4: None, 5: " > "}
    async with pool.acquire() as conn:
        await as_before_migration_0019(conn)  # ids as the migration tested read them
        repository = LabRepository(conn, ids_as_written)
        for n, flag in flags.items():
            message, result = message_with_result(n)
            result = dataclasses.replace(
                result, result=dataclasses.replace(result.result, abnormal_flag=flag)
            )
            event = OutgoingEvent(LAB_RESULTS, recorded_event(result, Channel.MLLP))
            repository.stage([message], [result], [], [], NOW)
            async with conn.transaction():
                await repository.write([event])
        await conn.execute((definition.migrations / "0016_abnormal_flag_codes.sql").read_text())
    stored = await pool.fetch(
        "SELECT m.control_id, r.abnormal_flag FROM results r JOIN messages m USING (message_id)"
        " ORDER BY m.control_id"
    )
    assert [tuple(r) for r in stored] == [
        ("M-1", "H"), ("M-2", None), ("M-3", "H"), ("M-4", None), ("M-5", ">"),
    ]  # fmt: skip
    kept = await pool.fetch("SELECT envelope FROM outbox ORDER BY id")
    published = [Envelope.from_bytes(bytes(r["envelope"])).payload["abnormal_flag"] for r in kept]
    assert published == ["h", None, "H", None, " > "]


async def test_the_lookup_reads_each_versions_report_field_with_the_chains_head(
    pool: asyncpg.Pool,
) -> None:
    """Migration 0032: the field each version's report time was read from is written with
    it and read by the one lookup that reads the chain (no query more): on the head, and
    beside each standing version's report time; NULL (not known) as stored before."""
    at, later = datetime(2026, 11, 20, 9, tzinfo=UTC), datetime(2026, 11, 20, 10, tzinfo=UTC)
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        message, final, corrected, _ = chain_of_versions()
        final = dataclasses.replace(final, reported_at=later, report_field=ReportField.OBR_22)
        corrected = dataclasses.replace(corrected, reported_at=at, report_field=ReportField.OBX_19)
        repository.stage([message], [final, corrected], [], [], NOW)
        await repository.write([])
        head = (await repository.lookup([], [], [("LIS^HOSP", "R-1")])).latest[("LIS^HOSP", "R-1")]
        assert (head.result_id, head.reported_at, head.report_field) == (
            corrected.result_id, at, ReportField.OBX_19
        )  # fmt: skip
        content = content_of(final.result, NOW)
        assert head.reports == {
            (content, later, ReportField.OBR_22),
            (content, at, ReportField.OBX_19),
        }
        await conn.execute("UPDATE results SET report_field = NULL")  # as stored before 0032
        head = (await repository.lookup([], [], [("LIS^HOSP", "R-1")])).latest[("LIS^HOSP", "R-1")]
    assert head.report_field is None and {r[2] for r in head.reports} == {None}


def _sample(
    source: str, part: str = "ORD7", seconds: int = 30, channel: str = "fhir"
) -> UnheldSample:
    """A final result of S-1's CRP from ``source`` (over ``channel``) taken for its sample's
    only copy."""
    return UnheldSample(source, "S-1", "crp", NOW + timedelta(seconds=seconds), part, channel)


async def _write_assuming(
    repository: LabRepository, n: int, sample: UnheldSample, *, refused: bool
) -> None:
    """Message ``n``'s result written by a fast-path batch that took ``sample`` for its
    only copy: refused (``StaleBatch``) where another sender holds it, else stored."""
    message, result = message_with_result(n)
    assumed = BatchAssumptions(unheld_samples=[sample])
    repository.stage([message], [result], [], [], NOW, assumptions=assumed)
    if refused:
        with pytest.raises(StaleBatch):
            await repository.write([])
    else:
        await repository.write([])


async def test_a_fast_path_final_is_refused_where_another_sender_holds_its_sample(
    pool: asyncpg.Pool,
) -> None:
    """Review 181 (migration 0033): the CRP of order ORD7 stands under LIS^HOSP; a batch
    that took the FHIR feed's copy of it for new is refused (read and planned again), one
    of another order, of a sample taken minutes apart, or of the same sender is not; nor
    (review 192, migration 0036) another HL7 sender's, over MLLP or POST /v1/hl7 (its
    order numbers are its own), nor a JSON result."""
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        message, result = message_with_result(1)
        result = dataclasses.replace(result, identifier_parts=frozenset({"ORD7"}))
        repository.stage([message], [result], [], [], NOW)
        await repository.write([])
        for n, sample, refused in [
            (2, _sample("lab^FHIR"), True),
            (3, _sample("lab^FHIR", part="ORD8"), False),
            (4, _sample("lab^FHIR", seconds=120), False),
            (5, _sample("LIS^HOSP"), False),
            (6, _sample("LAB2^CENTRAL", channel="mllp"), False),
            (7, _sample("LAB2^CENTRAL", channel="hl7-http"), False),
            (8, _sample("LAB2^CENTRAL", channel="json"), False),
        ]:
            await _write_assuming(repository, n, sample, refused=refused)
        stored = await conn.fetchval("SELECT count(*) FROM results")
    assert stored == 7


async def test_checking_a_fast_path_sample_probes_the_index_by_subject_and_time(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await fill(conn, 5000)  # S-1's results, collected now(), not at NOW
        read = "SELECT pg_stat_get_xact_tuples_returned('results'::regclass)"
        async with conn.transaction():
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            before = await conn.fetchval(read)
            repository = LabRepository(conn, STORED_ID)
            message, result = message_with_result(2000)
            assumed = BatchAssumptions(unheld_samples=[_sample("lab^FHIR")])
            repository.stage([message], [result], [], [], NOW, assumptions=assumed)
            await repository.write([])
            rows_read = await conn.fetchval(read) - before
    assert rows_read <= 1  # a scan of the patient's results would have read all 5,000 rows


async def test_a_fast_path_final_is_no_copy_of_parts_not_known_nor_another_fhir_senders(
    pool: asyncpg.Pool,
) -> None:
    """Review 188 (migration 0034): a result stored before 0031 (parts NULL) shares nothing;
    a FHIR sender's result is never another FHIR sender's copy (the HL7 feed's is)."""
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        message, result = message_with_result(1)
        result = dataclasses.replace(result, identifier_parts=frozenset({"ORD7"}))
        repository.stage([message], [result], [], [], NOW)
        await repository.write([])
        await conn.execute("UPDATE messages SET channel = 'fhir'")  # a FHIR token's result
        for n, sample, refused in [
            (2, _sample("central^FHIR"), False),
            (3, _sample("LIS^HOSP2", channel="mllp"), True),
        ]:
            await _write_assuming(repository, n, sample, refused=refused)
        await conn.execute("UPDATE results SET identifier_parts = NULL")  # as before 0031
        await _write_assuming(repository, 4, _sample("LIS^HOSP2", channel="mllp"), refused=False)
        stored = await conn.fetchval("SELECT count(*) FROM results")
    assert stored == 3
