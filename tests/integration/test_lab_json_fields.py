"""Through the real ``POST /v1/lab-results`` (PostgreSQL and broker): a flag written as a word
is refused naming the field (it was taken and dropped: a critical result went out
unflagged), and a JSON sender's 422 reasons, kept copies and ``lab.rejected.v1`` events
name JSON's fields (``message_id``, ``result_id``, status ``corrected``), never HL7's
(``MSH-10``, ``OBX-11 C``, the order and test)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.lab_fixtures import MRN
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

HL7_FIELD = re.compile(r"\b(?:MSH|PID|OBR|OBX)-[0-9]+|order and test|order number")


def _body(message_id: str, value: str = "12.5", flag: str | None = None) -> dict[str, Any]:
    result = {"result_id": "R1", "loinc": "1988-5", "value": value, "unit": "mg/L",
              "reference_range": "0-5", "status": "final",
              "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    if flag is not None:
        result["abnormal_flag"] = flag
    return {"message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN}, "results": [result]}  # fmt: skip


@pytest.mark.parametrize("flag", ["Critical", "High", "Low"])
async def test_a_flag_written_as_a_word_is_refused_naming_the_field(lab: Lab, flag: str) -> None:
    status, answer = await lab.post_lab_results(_body("F-1", flag=flag))
    assert status == 400, answer
    assert answer["detail"].startswith("results[0].abnormal_flag: must be an abnormal flag code")
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    kept = await lab.pool.fetchval("SELECT reason_code FROM rejections")
    assert kept == "malformed-message"


async def test_a_flag_code_in_any_case_is_published_as_the_code(lab: Lab) -> None:
    status, answer = await lab.post_lab_results(_body("F-2", flag="h"))
    assert status == 202 and answer["results_stored"] == 1, answer
    assert await lab.pool.fetchval("SELECT abnormal_flag FROM results") == "H"


async def test_a_reused_message_id_is_told_as_the_message_id(lab: Lab) -> None:
    assert (await lab.post_lab_results(_body("J-1")))[0] == 202
    status, answer = await lab.post_lab_results(_body("J-1", value="13"))
    assert status == 422, answer
    assert "this message_id was used before" in answer["detail"], answer
    assert not HL7_FIELD.search(answer["detail"]), answer
    kept = await lab.pool.fetchval("SELECT reason FROM rejections")
    assert "message_id" in kept and not HL7_FIELD.search(kept), kept
    (event,) = await lab.events("lab.rejected.v1", 1)
    assert not HL7_FIELD.search(event.payload["reason"]), event.payload


async def test_a_changed_final_result_is_told_by_its_result_id_and_status(lab: Lab) -> None:
    assert (await lab.post_lab_results(_body("J-2")))[0] == 202
    status, answer = await lab.post_lab_results(_body("J-3", value="14"))
    assert status == 422, answer
    detail = answer["detail"]
    assert detail.startswith("results[0]: result-of-another-sample: send a changed final result "
                             "as a correction (status corrected)"), detail  # fmt: skip
    assert "this result_id already holds" in detail and not HL7_FIELD.search(detail), detail
