"""Which message withdrew a result (migration 0030, ``results.cancelled_by_message``), and
what `cachexia message show` says of it (review 156): a cancellation that withdrew a CRP and
one under a key that never held a result were shown alike ("results: 0"), the withdrawal only
on the original message, with nothing naming the message that withdrew it. Support asked
whether the lab's cancellation was applied could not answer, and a mistyped order number
(the CRP left standing, counting toward the dose) looked like a successful withdrawal."""

from __future__ import annotations

import argparse
import re
import uuid
from typing import Any

import aiohttp
import pytest

from cachexia.messages import run_message_command
from tests.integration.lab_fixtures import MRN, crp_observation, msa, obx, oru
from tests.integration.test_lab_ingestion import SUBJECT, Lab

pytestmark = pytest.mark.integration


async def message_show(lab: Lab, control_id: str, capsys: pytest.CaptureFixture[str]) -> str:
    args = argparse.Namespace(
        command="message", message_command="show", control_id=control_id, source="LIS^HOSP"
    )
    assert await run_message_command(lab.settings, args) == 0
    return capsys.readouterr().out


async def message_id_of(lab: Lab, control_id: str) -> uuid.UUID:
    found: uuid.UUID = await lab.pool.fetchval(
        "SELECT message_id FROM messages WHERE control_id = $1", lab.stored_id(control_id)
    )
    return found


async def test_show_tells_a_withdrawal_applied_from_one_that_withdrew_nothing(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """MSG-6 withdraws the stored CRP (D); MSG-8 sends X under an order number that never
    held a result (accepted, nothing withdrawn): the CRP of ORD1 still stands."""
    client = await lab.mllp()
    for control_id, observation, order in (
        ("MSG-1", obx("1988-5", "40", "mg/L"), "ORD1"),
        ("MSG-2", obx("1988-5", "35", "mg/L"), "ORD2"),
        ("MSG-6", obx("1988-5", "", "", status="D"), "ORD1"),
        ("MSG-8", obx("1988-5", "", "", status="X"), "ORD9"),
    ):
        ack = msa(await client.exchange(oru(control_id, [observation], order=order)))
        assert ack[1] == "AA", ack
    await client.close()
    withdrawn = await lab.pool.fetchrow(
        "SELECT result_id, message_id FROM results WHERE cancelled_at IS NOT NULL"
    )
    assert withdrawn["message_id"] == await message_id_of(lab, "MSG-1")
    msg6 = await message_id_of(lab, "MSG-6")

    shown = await message_show(lab, "MSG-6", capsys)
    assert f"accepted (subject {SUBJECT})" in shown
    assert "withdrew: 1 result(s)" in shown, shown
    (line,) = [line for line in shown.splitlines() if str(withdrawn["result_id"]) in line]
    assert "crp" in line and f"stored by message {withdrawn['message_id']}" in line, line
    assert "nothing" not in shown
    assert MRN not in shown and "MSG-1" not in shown  # ids are never shown, only the rows'

    shown = await message_show(lab, "MSG-8", capsys)
    assert "withdrew: nothing (its 1 cancellation(s)" in shown, shown
    assert not re.search(r"withdrew: \d", shown), shown

    shown = await message_show(lab, "MSG-1", capsys)
    (line,) = [line for line in shown.splitlines() if "crp" in line]
    assert "withdrawn " in line and line.endswith(f" by message {msg6}"), line

    shown = await message_show(lab, "MSG-2", capsys)  # no cancellation: no word of any
    assert "withdr" not in shown, shown


async def test_a_cancellation_withdraws_every_version_and_names_each(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A final result and its correction, withdrawn together (X): both name the message that
    withdrew them, which lists both."""
    client = await lab.mllp()
    for control_id, observation in (
        ("V-1", obx("1988-5", "40", "mg/L")),
        ("V-2", obx("1988-5", "4", "mg/L", status="C")),
        ("V-3", obx("1988-5", "", "", status="X")),
    ):
        assert msa(await client.exchange(oru(control_id, [observation])))[1] == "AA"
    await client.close()
    by = await lab.pool.fetch("SELECT DISTINCT cancelled_by_message FROM results")
    assert [r["cancelled_by_message"] for r in by] == [await message_id_of(lab, "V-3")]
    shown = await message_show(lab, "V-3", capsys)
    assert "withdrew: 2 result(s)" in shown, shown
    assert len([line for line in shown.splitlines() if "stored by message" in line]) == 2


async def post(lab: Lab, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{lab.http}{path}", json=body) as response,
    ):
        return response.status, await response.json(content_type=None)


def json_message(message_id: str, status: str, value: str = "12.5") -> dict[str, Any]:
    result = {"result_id": "R-1", "loinc": "1988-5", "value": value, "unit": "mg/L",
              "status": status, "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    return {"message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN}, "results": [result]}  # fmt: skip


async def test_a_json_cancellation_names_what_it_withdrew(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    status, answer = await post(lab, "/v1/lab-results", json_message("J-1", "final"))
    assert status == 202, answer
    status, answer = await post(lab, "/v1/lab-results", json_message("J-2", "cancelled", ""))
    assert status == 202, answer
    shown = await message_show(lab, "J-2", capsys)
    assert "withdrew: 1 result(s)" in shown, shown
    assert f"stored by message {await message_id_of(lab, 'J-1')}" in shown, shown


async def test_a_fhir_withdrawal_names_its_message(lab: Lab) -> None:
    """A FHIR Observation is not found by `message show` (it has no id of its sender's), but
    the result it withdraws names its message all the same."""
    status, answer = await post(lab, "/fhir/Observation", crp_observation("W-1"))
    assert status == 201, answer
    withdrawal = crp_observation("W-1") | {"status": "entered-in-error"}
    withdrawal.pop("valueQuantity")
    status, answer = await post(lab, "/fhir/Observation", withdrawal)
    assert status == 200, answer
    rows = await lab.pool.fetch(
        "SELECT r.cancelled_by_message, w.result_count FROM results r"
        " JOIN messages w ON w.message_id = r.cancelled_by_message"
    )
    assert len(rows) == 1 and rows[0]["result_count"] == 0, rows
