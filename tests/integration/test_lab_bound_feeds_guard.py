"""The fast path's write checks a FHIR result's laboratory by its token's binding (fixer 212,
migration 0039): a FHIR message stored with ``feed_of`` LAB1^F1 holds no sample of
LAB2^F2's HL7 final taken for new, but LAB1^F1's; one stored with none (an unbound token,
or before the migration) holds every HL7 sender's; a FHIR final bound to LAB1^F1 counts
LAB1^F1's HL7 results only. The message's ``feed_of`` is written beside its row."""

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
    pool = await migrated_lab_pool(database, "test-lab-bound-feeds-guard")
    yield pool
    await pool.close()


async def _held(
    repository: LabRepository, n: int, source: str, channel: str, feed: str | None
) -> None:
    """Message ``n``: ``source``'s final CRP of S-1 under ORD7, over ``channel``."""
    message, result = message_with_result(n)
    message = dataclasses.replace(message, source=source, channel=channel, feed_of=feed)
    result = dataclasses.replace(result, source=source, identifier_parts=frozenset({"ORD7"}))
    repository.stage([message], [result], [], [], NOW)
    await repository.write([])


@pytest.mark.parametrize(("feed", "lab2_refused"), [("LAB1^F1", False), (None, True)])
async def test_an_hl7_final_counts_fhir_results_of_its_laboratory_or_unbound(
    pool: asyncpg.Pool, feed: str | None, lab2_refused: bool
) -> None:
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        await _held(repository, 1, "lab1^FHIR", "fhir", feed)
        assert await conn.fetchval("SELECT feed_of FROM messages") == feed
        lab2 = _sample("LAB2^F2", channel="mllp")
        await _write_assuming(repository, 2, lab2, refused=lab2_refused)
        await _write_assuming(repository, 3, _sample("LAB1^F1", channel="mllp"), refused=True)


async def test_a_bound_fhir_final_counts_its_senders_hl7_results_only(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        repository = LabRepository(conn, STORED_ID)
        await _held(repository, 1, "LAB2^F2", "mllp", None)
        bound = _sample("lab1^FHIR")._replace(feed_of="LAB1^F1")
        await _write_assuming(repository, 2, bound, refused=False)
        await _write_assuming(repository, 3, _sample("lab1^FHIR"), refused=True)
        await _held(repository, 4, "LAB1^F1", "hl7-http", None)
        await _write_assuming(repository, 5, bound, refused=True)
