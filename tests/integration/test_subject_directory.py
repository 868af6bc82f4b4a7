"""The subject directory every service keeps from trial.subjects.v1, on real PostgreSQL.

A subject withdrawn twice stays withdrawn from the earlier date: lab-ingestion stores a
withdrawn subject's results only when collected before the withdrawal, so a later date read
second would let the results collected in between count again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from shared.contracts.events.trial import SubjectEnrolled
from shared.subjects import Enrolment, SubjectDirectory
from tests.integration.lab_fixtures import migrated_lab_pool

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
EARLIER, LATER = AT + timedelta(days=3), AT + timedelta(days=10)
ENROLMENT = SubjectEnrolled(
    site_id="CH-01", site_timezone="Europe/Zurich", hospital_id_hmac="a" * 64,
    enrolled_at=AT, day1=date(2026, 11, 21),
)  # fmt: skip


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_lab_pool(database, "test-subject-directory")
    yield pool
    await pool.close()


async def _withdrawn_at(conn: asyncpg.Connection, subject_id: str) -> datetime:
    at: datetime = await conn.fetchval(
        "SELECT withdrawn_at FROM enrolled_subjects WHERE subject_id = $1", subject_id
    )
    return at


async def test_a_withdrawal_read_before_its_enrolment_still_withdraws_the_subject(
    pool: asyncpg.Pool,
) -> None:
    """After a re-published topic or a replay, the withdrawal may be read first: it was an
    UPDATE of nothing, marked processed and lost, and the subject counted as enrolled."""
    async with pool.acquire() as conn:
        directory = SubjectDirectory(conn)
        await directory.withdraw("S-9", AT + timedelta(days=3))
        await directory.enrol("S-9", ENROLMENT)
        assert not await directory.is_enrolled("S-9")
        assert await _withdrawn_at(conn, "S-9") == AT + timedelta(days=3)
        await directory.enrol("S-9", ENROLMENT)  # a redelivered enrolment changes nothing
        assert not await directory.is_enrolled("S-9")
        assert await conn.fetchval("SELECT count(*) FROM early_withdrawals") == 0


async def test_a_withdrawal_of_an_enrolled_subject_is_not_kept_as_early(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        directory = SubjectDirectory(conn)
        await directory.enrol("S-8", ENROLMENT)
        assert await directory.is_enrolled("S-8")
        await directory.withdraw("S-8", AT + timedelta(days=1))
        assert not await directory.is_enrolled("S-8")
        assert await conn.fetchval("SELECT count(*) FROM early_withdrawals") == 0


@pytest.mark.parametrize("order", [(EARLIER, LATER), (LATER, EARLIER)])
async def test_an_enrolled_subject_withdrawn_twice_keeps_the_earlier_withdrawal(
    pool: asyncpg.Pool, order: tuple[datetime, datetime]
) -> None:
    async with pool.acquire() as conn:
        directory = SubjectDirectory(conn)
        await directory.enrol("S-1", ENROLMENT)
        for at in order:
            await directory.withdraw("S-1", at)
        assert await _withdrawn_at(conn, "S-1") == EARLIER


@pytest.mark.parametrize("order", [(EARLIER, LATER), (LATER, EARLIER)])
async def test_two_withdrawals_read_before_the_enrolment_keep_the_earlier_one(
    pool: asyncpg.Pool, order: tuple[datetime, datetime]
) -> None:
    """A re-published topic, or a replay, can deliver both before the enrolment."""
    async with pool.acquire() as conn:
        directory = SubjectDirectory(conn)
        for at in order:
            await directory.withdraw("S-2", at)
        await directory.enrol("S-2", ENROLMENT)
        assert await _withdrawn_at(conn, "S-2") == EARLIER
        assert not await directory.is_enrolled("S-2")


async def test_an_enrolment_is_read_with_its_withdrawal_and_a_lone_withdrawal_is_none(
    pool: asyncpg.Pool,
) -> None:
    """What crp-monitor's series route reads (``enrolment``): a subject whose withdrawal
    alone was read is not known yet."""
    async with pool.acquire() as conn:
        directory = SubjectDirectory(conn)
        await directory.withdraw("S-3", EARLIER)
        assert await directory.enrolment("S-3") is None
        await directory.enrol("S-4", ENROLMENT)
        assert await directory.enrolment("S-4") == Enrolment("S-4", None, "CH-01")
        await directory.enrol("S-3", ENROLMENT)
        assert await directory.enrolment("S-3") == Enrolment("S-3", EARLIER, "CH-01")
        assert await directory.enrolment("S-5") is None


async def test_an_enrolment_after_the_subjects_withdrawal_is_not_applied(
    pool: asyncpg.Pool,
) -> None:
    """A withdrawal is final (a re-screened patient gets a new subject id): an enrolment
    of the subject dated after it changes nothing and says so (the handler dead-letters
    it, in every service keeping the directory: lab-ingestion, crp-monitor); the first
    enrolment read again still updates the row."""
    async with pool.acquire() as conn:
        directory = SubjectDirectory(conn)
        assert await directory.enrol("S-6", ENROLMENT)
        await directory.withdraw("S-6", EARLIER)
        again = ENROLMENT.model_copy(update={"enrolled_at": LATER, "hospital_id_hmac": "b" * 64})
        assert not await directory.enrol("S-6", again)
        row = await conn.fetchrow("SELECT * FROM enrolled_subjects WHERE subject_id = 'S-6'")
        assert (row["enrolled_at"], row["withdrawn_at"], row["hospital_id_hmac"]) == (
            AT, EARLIER, "a" * 64,
        )  # fmt: skip
        moved = ENROLMENT.model_copy(update={"site_id": "CH-02"})  # the first, corrected
        assert await directory.enrol("S-6", moved)
        assert await directory.enrolment("S-6") == Enrolment("S-6", EARLIER, "CH-02")
        assert (
            await conn.fetchval("SELECT site_id FROM enrolled_subjects WHERE subject_id = 'S-6'")
            == "CH-02"
        )
