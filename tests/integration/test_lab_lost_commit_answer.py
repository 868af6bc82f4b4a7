"""Review 58: a batch whose commit reached PostgreSQL but whose answer was lost (a connection
reset right after COMMIT: a fail-over, a network blip) is retried by the group committer
(README: "a batch is retried for 5 s, so that a connection reset ... is ridden out"). The
retry found its own messages stored and answered them as duplicates: the lab sent each once
and its results were stored, yet lab_messages_duplicate_total counted them as resends and
lab_results_stored_total never counted their results.

Now each batch carries an attempt token its write stores (migration 0020): the retry asks
whether it committed and answers what the lost attempt planned. The first test is the
reviewer's, as written; the others hold the careful path, a FHIR transaction, a rejection
and an attempt that did not commit to the same."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import crp_observation, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


async def test_a_batch_retried_after_its_commit_answer_was_lost_counts_what_happened(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await lab.mllp()
    assert msa(await client.exchange(oru("WARM-1", [obx("1988-5", "40", "mg/L")])))[1] == "AA"

    real_commit = LabIngestionUnitOfWork.commit
    lost = {"once": True}

    async def commit_then_lose_the_answer(self: LabIngestionUnitOfWork) -> None:
        await real_commit(self)  # COMMIT done on the server
        if lost.pop("once", False):
            raise ConnectionResetError("connection reset after COMMIT")  # answer lost

    monkeypatch.setattr(LabIngestionUnitOfWork, "commit", commit_then_lose_the_answer)
    ack = await client.exchange(
        oru("ONCE-1", [obx("1988-5", "55", "mg/L", observed="20261120091500+0100")], order="O2")
    )
    await client.close()
    stored = await lab.pool.fetchval("SELECT count(*) FROM results")
    duplicates = await lab.metric("lab_messages_duplicate_total", channel="mllp")
    results = await lab.metric("lab_results_stored_total", channel="mllp")
    assert msa(ack)[1] == "AA"
    assert stored == 2  # WARM-1's and ONCE-1's: each message sent once, each stored once
    assert duplicates == 0, "a message the lab sent once is counted as a resend"
    assert results == stored, "a stored result is missing from lab_results_stored_total"


@pytest.fixture
def lost_answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """From now on, each batch's first commit lands and its answer is lost (or, with
    "before" appended, fails before it reaches the database); the list names each."""
    happened: list[str] = []
    real_commit = LabIngestionUnitOfWork.commit

    async def commit(self: LabIngestionUnitOfWork) -> None:
        fail_before = happened[-1:] == ["before"]
        if fail_before:
            happened[-1] = "failed before COMMIT"
            raise ConnectionResetError("connection reset before COMMIT")
        if happened[-1:] == ["armed"]:
            await real_commit(self)
            happened[-1] = "answer lost"
            raise ConnectionResetError("connection reset after COMMIT")
        await real_commit(self)

    monkeypatch.setattr(LabIngestionUnitOfWork, "commit", commit)
    yield happened


async def test_a_correction_on_the_careful_path_is_answered_and_counted_once(
    lab: Lab, lost_answers: list[str]
) -> None:
    """A correction takes the chain lock, in a transaction: its COMMIT lands, its answer is
    lost; the retry answers it stored (AA), and it corrects, and is published, once."""
    client = await lab.mllp()
    assert msa(await client.exchange(oru("CF-1", [obx("1988-5", "40", "mg/L")])))[1] == "AA"
    lost_answers.append("armed")
    ack = await client.exchange(oru("CF-2", [obx("1988-5", "35", "mg/L", status="C")]))
    await client.close()
    assert lost_answers == ["answer lost"]
    assert msa(ack)[1:3] == ["AA", "CF-2"] and "1 result(s) stored" in msa(ack)[3]
    stored = await lab.pool.fetch("SELECT status FROM results ORDER BY recorded_at")
    assert [r["status"] for r in stored] == ["F", "C"]
    assert await lab.pool.fetchval("SELECT count(*) FROM committed_batches") == 2
    assert await lab.metric("lab_messages_duplicate_total") == 0
    assert await lab.metric("lab_results_stored_total", channel="mllp") == 2
    events = await lab.events(LAB_RESULTS, 2)
    assert [e.payload["status"] for e in events] == ["final", "corrected"]


async def test_a_fhir_transaction_is_answered_created_and_counted_once(
    lab: Lab, lost_answers: list[str]
) -> None:
    entries = [
        {"resource": crp_observation("TX-1")},
        {"resource": crp_observation("TX-2") | {"effectiveDateTime": "2026-11-21T08:00:00Z"}},
    ]
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    lost_answers.append("armed")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/fhir", json=transaction, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        answer = await response.json()
    assert lost_answers == ["answer lost"]
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created"] * 2
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 2
    assert await lab.metric("lab_messages_duplicate_total", channel="fhir") == 0
    assert await lab.metric("lab_messages_accepted_total", channel="fhir") == 2
    assert await lab.metric("lab_results_stored_total", channel="fhir") == 2


async def test_a_rejection_is_answered_kept_and_published_once(
    lab: Lab, lost_answers: list[str]
) -> None:
    client = await lab.mllp()
    lost_answers.append("armed")
    ack = await client.exchange(oru("RJ-1", [obx("1988-5", "12", "furlongs")]))
    await client.close()
    assert lost_answers == ["answer lost"]
    assert msa(ack)[1] == "AE"
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 1
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 0
    assert await lab.metric("lab_messages_rejected_total", channel="mllp") == 1
    assert len(await lab.events(LAB_REJECTED, 1)) == 1
    assert await lab.pool.fetchval("SELECT count(*) FROM outbox") == 1


async def test_a_batch_whose_commit_never_landed_is_planned_and_stored_again(
    lab: Lab, lost_answers: list[str]
) -> None:
    """The reset before COMMIT: nothing of the batch was stored, its token neither; the
    retry plans it afresh, as before the token, and stores it once."""
    client = await lab.mllp()
    lost_answers.append("before")
    ack = await client.exchange(oru("NL-1", [obx("1988-5", "40", "mg/L")]))
    await client.close()
    assert lost_answers == ["failed before COMMIT"]
    assert msa(ack)[1] == "AA" and "1 result(s) stored" in msa(ack)[3]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    assert await lab.pool.fetchval("SELECT count(*) FROM committed_batches") == 1
    assert await lab.metric("lab_messages_duplicate_total") == 0
    assert await lab.metric("lab_results_stored_total", channel="mllp") == 1
