"""Faults of the database or its deployment, through the real MLLP socket and HTTP (review 145).

A grant revoked, a table a migration renamed, corruption: no datum of a lab's message causes
them, and the same message is stored once an operator repairs the database. They were kept as
the message's own failure (``processing-failed``, HL7 AE "kept and will be replayed: do not
resend", FHIR 422) while the next new result was answered AA: corrections were lost. Now they
are retried like a lost connection and then answered "nothing stored, resend" (AR; 503 with
Retry-After), nothing kept; the resend after the repair is stored once.

And the housekeeping that prunes old attempt tokens never fails a lab's write: with DELETE
revoked on ``committed_batches``, one message in 64 was answered AE and never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from services.lab_ingestion.adapters import batch_statements
from tests.integration.lab_fixtures import crp_observation, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

RESEND = "temporary internal error; nothing was stored, resend"


@contextlib.asynccontextmanager
async def as_application_role(
    database: str,
) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """The service's sessions as a role of their own (not the superuser, whom no REVOKE
    binds) with every grant on the database's schemas; yields an administrator's
    connection, to revoke and grant as an operator would, and the role. The service's sessions are
    ended so that its pools open new ones under the role."""
    admin = await asyncpg.connect(database)
    role = f"app_{uuid.uuid4().hex[:10]}"
    name = await admin.fetchval("SELECT current_database()")
    user = await admin.fetchval("SELECT current_user")
    await admin.execute(f"CREATE ROLE {role} NOLOGIN")
    schemas = await admin.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%'"
        " AND nspname <> 'information_schema'"
    )
    for (schema,) in schemas:
        await admin.execute(
            f'GRANT ALL ON SCHEMA "{schema}" TO {role};'
            f' GRANT ALL ON ALL TABLES IN SCHEMA "{schema}" TO {role};'
            f' GRANT ALL ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role};'
            f' GRANT ALL ON ALL FUNCTIONS IN SCHEMA "{schema}" TO {role}'
        )
    await admin.execute(f'ALTER ROLE "{user}" IN DATABASE "{name}" SET role = {role}')
    try:
        await end_sessions(admin)
        yield admin, role
    finally:
        await admin.execute(f'ALTER ROLE "{user}" IN DATABASE "{name}" RESET role')
        await end_sessions(admin)
        await admin.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")
        await admin.close()


async def end_sessions(admin: asyncpg.Connection) -> None:
    """End the other sessions on the database (as a fail-over does): pools open new ones."""
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        "   AND backend_type = 'client backend'"
    )
    await asyncio.sleep(0.3)


async def exchange(lab: Lab, message: str) -> tuple[str, str]:
    """The MSA code and text of the ACK to ``message``, on a connection of its own."""
    client = await lab.mllp()
    try:
        fields = msa(await client.exchange(message))
    finally:
        await client.close()
    return fields[1], fields[3] if len(fields) > 3 else ""


async def answered_again(lab: Lab) -> None:
    """Send (a patient not enrolled: nothing of interest stored) until the service answers
    AA again after its sessions were ended."""
    for n in range(40):
        message = oru(f"W-{n}", [obx("1988-5", "1", "mg/L")], mrn="NOBODY1", order=f"W{n}")
        if (await exchange(lab, message))[0] == "AA":
            return
        await asyncio.sleep(0.25)
    raise AssertionError("the service did not answer AA again")


async def post(http: aiohttp.ClientSession, lab: Lab, resource: dict[str, Any]) -> Any:
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with http.post(f"{lab.http}/fhir/Observation", json=resource, headers=auth) as response:
        body = await response.json()
        return response.status, response.headers.get("Retry-After"), body


async def kept_so_far(lab: Lab) -> tuple[int, int]:
    """The rejections kept and lab.rejected.v1 events written."""
    kept = await lab.pool.fetchval("SELECT count(*) FROM rejections")
    events = await lab.pool.fetchval("SELECT count(*) FROM outbox WHERE topic = 'lab.rejected.v1'")
    return kept, events


async def stored(lab: Lab, value: float) -> int:
    return int(await lab.pool.fetchval("SELECT count(*) FROM results WHERE value = $1", value))


async def test_a_grant_revoked_on_the_careful_path_is_answered_resend_never_kept(
    lab: Lab, database: str
) -> None:
    """SELECT revoked on ``messages``, which only corrections read (the careful path): the
    correction was answered AE (kept, "do not resend") over MLLP and 422 over FHIR."""
    async with as_application_role(database) as (admin, role), aiohttp.ClientSession() as http:
        await answered_again(lab)
        final = oru("SF-1", [obx("1988-5", "70", "mg/L")], order="SF1")
        assert (await exchange(lab, final))[0] == "AA"
        observation = crp_observation("SF-fhir-1")
        assert (await post(http, lab, observation))[0] == 201
        kept = await kept_so_far(lab)

        await admin.execute(f"REVOKE SELECT ON lab_ingestion.messages FROM {role}")
        correction = oru("SF-1C", [obx("1988-5", "71", "mg/L", status="C")], order="SF1")
        corrected = {**observation, "status": "corrected"}
        corrected["valueQuantity"] = {**observation["valueQuantity"], "value": 72}

        assert await exchange(lab, correction) == ("AR", RESEND)
        status, retry_after, body = await post(http, lab, corrected)
        assert (status, body["issue"][0]["code"]) == (503, "transient")
        assert retry_after is not None and int(retry_after) > 0
        assert await kept_so_far(lab) == kept
        assert (await stored(lab, 71), await stored(lab, 72)) == (0, 0)

        await admin.execute(f"GRANT SELECT ON lab_ingestion.messages TO {role}")
        assert (await exchange(lab, correction))[0] == "AA"
        assert (await post(http, lab, corrected))[0] in (200, 201)
        assert (await exchange(lab, correction))[0] == "AA"  # a duplicate now: not again
        assert (await stored(lab, 71), await stored(lab, 72)) == (1, 1)
        assert await kept_so_far(lab) == kept


@pytest.mark.parametrize("sqlstate", ["XX001", "42P01"])
async def test_a_storage_fault_on_a_new_result_is_answered_resend_never_kept(
    lab: Lab, database: str, sqlstate: str
) -> None:
    """A trigger raising a corrupted page (XX001) or a table missing (42P01) for every row
    going into ``results``: a new final result was kept as the message's own failure."""
    admin = await asyncpg.connect(database)
    try:
        await admin.execute(f"""
            CREATE FUNCTION public.storage_fault() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'storage fault' USING ERRCODE = '{sqlstate}'; END $$;
            CREATE TRIGGER storage_fault BEFORE INSERT ON lab_ingestion.results
              FOR EACH ROW EXECUTE FUNCTION public.storage_fault();
        """)  # fmt: skip
        message = oru("SN-1", [obx("1988-5", "73", "mg/L")], order="SN1")
        kept = await kept_so_far(lab)
        async with aiohttp.ClientSession() as http:
            assert await exchange(lab, message) == ("AR", RESEND)
            status, retry_after, _ = await post(http, lab, crp_observation("SN-fhir-1"))
            assert (status, retry_after is not None) == (503, True)
            assert await kept_so_far(lab) == kept
            await admin.execute("DROP TRIGGER storage_fault ON lab_ingestion.results")
            assert (await exchange(lab, message))[0] == "AA"
            assert (await post(http, lab, crp_observation("SN-fhir-1")))[0] == 201
        assert await stored(lab, 73) == 1
        assert await lab.pool.fetchval("SELECT count(*) FROM results") == 2
        assert await kept_so_far(lab) == kept
    finally:
        await admin.execute("DROP TRIGGER IF EXISTS storage_fault ON lab_ingestion.results")
        await admin.close()


async def test_a_prune_that_fails_never_fails_the_lab_s_write(
    lab: Lab, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every write prunes here (one in 64 in service), with DELETE revoked on
    ``committed_batches``: each message is answered AA and stored, nothing kept."""
    monkeypatch.setattr(batch_statements, "PRUNE_ONE_WRITE_IN", 1)
    async with as_application_role(database) as (admin, role):
        await answered_again(lab)
        kept = await kept_so_far(lab)
        await admin.execute(f"REVOKE DELETE ON lab_ingestion.committed_batches FROM {role}")
        answers = [
            await exchange(lab, oru(f"PR-{n}", [obx("1988-5", "74", "mg/L")], order=f"PR{n}"))
            for n in range(5)
        ]
        assert [code for code, _ in answers] == ["AA"] * 5
        assert await stored(lab, 74) == 5
        assert await kept_so_far(lab) == kept
