"""A lab token bound to its senders (`cachexia token create --sender`) delivers results only
under their names, over HTTP (HL7 and JSON); an unbound token, as before, under any."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.auth import Role, create_token
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        async with lab.pool.acquire() as conn:
            await add_source(conn, "OTHER", "LAB")  # allowed, but not the bound token's
        yield lab


def json_results(message_id: str, application: str, facility: str) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "source": {"application": application, "facility": facility},
        "patient": {"identifier": MRN},
        "results": [{"result_id": message_id, "loinc": "1988-5", "value": "12", "unit": "mg/L",
                     "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}],
    }  # fmt: skip


async def test_a_bound_token_delivers_only_as_its_senders(lab: Lab) -> None:
    async with lab.pool.acquire() as conn:
        token = await create_token(conn, "hosp-lis", Role.LAB, ["LIS^HOSP"])
    auth = {"Authorization": f"Bearer {token}"}
    crp = [obx("1988-5", "12", "mg/L")]
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{lab.http}/v1/hl7", data=oru("B-1", crp), headers=auth) as own:
            assert msa(await own.text())[1] == "AA"
        async with http.post(
            f"{lab.http}/v1/hl7", data=oru("B-2", crp, application="OTHER", facility="LAB"),
            headers=auth,
        ) as other:  # fmt: skip
            fields = msa(await other.text())
            assert fields[1:3] == ["AR", "B-2"] and "this token" in fields[3]
        async with http.post(
            f"{lab.http}/v1/lab-results", json=json_results("J-1", "LIS", "HOSP"), headers=auth
        ) as own_json:
            assert own_json.status == 202, await own_json.text()
        async with http.post(
            f"{lab.http}/v1/lab-results", json=json_results("J-2", "OTHER", "LAB"), headers=auth
        ) as other_json:
            assert other_json.status == 403
            assert "this token" in (await other_json.json())["detail"]
        unbound = {"Authorization": f"Bearer {lab.lab_token}"}
        async with http.post(
            f"{lab.http}/v1/lab-results", json=json_results("J-3", "OTHER", "LAB"), headers=unbound
        ) as any_sender:
            assert any_sender.status == 202, await any_sender.text()
    rejected = await lab.pool.fetch("SELECT control_id, reason_code FROM rejections")
    assert sorted((r["control_id"], r["reason_code"]) for r in rejected) == [
        ("B-2", "unknown-source"), ("J-2", "unknown-source"),
    ]  # fmt: skip
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 3


async def test_another_senders_unusable_message_is_answered_as_not_the_tokens(lab: Lab) -> None:
    """Whatever else is wrong with it (here: two patients), a bound token's message under
    another sender's name is rejected as such, not kept as that sender's mistake."""
    async with lab.pool.acquire() as conn:
        token = await create_token(conn, "hosp-lis", Role.LAB, ["LIS^HOSP"])
    message = oru("B-3", [obx("1988-5", "12", "mg/L")], application="OTHER", facility="LAB")
    two_patients = message.replace("\rNK1|", f"\rPID|2||{MRN}9^^^HOSP^MR\rNK1|", 1)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/v1/hl7", data=two_patients, headers=auth) as got,
    ):
        fields = msa(await got.text())
    assert fields[1:3] == ["AR", "B-3"] and "this token" in fields[3]
    assert await lab.pool.fetchval("SELECT reason_code FROM rejections") == "unknown-source"
