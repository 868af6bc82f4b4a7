"""A batch whose write is cut off at the deadline (answered "nothing was stored, resend":
MLLP AR, HTTP 503) is not stored afterwards (review 40).

The fast path writes a batch as one statement outside a transaction block. When that
statement waits (here for a lock another session holds: an operator's open transaction, a
migration), the attempt is cut off and its connection closed, but PostgreSQL does not
notice a vanished client while it waits: without ending its server process, the statement
ran, and committed, once the lock went."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from tests.integration.lab_fixtures import crp_observation, msa, obx, oru
from tests.integration.messaging_fixtures import wait_until
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def locked(database: str) -> AsyncIterator[asyncpg.Connection]:
    """Another session holding a lock that the batch's write waits for, longer than the 5 s
    the service waits before it answers "resend"; released by the test (``rollback``)."""
    locker = await asyncpg.connect(database)
    try:
        yield locker
    finally:
        await locker.close()


async def _settled(lab: Lab) -> None:
    """Until no statement runs in the database but this check's own: a cut-off write still
    waiting for the lock (or running) once it went has then committed or ended. Not a fixed
    sleep: a busy machine may take longer than any guess."""

    async def quiet() -> bool:
        busy = await lab.pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state <> 'idle'"
        )
        return bool(busy == 0)

    await wait_until(quiet, timeout=30)


async def _lock_messages(locker: asyncpg.Connection) -> None:
    await locker.execute("BEGIN")
    await locker.execute("LOCK TABLE lab_ingestion.messages IN ACCESS EXCLUSIVE MODE")


async def test_an_mllp_message_answered_resend_is_not_stored_afterwards(
    lab: Lab, locked: asyncpg.Connection
) -> None:
    client = await lab.mllp()
    # the subject's first result: later batches of new results take the fast path
    assert msa(await client.exchange(oru("WARM-1", [obx("1988-5", "40", "mg/L")])))[1] == "AA"
    await _lock_messages(locked)
    ack = await client.exchange(oru("CUT-1", [obx("1988-5", "50", "mg/L")], order="CUT1"))
    await client.close()
    await locked.execute("ROLLBACK")  # the lock goes; the lab was told to resend
    await _settled(lab)

    assert msa(ack)[1:4] == ["AR", "CUT-1", "temporary internal error; nothing was stored, resend"]
    assert await lab.metric("lab_messages_rejected_total", reason="unknown") == 1
    stored = await lab.pool.fetchval(
        "SELECT count(*) FROM messages WHERE control_id = $1", lab.stored_id("CUT-1")
    )
    assert stored == 0, "stored after the lab was told nothing was stored"
    assert await lab.pool.fetchval("SELECT count(*) FROM outbox") == 1  # WARM-1's event
    assert await lab.metric("lab_results_stored_total") == 1


async def test_a_fhir_observation_answered_503_is_not_stored_afterwards(
    lab: Lab, locked: asyncpg.Connection
) -> None:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    observation = crp_observation("CUT-F")
    observation["effectiveDateTime"] = "2026-11-20T09:00:00+01:00"
    async with aiohttp.ClientSession() as http:
        url = f"{lab.http}/fhir/Observation"
        async with http.post(url, json=crp_observation("WARM-F"), headers=headers) as warm:
            assert warm.status == 201
        await _lock_messages(locked)
        async with http.post(url, json=observation, headers=headers) as answer:
            status = answer.status
    await locked.execute("ROLLBACK")
    await _settled(lab)

    assert status == 503
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 1  # WARM-F only
