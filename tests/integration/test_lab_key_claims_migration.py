"""Migration 0022's claims over ids an earlier version stored as written (review 85).

A deployment upgraded across migrations 0019 and 0022 at once (0019 applied, the service
not yet started since): the migrations all run first, then the service hashes the ids
stored as written (``hash_ids_stored_as_written``). 0022's backfill copied the keys as
written into result_key_claims, where nothing hashed them: an order number made of the
patient's name and birth date was kept there for good. Now 0022 claims hashed keys only
(its check refuses others) and the hashing claims the keys it hashes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from services.lab_ingestion.adapters.batch_rows import result_row
from services.lab_ingestion.adapters.stored_ids import hash_ids_stored_as_written
from services.lab_ingestion.bootstrap import definition
from services.lab_ingestion.domain.records import MessageRecord
from shared.db.pool import create_pool
from tests.integration.lab_fixtures import (
    STORED_ID,
    ids_as_written,
    migrate_before,
    migrate_lab,
)
from tests.integration.test_lab_stored_ids import crp_row

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
SURNAME, BIRTH = "DOE", "19580214"


async def test_a_key_stored_as_written_is_claimed_as_stored_never_as_written(
    database: str, tmp_path: Path
) -> None:
    await migrate_before(definition, database, 19, tmp_path / "migrations")
    pool = await create_pool(database, definition.schema, "test-review85-migration")
    key = f"V5551234-{SURNAME}-{BIRTH}|1988-5|"  # an order number made of the patient's name
    try:
        async with pool.acquire() as conn:  # stored by the earlier version, as written
            message = MessageRecord(
                uuid.uuid4(), "LIS^HOSP", f"{SURNAME}-1", "mllp", "accepted", "S-1", 1, NOW
            )
            rows = [
                (
                    message.message_id,
                    message.source,
                    message.control_id,
                    "mllp",
                    "accepted",
                    "S-1",
                    1,
                    NOW,
                    None,
                ),
            ]
            await conn.execute(
                "INSERT INTO messages (message_id, source, control_id, channel, outcome,"
                " subject_id, result_count, received_at, content_digest)"
                " SELECT * FROM unnest($1::message_row[])",
                rows,
            )
            await conn.execute(
                "INSERT INTO results (result_id, message_id, subject_id, source, result_key,"
                " analyte, loinc, value, unit, original_value, original_unit, reference_low,"
                " reference_high, abnormal_flag, status, collected_at, reported_at,"
                " supersedes_result_id, cancelled_at) SELECT * FROM unnest($1::result_row[])",
                # the row type's fields of then (0023 added laboratory_comment)
                [result_row(crp_row(message, key), ids_as_written)[:19]],
            )
        # the upgrade: every pending migration (0019-0022), then the service's start
        await migrate_lab(database)
        async with pool.acquire() as conn:
            assert await hash_ids_stored_as_written(conn, STORED_ID) == 2
            results = [r["k"] for r in await conn.fetch("SELECT result_key AS k FROM results")]
            claims = [
                r["k"] for r in await conn.fetch("SELECT result_key AS k FROM result_key_claims")
            ]
        assert results == [STORED_ID(key)]  # the results' key is hashed
        assert claims == [STORED_ID(key)], claims  # claimed as stored, never as written
        async with pool.acquire() as conn:
            with pytest.raises(asyncpg.CheckViolationError, match="result_key_claims_hashed"):
                await conn.execute("INSERT INTO result_key_claims VALUES ('LIS^HOSP', $1)", key)
    finally:
        await pool.close()
