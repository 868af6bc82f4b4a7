"""Review 112, through the real ``POST /v1/lab-results``: an entered-in-error of a result
that holds nothing is refused beside a new result as alone (it was dropped with a 202, the
erroneous value standing wherever it is stored); a body with a UTF-8 byte-order mark is read;
an id of blanks alone is refused."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.integration.lab_fixtures import MRN
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


def _result(result_id: str, status: str = "final", value: str = "12") -> dict[str, Any]:
    result = {"result_id": result_id, "loinc": "1988-5", "value": value, "status": status,
              "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    if value:
        result["unit"] = "mg/L"
    return result


def _body(message_id: str, *results: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN}, "results": list(results)}  # fmt: skip


async def _post(lab: Lab, raw: bytes) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {lab.lab_token}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/v1/lab-results", data=raw, headers=headers) as answer,
    ):
        return answer.status, await answer.json(content_type=None)


async def test_an_entered_in_error_of_nothing_is_refused_beside_a_new_result(lab: Lab) -> None:
    withdrawal = _result("E9", status="entered-in-error", value="")
    alone = await _post(lab, json.dumps(_body("A-1", withdrawal)).encode())
    beside = await _post(lab, json.dumps(_body("A-2", _result("N1"), withdrawal)).encode())
    assert alone[0] == 422, alone
    assert beside[0] == 422 and "results[1]" in beside[1]["detail"], beside
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0


async def test_a_body_with_a_byte_order_mark_is_read(lab: Lab) -> None:
    status, answer = await _post(
        lab, b"\xef\xbb\xbf" + json.dumps(_body("BOM-1", _result("B1"))).encode()
    )
    assert status == 202, answer


async def test_an_id_of_blanks_alone_is_refused(lab: Lab) -> None:
    status, answer = await _post(lab, json.dumps(_body(" ", _result("\t"))).encode())
    assert status == 400 and "no blank" in json.dumps(answer), answer
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 0
