"""A lock wait cut short by PostgreSQL's ``lock_timeout`` is a transient fault of the
database, not a poison message.

Production databases commonly run with ``lock_timeout`` set for application roles (so that a
migration or an operator's long transaction cannot pile up every writer behind it). A batch
whose write, or whose chain lock, waits longer than that fails with SQLSTATE 55P03
(``lock_not_available``, asyncpg's ``LockNotAvailableError``): nothing of it was stored and
the same work succeeds once the lock is gone, exactly like a ``statement_timeout`` (57014).
Taken for a poison message, the laboratory's result (a CRP correction here) was kept as a
``processing-failed`` rejection and answered AE "do not resend": never stored unless an
operator replayed it by hand.

So it is retried like any transient error within the 5 s deadline (AA once the lock goes),
or, when the lock outlives the deadline, answered AR "nothing was stored, resend", never AE
and never kept as the service's own failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.lab_ingestion.adapters.repository import CHAIN_LOCK
from shared.settings import PlatformSettings
from tests.integration.lab_batches import until_chain_lock_awaited
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    """lab-ingestion on a database whose sessions have ``lock_timeout`` = 300 ms."""
    conn = await asyncpg.connect(database)
    try:
        name = await conn.fetchval("SELECT current_database()")
        await conn.execute(f"ALTER DATABASE \"{name}\" SET lock_timeout = '300ms'")
    finally:
        await conn.close()
    async with running_lab(settings, database) as lab:
        yield lab


async def _processing_failed(lab: Lab) -> int:
    return int(
        await lab.pool.fetchval(
            "SELECT count(*) FROM rejections WHERE reason_code = 'processing-failed'"
        )
    )


async def test_a_correction_waiting_briefly_for_the_chain_lock_is_stored_and_answered_aa(
    lab: Lab, database: str
) -> None:
    client = await lab.mllp()
    first = oru("LT-1", [obx("1988-5", "40", "mg/L")], order="LTO1")
    assert msa(await client.exchange(first))[1] == "AA"

    # another writer of chains (a second instance, `cachexia replay`) holds the chain lock
    # for a second once the correction waits for it (over the 300 ms lock_timeout)
    locker = await asyncpg.connect(database)
    try:
        await locker.execute("SELECT pg_advisory_lock($1, $2)", *CHAIN_LOCK)
        correction = oru("LT-2", [obx("1988-5", "45", "mg/L", status="C")], order="LTO1")
        answer = asyncio.ensure_future(client.exchange(correction))
        await until_chain_lock_awaited(lab, answer)
        await asyncio.sleep(1.0)
        assert not answer.done(), "answered while the chain lock was held"
        await locker.execute("SELECT pg_advisory_unlock($1, $2)", *CHAIN_LOCK)
        ack = await answer
    finally:
        await locker.close()
    await client.close()

    assert msa(ack)[1] == "AA", f"a correction delayed by a lock wait was answered {msa(ack)}"
    stored = await lab.pool.fetchval("SELECT count(*) FROM results WHERE status = 'C'")
    assert stored == 1, "the correction was not stored"
    assert await _processing_failed(lab) == 0, "a lock wait was kept as a poison message"


async def test_a_correction_whose_chain_lock_outlives_the_deadline_is_answered_resend(
    lab: Lab, database: str
) -> None:
    client = await lab.mllp()
    first = oru("LT-A", [obx("1988-5", "40", "mg/L")], order="LTO2")
    assert msa(await client.exchange(first))[1] == "AA"

    # another writer of chains holds the chain lock beyond the 5 s the service waits
    locker = await asyncpg.connect(database)
    try:
        await locker.execute("SELECT pg_advisory_lock($1, $2)", *CHAIN_LOCK)
        correction = oru("LT-B", [obx("1988-5", "45", "mg/L", status="C")], order="LTO2")
        ack = await client.exchange(correction)
        await locker.execute("SELECT pg_advisory_unlock($1, $2)", *CHAIN_LOCK)
    finally:
        await locker.close()
    await client.close()

    code, _, text = msa(ack)[1:4]
    assert code == "AR", f"a lock wait was answered {code} ({text})"
    assert "resend" in text and "do not resend" not in text, text
    assert await _processing_failed(lab) == 0, "a lock wait was kept as a poison message"
