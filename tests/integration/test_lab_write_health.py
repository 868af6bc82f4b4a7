"""A database that refuses writes is seen on /metrics (review 149): every message answered
"resend" is counted under reason "unknown", and lab_last_commit_timestamp_seconds stops
moving, while readiness (a SELECT 1) still reads postgres 1. The alerts LabResendAnswers
and LabNothingCommitted watch these (deploy/prometheus/alerts.yml)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

LAST_COMMIT = "lab_last_commit_timestamp_seconds"


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


@contextlib.asynccontextmanager
async def writes_refused(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """Every insert into the messages and rejections refused as in a read-only database."""
    await pool.execute(
        """CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION 'read only' USING ERRCODE = 'read_only_sql_transaction';
           END $$"""
    )
    for table in ("messages", "rejections"):
        await pool.execute(
            f"CREATE TRIGGER refuse_writes BEFORE INSERT ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes()"
        )
    try:
        yield
    finally:
        for table in ("messages", "rejections"):
            await pool.execute(f"DROP TRIGGER refuse_writes ON {table}")
        await pool.execute("DROP FUNCTION refuse_writes()")


async def test_writes_refused_stop_the_last_commit_clock_and_count_resends(lab: Lab) -> None:
    assert await lab.metric(LAST_COMMIT) == 0  # nothing written since the start
    assert await lab.metric("lab_mllp_open_connections") == 0
    client = await lab.mllp()
    before = time.time()
    assert msa(await client.exchange(oru("W-1", [obx("1988-5", "12", "mg/L")])))[1] == "AA"
    committed = await lab.metric(LAST_COMMIT)
    assert before - 1 <= committed <= time.time() + 1
    assert await lab.metric("lab_mllp_open_connections") == 1
    async with writes_refused(lab.pool):
        answer = await client.exchange(oru("W-2", [obx("1988-5", "13", "mg/L")], order="O2"))
        assert msa(answer)[1] == "AR"
        assert await lab.metric(LAST_COMMIT) == committed  # the clock stopped
        resends = await lab.metric("lab_messages_rejected_total", reason="unknown")
        assert resends == 1
        # what the runbook warns of: readiness reads, it does not write
        assert await lab.metric("cachexia_ready", dependency="postgres") == 1
    await client.close()


async def test_a_write_that_publishes_nothing_moves_the_last_commit_clock(lab: Lab) -> None:
    """A preliminary result is stored, never published: its commit is a write all the same,
    and the clock the alert LabNothingCommitted reads must move (review 151: it stood at 0
    while preliminaries, not-obtained results and their cancellations were written)."""
    client = await lab.mllp()
    before = time.time()
    preliminary = oru("P-1", [obx("1988-5", "12", "mg/L", status="P")], order="PO1")
    assert msa(await client.exchange(preliminary))[1] == "AA"
    assert await lab.pool.fetchval("SELECT count(*) FROM outbox") == 0  # nothing published
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    assert before - 1 <= await lab.metric(LAST_COMMIT) <= time.time() + 1
    await client.close()
