"""The database ends lab-ingestion's sessions while it stores messages (review 125): a
restart, a fail-over or ``pg_terminate_backend`` every 30 ms. A session ended between two
statements used to surface as asyncpg's ``InternalClientError`` ("cannot switch to state
12; another operation (2) is in progress"), taken for the message's own fault: kept as
``processing-failed`` and answered AE / 422, never to be replayed. Now every message, sent
over MLLP, HL7 over HTTP, FHIR and JSON, is either stored and answered AA / 2xx, or answered
"resend" (AR / 503) and stored when resent; each is stored exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.integration.lab_fixtures import MRN, MllpClient, crp_observation, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

ROUNDS = 6
END_EVERY_SECONDS = 0.03
ER7 = "x-application/hl7-v2+er7"
# the lab fixture's other service (its relay feeds the enrolment): left alone
_END_SESSIONS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
   AND application_name <> 'producer'
"""

Send = tuple[str, str, Any]  # channel, path (or "mllp"), body


def messages(round_: int) -> list[Send]:
    value = str(10 + round_)
    json_body = {
        "message_id": f"EJ{round_}",
        "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [{
            "result_id": f"EJR{round_}", "loinc": "1988-5", "value": value, "unit": "mg/L",
            "status": "final", "collected_at": "2026-11-20T08:00:00+01:00",
        }],
    }  # fmt: skip
    return [
        ("mllp", "mllp", oru(f"EM{round_}", [obx("1988-5", value, "mg/L")], order=f"OM{round_}")),
        ("hl7", "/v1/hl7", oru(f"EH{round_}", [obx("1988-5", value, "mg/L")], order=f"OH{round_}")),
        ("fhir", "/fhir/Observation", crp_observation(f"EF{round_}")),
        ("json", "/v1/lab-results", json_body),
    ]


async def answer(lab: Lab, mllp: MllpClient, send: Send) -> tuple[str, str]:
    """("stored" | "resend" | "failed", what was answered)."""
    channel, path, body = send
    if channel == "mllp":
        ack = await mllp.exchange(body)
        code = msa(ack)[1]
        if code == "AA":
            return "stored", ack
        return ("resend" if code == "AR" and "resend" in ack else "failed"), ack
    if channel == "hl7":
        data, content_type = body.encode(), ER7
    else:
        data = json.dumps(body).encode()
        content_type = "application/fhir+json" if channel == "fhir" else "application/json"
    headers = {"Authorization": f"Bearer {lab.lab_token}", "Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}{path}", data=data, headers=headers) as response,
    ):
        status, text = response.status, await response.text()
        retry_after = response.headers.get("Retry-After")
    if 200 <= status < 300 and (channel != "hl7" or msa(text)[1] == "AA"):
        return "stored", text
    if status == 503 and retry_after is not None:
        return "resend", text
    return "failed", f"{status} {text}"


@contextlib.asynccontextmanager
async def sessions_ended(database: str) -> AsyncIterator[list[int]]:
    """End every session of the database but the producer's every 30 ms, until left."""
    ended: list[int] = []
    stop = asyncio.Event()

    async def end() -> None:
        conn = await asyncpg.connect(database)
        try:
            while not stop.is_set():
                ended.append(await conn.fetchval(_END_SESSIONS))
                await asyncio.sleep(END_EVERY_SECONDS)
        finally:
            await conn.close()

    ender = asyncio.ensure_future(end())
    try:
        yield ended
    finally:
        stop.set()
        await ender


async def test_sessions_ended_under_load_are_answered_stored_or_resend(
    lab: Lab, database: str
) -> None:
    before = await lab.pool.fetchval("SELECT count(*) FROM messages")
    sends = [send for round_ in range(ROUNDS) for send in messages(round_)]
    mllp = await lab.mllp()
    answers: list[tuple[str, str]] = []
    async with sessions_ended(database) as ended:
        for round_ in range(ROUNDS):
            first, *others = messages(round_)
            answers.append(await answer(lab, mllp, first))
            answers += await asyncio.gather(*(answer(lab, mllp, send) for send in others))
    assert sum(ended) > ROUNDS, "sessions were ended under the messages"
    failed = [
        (send[:2], said)
        for send, (kind, said) in zip(sends, answers, strict=True)
        if kind == "failed"
    ]
    assert failed == []
    kept = await lab.pool.fetch(
        "SELECT channel, reason_code FROM rejections WHERE reason_code = 'processing-failed'"
    )
    assert kept == []
    # what was answered "resend" is resent, now that the database is left alone
    mllp = await reconnected(lab, mllp)
    for send, (kind, _) in zip(sends, answers, strict=True):
        if kind == "resend":
            assert (await answer(lab, mllp, send))[0] == "stored", send[:2]
    stored = await lab.pool.fetchval("SELECT count(*) FROM messages")
    assert stored - before == len(sends)  # each once: a resend is answered as a duplicate
    for send in sends:  # every one again: answered stored, and nothing stored twice
        assert (await answer(lab, mllp, send))[0] == "stored", send[:2]
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == stored
    await mllp.close()


async def reconnected(lab: Lab, mllp: MllpClient) -> MllpClient:
    with contextlib.suppress(OSError):
        await mllp.close()
    return await lab.mllp()
