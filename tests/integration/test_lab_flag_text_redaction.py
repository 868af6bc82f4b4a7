"""Review 39 (4): free text a sender wrote in an abnormal flag (a name) is not kept in the
rejection copies (``lab_ingestion.rejections.payload``, shown by ``cachexia rejection show``);
a flag that is a code is."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.integration.lab_fixtures import MRN, msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


async def test_a_json_flag_that_is_no_code_is_masked_in_the_rejection(lab: Lab) -> None:
    result = {"result_id": "R1", "loinc": "1988-5", "value": "12.5", "unit": "furlongs",
              "abnormal_flag": "Muster H", "status": "final",
              "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    body = {"message_id": "J-FLAG", "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN}, "results": [result]}  # fmt: skip
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{lab.http}/v1/lab-results", json=body, headers=auth) as answer:
            # a flag that is no code is refused by name (it was taken, then dropped)
            assert answer.status == 400, await answer.text()
            assert "results[0].abnormal_flag" in await answer.text()
        body["message_id"], result["abnormal_flag"] = "J-FLAG-2", "Hans Muster"  # too long
        async with http.post(f"{lab.http}/v1/lab-results", json=body, headers=auth) as answer:
            assert answer.status == 400, await answer.text()
    kept = [r["payload"] for r in await lab.pool.fetch("SELECT payload FROM rejections")]
    assert len(kept) == 2
    assert not [p for p in kept if "Muster" in p], kept
    assert {json.loads(p)["results"][0]["abnormal_flag"] for p in kept} == {"[redacted]"}


async def test_an_hl7_flag_that_is_no_code_is_masked_in_the_rejection(lab: Lab) -> None:
    client = await lab.mllp()
    obx = "NM|1988-5^CRP^LN||20|furlongs|0-5|Meier Anna~H|||F|||20261120081500+0100"
    ack = await client.exchange(oru("FLAG-1", [obx]))
    await client.close()
    assert msa(ack)[1] == "AE"
    kept = await lab.pool.fetchval("SELECT payload FROM rejections")
    assert "Meier" not in kept and "Anna" not in kept, kept
    assert "|0-5|[redacted]~H|" in kept, kept
