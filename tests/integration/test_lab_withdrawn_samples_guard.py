"""The fast path's write checks the lab's other feed's withdrawn results of a sample too
(review 202, migration 0038): HL7 F 12 withdrawn, a FHIR final of the sample taken for new is
sent to the careful path (which refuses a late copy and stores another value); a withdrawn
preliminary result, never published, is no copy."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.lab_ingestion.adapters.repository import LabRepository
from tests.integration.lab_fixtures import STORED_ID, migrated_lab_pool
from tests.integration.test_lab_repository import (
    NOW,
    _sample,
    _write_assuming,
    message_with_result,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_lab_pool(database, "test-lab-withdrawn-samples-guard")
    yield pool
    await pool.close()


@pytest.mark.parametrize(("status", "refused"), [("F", True), ("C", True), ("P", False)])
async def test_a_fast_path_final_is_sent_to_be_read_where_the_other_feed_withdrew_its_sample(
    pool: asyncpg.Pool, status: str, refused: bool
) -> None:
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        message, result = message_with_result(1)
        result = dataclasses.replace(
            result, status=status, identifier_parts=frozenset({"ORD7"}), cancelled_at=NOW,
            cancelled_by=message.message_id,
        )  # fmt: skip
        repository.stage([message], [result], [], [], NOW)
        await repository.write([])
        await _write_assuming(repository, 2, _sample("lab^FHIR"), refused=refused)
        await _write_assuming(repository, 3, _sample("lab^FHIR", part="ORD8"), refused=False)
        await _write_assuming(repository, 4, _sample("LAB2^CENTRAL", channel="mllp"), refused=False)
