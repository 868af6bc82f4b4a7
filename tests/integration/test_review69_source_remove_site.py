"""Review 69: `cachexia source remove` leaves the sender's JSON (and FHIR) results flowing
without its site: another site's patient with the same hospital number is matched.

README.md line 1025: "`cachexia source remove --application MSH3 --facility MSH4` | take a
sender off the allow-list: within 2 s its HL7 messages (MLLP, `/v1/hl7`) are refused (`AR`,
`unknown-source`, kept); JSON and FHIR deliveries are authorised by lab tokens, so it names
the tokens in use that may still deliver as the sender (revoke them)".
README.md lines 426-428: "Hospital numbers are unique only within their hospital: give each
sender the trial site whose patients it reports (`--site`) ... and it is matched against that
site's subjects only."

An operator who removes a CH-02 laboratory (to stop it, or to re-add it) expects its
deliveries to stop or at least to stay CH-02's. The removal deletes the sender's site with
it, yet a token bound to the sender keeps delivering JSON as that sender, now matched against
*every* site: the CH-02 hospital's patient MRN4711 is stored as CH-01's subject S-100 (who
has MRN4711 at the other hospital). The README mentions the tokens, not that their results
lose the site scoping. A bound token's delivery as a sender that is no longer configured
should be refused (kept `unknown-source`), or at least never matched across sites.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source, remove_source
from shared.auth import Role, create_token
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, crp_observation
from tests.integration.test_lab_ingestion import SUBJECT, Lab, running_lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:  # S-100 enrolled at CH-01 as MRN
        yield lab


def _body(message_id: str) -> dict[str, object]:
    return {
        "message_id": message_id,
        "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [
            {"result_id": message_id, "loinc": "1988-5", "value": "12.5", "unit": "mg/L",
             "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}
        ],
    }  # fmt: skip


async def test_a_removed_senders_results_are_never_matched_to_another_site(lab: Lab) -> None:
    async with lab.pool.acquire() as conn:  # the laboratory of the CH-02 hospital
        await add_source(conn, "LIS", "HOSP", site_id="CH-02")
        token = await create_token(conn, "ch02 lab", Role.LAB, ["LIS^HOSP"])
    await asyncio.sleep(2.5)
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{lab.http}/v1/lab-results", json=_body("J-1"), headers=auth) as r:
            assert (await r.json())["enrolled"] is False  # CH-02 has no subject MRN4711
        async with lab.pool.acquire() as conn:
            assert await remove_source(conn, "LIS", "HOSP")  # cachexia source remove
        await asyncio.sleep(2.5)
        async with http.post(f"{lab.http}/v1/lab-results", json=_body("J-2"), headers=auth) as r:
            answer = r.status, await r.text()
        fhir = {**auth, "Content-Type": "application/fhir+json"}
        observation = json.dumps(crp_observation("F-1")).encode()
        async with http.post(f"{lab.http}/fhir/Observation", data=observation, headers=fhir) as r:
            fhir_answer = r.status, await r.json()
    stored = await lab.pool.fetchval("SELECT count(*) FROM results WHERE subject_id = $1", SUBJECT)
    assert stored == 0, f"the CH-02 patient's result was stored as CH-01's {SUBJECT}: {answer}"
    assert answer[0] == 403 and "no longer" in answer[1], answer
    assert fhir_answer[0] == 403, fhir_answer
    assert fhir_answer[1]["issue"][0]["code"] == "forbidden"
    rows = await lab.pool.fetch("SELECT control_id, reason_code, reason FROM rejections")
    assert {r["reason_code"] for r in rows} == {"unknown-source"} and len(rows) == 2
    assert all("'LIS^HOSP' is not on the allow-list" in r["reason"] for r in rows)
