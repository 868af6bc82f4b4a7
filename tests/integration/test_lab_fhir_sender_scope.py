"""A FHIR push is kept under its token's name and judged by the sender its token is bound
to (FHIR names no sender).

A lab token bound to one sender (``token create --sender LIS^CH02LAB``, a sender of site
CH-02) has that sender's site, time zone and identifier authority applied to its FHIR, as to
its HL7 and JSON, so its result is never matched to a subject of site CH-01 who happens to
share the hospital number (hospital numbers are unique only within their hospital), nor by a
number of another authority; its results are kept under ``<token name>^FHIR`` whatever its
binding, so that it corrects after the binding what it sent before. A token bound to several
senders cannot say which one a FHIR resource is from: it is refused (403, kept
``unknown-source``), unless one of its senders is ``<token name>^FHIR`` (then no other
sender's configuration applies, as for an unbound token).
"""

from __future__ import annotations

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.auth import Role, create_token
from tests.integration.lab_fixtures import MRN, crp_observation, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


def _json(message_id: str) -> dict[str, object]:
    return {
        "message_id": message_id,
        "source": {"application": "LIS", "facility": "CH02LAB"},
        "patient": {"identifier": MRN},
        "results": [{"result_id": message_id, "loinc": "1988-5", "value": "50", "unit": "mg/L",
                     "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}],
    }  # fmt: skip


async def test_a_token_bound_to_another_sites_lab_never_stores_for_this_sites_subject(
    lab: Lab,
) -> None:
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "CH02LAB", site_id="CH-02")
        token = await create_token(conn, "ch02-lab", Role.LAB, ["LIS^CH02LAB"])
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        # control: the same token over JSON, as its own sender: CH-02's patient, not ours
        async with http.post(
            f"{lab.http}/v1/lab-results", json=_json("CH02-J1"), headers=auth
        ) as response:
            answer = await response.json()
            assert response.status == 202 and answer["enrolled"] is False, answer
        async with http.post(
            f"{lab.http}/fhir/Observation", json=crp_observation("CH02-F1"), headers=auth
        ) as response:
            status, outcome = response.status, await response.json()
    stored = await lab.pool.fetch("SELECT source, subject_id, value FROM results")
    assert [dict(r) for r in stored] == [], (
        f"CH-02's result was stored for site CH-01's subject (HTTP {status}, {outcome})"
    )


async def test_a_token_bound_to_an_authoritys_sender_never_matches_another_authoritys_number(
    lab: Lab,
) -> None:
    """LIS^HOSP numbers its patients under authority HOSP: over HL7 a number of another
    authority is never matched (README: missing-patient-identifier). The same laboratory's
    token over FHIR, naming the patient by another hospital's number that equals our
    subject's MRN, has it matched and stored."""
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "HOSP", identifier_authority="HOSP")
        token = await create_token(conn, "hosp-lis", Role.LAB, ["LIS^HOSP"])
    observation = crp_observation("AUTH-F1")
    observation["subject"] = {"identifier": {"system": "urn:oid:1.2.3.4.5.6", "value": MRN}}
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        # control: the same over HL7 is refused (missing-patient-identifier), nothing stored
        hl7 = oru("AUTH-H1", [obx("1988-5", "50", "mg/L")], pid3=f"{MRN}^^^OTHERHOSP^MR")
        async with http.post(f"{lab.http}/v1/hl7", data=hl7, headers=auth) as response:
            assert msa(await response.text())[1] == "AE"
        async with http.post(
            f"{lab.http}/fhir/Observation", json=observation,
            headers={"Authorization": f"Bearer {token}"},
        ) as response:  # fmt: skip
            status, outcome = response.status, await response.json()
    stored = await lab.pool.fetch("SELECT source, subject_id, value FROM results")
    assert [dict(r) for r in stored] == [], (
        f"another authority's number was matched to the subject (HTTP {status}, {outcome})"
    )


async def _post(lab: Lab, token: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.post(
        f"{lab.http}/fhir/Observation", json=body,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:  # fmt: skip
        return response.status, await response.json()


async def test_a_token_bound_to_several_senders_is_refused_on_fhir_and_kept(lab: Lab) -> None:
    async with lab.pool.acquire() as conn:
        token = await create_token(conn, "two-labs", Role.LAB, ["LIS^HOSP", "LIS^CH02LAB"])
    status, outcome = await _post(lab, token, crp_observation("TWO-1"))
    assert status == 403, outcome
    issues = outcome["issue"]
    assert isinstance(issues, list)
    assert issues[0]["code"] == "forbidden"
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    assert await lab.pool.fetchval("SELECT reason_code FROM rejections") == "unknown-source"


async def test_a_token_bound_to_its_own_fhir_name_delivers_as_it(lab: Lab) -> None:
    async with lab.pool.acquire() as conn:
        token = await create_token(conn, "hub", Role.LAB, ["LIS^HOSP", "hub^FHIR"])
    status, outcome = await _post(lab, token, crp_observation("HUB-1"))
    assert status == 201, outcome
    assert await lab.pool.fetchval("SELECT source FROM results") == "hub^FHIR"


async def test_a_token_bound_to_one_sender_keeps_its_fhir_under_its_own_name(lab: Lab) -> None:
    async with lab.pool.acquire() as conn:
        token = await create_token(conn, "hosp-lis", Role.LAB, ["LIS^HOSP"])
    status, outcome = await _post(lab, token, crp_observation("ONE-1"))
    assert status == 201, outcome
    assert await lab.pool.fetchval("SELECT source FROM results") == "hosp-lis^FHIR"


async def test_once_bound_a_token_corrects_what_it_stored_before(lab: Lab) -> None:
    """Results a token stored over FHIR before it was bound to its laboratory's sender are
    corrected by it after (review 67: they were refused, a resend stored twice)."""
    status, _ = await _post(lab, lab.lab_token, crp_observation("UPG-1"))
    assert status == 201
    correction = crp_observation("UPG-1") | {"status": "corrected"}
    quantity = {"value": 25, "unit": "mg/L", "system": "http://unitsofmeasure.org", "code": "mg/L"}
    correction["valueQuantity"] = quantity
    async with lab.pool.acquire() as conn:
        bound = await create_token(conn, "central-lab", Role.LAB, ["LIS^HOSP"])
    status, outcome = await _post(lab, bound, correction)
    assert status == 201, outcome
    rows = await lab.pool.fetch(
        "SELECT source, status, value, supersedes_result_id IS NOT NULL AS corrects"
        " FROM results ORDER BY status DESC"
    )
    assert [tuple(r) for r in rows] == [
        ("central-lab^FHIR", "F", 20.0, False),  # crp_observation's
        ("central-lab^FHIR", "C", 25.0, True),
    ]
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 0


async def test_a_fhir_tokens_allow_list_entry_never_opens_mllp(lab: Lab) -> None:
    """Review 132: `source add hub FHIR` (the README's way to give a FHIR token its site)
    also let anyone send HL7 as MSH-3 ``hub``, MSH-4 ``FHIR``, with that site's patients."""
    async with lab.pool.acquire() as conn:
        await add_source(conn, "hub", "FHIR", site_id="CH-01")
    client = await lab.mllp()
    try:
        fields = msa(await client.exchange(oru("HUB-MLLP-1", [obx("1988-5", "50", "mg/L")],
                                               application="hub", facility="FHIR")))  # fmt: skip
    finally:
        await client.close()
    assert fields[1] == "AR", fields
    assert "FHIR token's entry" in fields[3], fields
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    assert await lab.pool.fetchval("SELECT reason_code FROM rejections") == "unknown-source"
