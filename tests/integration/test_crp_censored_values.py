"""A censored CRP (the lab reported a limit, "<5 mg/L") on real PostgreSQL (no broker): stored
with its comparator (migration 0005), NULL for a measured value and for every result stored
before; the same censored result read again is a duplicate, and its result_id with another
comparator is dead-lettered reused-result-id, the one stored first standing."""

from __future__ import annotations

import uuid
from itertools import permutations
from pathlib import Path

import asyncpg
import pytest

from services.crp_monitor.adapters.repository import CrpSeriesRepository
from services.crp_monitor.bootstrap import definition
from shared.contracts.events.lab import Comparator
from shared.db.migrations import migrate_service
from shared.db.pool import create_pool
from tests.factories import crp_result
from tests.integration.lab_fixtures import migrate_before
from tests.integration.test_crp_corrections_across_subjects import (  # noqa: F401 - pool: the fixture
    Monitor,
    _id,
    _republished,
    pool,
    read_as_reused,
)

pytestmark = pytest.mark.integration

COMPARATORS = [*Comparator, None]


def _name(comparator: Comparator | None) -> str:
    return "measured" if comparator is None else comparator.value


async def _stored(db: asyncpg.Pool, result_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT value_mg_l, comparator, source_event_id FROM crp_results WHERE result_id = $1",
        result_id,
    )


async def test_a_censored_result_keeps_its_comparator_and_a_measured_one_none(
    pool: asyncpg.Pool,  # noqa: F811 - the fixture, imported
) -> None:
    monitor = Monitor(pool)
    results = [crp_result("S-A", 5.0, comparator=c) for c in COMPARATORS]
    await monitor.read(*results)
    assert await monitor.dead_letters() == []
    for result, comparator in zip(results, COMPARATORS, strict=True):
        row = await _stored(pool, _id(result))
        assert row is not None and (row["value_mg_l"], row["comparator"]) == (5.0, comparator)
    async with pool.acquire() as conn:
        read = await CrpSeriesRepository(conn).for_subject("S-A")
    assert {m.result_id: m.comparator for m in read} == {
        _id(result): comparator for result, comparator in zip(results, COMPARATORS, strict=True)
    }


@pytest.mark.parametrize("same_batch", [False, True])
async def test_a_censored_result_read_again_is_a_harmless_duplicate(
    pool: asyncpg.Pool,  # noqa: F811 - the fixture, imported
    same_batch: bool,
) -> None:
    monitor = Monitor(pool)
    result = crp_result("S-A", 5.0, comparator=Comparator.BELOW)
    again = (result, result, _republished(result, "S-A"))
    if same_batch:
        await monitor.read(*again)
    else:
        for envelope in again:
            await monitor.read(envelope)
    assert await monitor.dead_letters() == []
    assert await pool.fetchval("SELECT count(*) FROM crp_results") == 1
    row = await _stored(pool, _id(result))
    assert row is not None and row["comparator"] == "<"
    assert row["source_event_id"] == result.event_id


@pytest.mark.parametrize("same_batch", [False, True])
@pytest.mark.parametrize(("first", "then"), list(permutations(COMPARATORS, 2)), ids=_name)
async def test_the_same_result_id_with_another_comparator_is_dead_lettered_as_reused(
    pool: asyncpg.Pool,  # noqa: F811 - the fixture, imported
    same_batch: bool,
    first: Comparator | None,
    then: Comparator | None,
) -> None:
    """A 5 then <5, <5 then 5 or <=5: the same number, not the same result. The one stored
    first stands; the other is dead-lettered, never dropped unseen as a duplicate."""
    original = crp_result("S-A", 5.0, comparator=first)
    await read_as_reused(Monitor(pool), original, _republished(original, "S-A", comparator=then),
                         same_batch)  # fmt: skip
    row = await _stored(pool, _id(original))
    assert row is not None and row["comparator"] == first


async def test_the_column_takes_only_the_four_comparators(
    pool: asyncpg.Pool,  # noqa: F811 - the fixture, imported
) -> None:
    insert = """INSERT INTO crp_results (result_id, subject_id, value_mg_l, comparator,
                                         collected_at, status, source_event_id)
                VALUES ($1, 'S-A', 5.0, $2, now(), 'final', $1)"""
    for comparator in ("<", "<=", ">", ">=", None):
        await pool.execute(insert, uuid.uuid4(), comparator)
    for unknown in ("=", "~", "<5", "", "lt"):
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.execute(insert, uuid.uuid4(), unknown)


async def test_a_result_stored_before_migration_0005_reads_as_measured(
    database: str, tmp_path: Path
) -> None:
    await migrate_before(definition, database, 5, tmp_path / "migrations")
    result_id = uuid.uuid4()
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(f"SET search_path TO {definition.schema}, public")
        await conn.execute(  # as the version before stored it: no comparator
            """INSERT INTO crp_results (result_id, subject_id, value_mg_l, collected_at,
                                        status, source_event_id)
               VALUES ($1, 'S-A', 5.0, now(), 'final', $1)""",
            result_id,
        )
        applied = await migrate_service(
            conn, definition.schema, definition.migrations, definition.shared_migrations
        )
    finally:
        await conn.close()
    assert applied[0] == "service/0005_crp_censored_values"  # the later ones after it
    migrated = await create_pool(database, definition.schema, "test-crp-censored-0005")
    try:
        async with migrated.acquire() as conn:
            [measurement] = await CrpSeriesRepository(conn).for_subject("S-A")
    finally:
        await migrated.close()
    assert (measurement.result_id, measurement.comparator) == (result_id, None)
