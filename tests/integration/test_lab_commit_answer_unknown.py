"""Review 110 (1): a batch whose commit landed but whose answer was lost, and whose retry finds
its token committed by an attempt whose plan is not known here (``CommitAnswerLost``), was
answered AR / 503 "temporary internal error; nothing was stored, resend": false, the message
was stored (its resend is answered as stored), and counted as an outage (reason "unknown").
Now it is answered AR / 503 saying it was stored and its answer lost (resend to learn what),
and counted under its own reason, ``answer-lost``.

Staged as review 107's loss is, through the real interfaces: the first attempt's COMMIT
lands and its answer is lost; the token's row then names another attempt than the one kept
here (as a row written before migration 0027 names none)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, crp_observation, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

LOST = "stored, but its answer was lost; resend it to learn what was stored"


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


@pytest.fixture
def unknown_answer(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Append "armed": the next batch's COMMIT lands, its answer is lost, and its token is
    then recorded as another attempt's, one whose plan this instance never kept."""
    happened: list[str] = []
    real_commit = LabIngestionUnitOfWork.commit

    async def commit(self: LabIngestionUnitOfWork) -> None:
        if happened[-1:] != ["armed"]:
            await real_commit(self)
            return
        staged = self.labs._staged
        assert staged is not None and staged.token is not None
        await real_commit(self)
        await lab.pool.execute(
            "UPDATE committed_batches SET attempt = $1 WHERE token = $2", uuid.uuid4(), staged.token
        )
        happened[-1] = "answer lost"
        raise ConnectionResetError("connection reset after COMMIT")

    monkeypatch.setattr(LabIngestionUnitOfWork, "commit", commit)
    yield happened


async def rejected(lab: Lab, channel: str, reason: str) -> float:
    return await lab.metric("lab_messages_rejected_total", channel=channel, reason=reason)


async def test_mllp_answers_stored_with_its_answer_lost_and_counts_it_apart(
    lab: Lab, unknown_answer: list[str]
) -> None:
    client = await lab.mllp()
    message = oru("UA-1", [obx("1988-5", "40", "mg/L")])
    unknown_answer.append("armed")
    ack = await client.exchange(message)
    assert unknown_answer == ["answer lost"]
    assert msa(ack)[1:4] == ["AR", "UA-1", LOST]
    assert "nothing was stored" not in ack
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1  # it was stored
    assert await rejected(lab, "mllp", "answer-lost") == 1
    assert await rejected(lab, "mllp", "unknown") == 0  # not an outage: nothing lost
    # the resend the answer asks for tells what was stored
    again = await client.exchange(message)
    await client.close()
    assert msa(again)[1] == "AA" and "already stored" in msa(again)[3]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


async def test_hl7_over_http_answers_503_stored_with_its_answer_lost(
    lab: Lab, unknown_answer: list[str]
) -> None:
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    unknown_answer.append("armed")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{lab.http}/v1/hl7", data=oru("UA-2", [obx("1988-5", "40", "mg/L")]), headers=auth
        ) as answer,  # fmt: skip
    ):
        status, ack, retry = answer.status, await answer.text(), answer.headers.get("Retry-After")
    assert (status, retry, msa(ack)[1:4]) == (503, "5", ["AR", "UA-2", LOST])
    assert await rejected(lab, "hl7-http", "answer-lost") == 1
    assert await rejected(lab, "hl7-http", "unknown") == 0


async def post(lab: Lab, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}{path}", json=body, headers=auth) as answer,
    ):
        assert answer.headers.get("Retry-After") == "5"
        return answer.status, await answer.json(content_type=None)


async def test_fhir_answers_an_operation_outcome_saying_it_was_stored(
    lab: Lab, unknown_answer: list[str]
) -> None:
    unknown_answer.append("armed")
    status, outcome = await post(lab, "/fhir/Observation", crp_observation("UA-3"))
    (issue,) = outcome["issue"]
    assert (status, issue["code"]) == (503, "transient")
    assert LOST in issue["diagnostics"] and "nothing was stored" not in issue["diagnostics"]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    assert await rejected(lab, "fhir", "answer-lost") == 1
    assert await rejected(lab, "fhir", "unknown") == 0


async def test_fhir_batch_whose_entries_all_lost_their_answer_says_so(
    lab: Lab, unknown_answer: list[str]
) -> None:
    entries = [{"resource": crp_observation("UA-4")}]
    unknown_answer.append("armed")
    status, outcome = await post(lab, "/fhir", {"resourceType": "Bundle", "type": "batch",
                                                "entry": entries})  # fmt: skip
    assert status == 503 and LOST in outcome["issue"][0]["diagnostics"]


async def test_json_answers_a_problem_saying_it_was_stored(
    lab: Lab, unknown_answer: list[str]
) -> None:
    body = {
        "message_id": "UA-5", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [{"result_id": "R-UA-5", "loinc": "1988-5", "value": "50", "unit": "mg/L",
                     "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}],
    }  # fmt: skip
    unknown_answer.append("armed")
    status, problem = await post(lab, "/v1/lab-results", body)
    assert status == 503 and LOST in problem["detail"], problem
    assert "nothing was stored" not in problem["detail"]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    assert await rejected(lab, "json", "answer-lost") == 1
    assert await rejected(lab, "json", "unknown") == 0
