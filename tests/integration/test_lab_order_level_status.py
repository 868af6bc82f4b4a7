"""Over the real MLLP socket: an order's own status (ORC-1 order control, OBR-25 result status
of the order) is read where it says what no OBX-11 says (review 133).

An order cancelled as a whole with no result under it (``ORC|OC``, OBR-25 ``X``) is refused
``unknown-result-status`` with ERR at OBR-25 (ORC-1 when OBR-25 is empty), kept, and the
result stored under that order before still stands: the lab is told to send each result's
cancellation, never "no result of a trial analyte" (of no interest). A trial result final
(OBX-11 F) under an order cancelled (OBR-25 X; ORC-1 OC, OBR-25 empty) is refused, kept,
neither stored nor published: which of the two is right cannot be told. An order's status
lagging its results' (OBR-25 P, OBX-11 F) is as before: the result's status is read."""

from __future__ import annotations

import pytest

from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from tests.integration.lab_fixtures import TS, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

_OBR = f"OBR|1|PLC1|ORD1|LAB^Lab panel|||{TS}"


def ordered(control_id: str, observations: list[str], *, orc1: str = "RE", obr25: str = "") -> str:
    """``oru``'s message with an ORC (ORC-1 ``orc1``) opening its order, OBR-25 ``obr25``."""
    message = oru(control_id, observations)
    assert _OBR in message
    return message.replace(_OBR, f"ORC|{orc1}|PLC1|ORD1\r{_OBR}" + "|" * 18 + obr25)


def err(ack: str) -> str:
    return next(segment for segment in ack.split("\r") if segment.startswith("ERR"))


async def _rejections(lab: Lab) -> list[tuple[str, str, str]]:
    rows = await lab.pool.fetch(
        "SELECT reason_code, reason, payload FROM rejections ORDER BY received_at"
    )
    return [(r["reason_code"], r["reason"], r["payload"]) for r in rows]


def _order_lines(payload: str) -> list[str]:
    """The kept copy's ORC and OBR lines: what a replay reads the order's status from."""
    return [line for line in payload.split("\r") if line[:3] in {"ORC", "OBR"}]


async def _standing(lab: Lab) -> list[tuple[str, float, str]]:
    rows = await lab.pool.fetch(
        "SELECT analyte, value, status FROM results WHERE cancelled_at IS NULL ORDER BY value"
    )
    return [(r["analyte"], r["value"], r["status"]) for r in rows]


async def test_an_order_cancelled_as_a_whole_without_results_is_refused_and_kept(
    lab: Lab,
) -> None:
    client = await lab.mllp()
    stored = await client.exchange(oru("OC-1", [obx("1988-5", "50", "mg/L")]))
    assert msa(stored)[1] == "AA", stored
    cancelled = await client.exchange(ordered("OC-2", [], orc1="OC", obr25="X"))
    assert msa(cancelled)[1] == "AE", cancelled
    reason = msa(cancelled)[3]
    assert "cancelled" in reason and "OBX-11 X or D" in reason, reason
    assert err(cancelled).startswith("ERR||OBR^1^25|103^"), cancelled
    # ORC-1 alone says so (OBR-25 empty): ERR names ORC-1
    requested = await client.exchange(ordered("OC-3", [], orc1="CA"))
    assert msa(requested)[1] == "AE" and "ORC-1 CA" in msa(requested)[3], requested
    assert err(requested).startswith("ERR||ORC^1^1|103^"), requested
    # another test's result under a cancelled order is what it was: no trial result
    other = await client.exchange(
        ordered("OC-4", [obx("2345-7", "5.1", "mmol/L")], orc1="OC", obr25="X")
    )
    assert msa(other)[1] == "AE" and "no result of a trial analyte" in msa(other)[3], other
    another = oru("OC-5", [obx("1988-5", "7", "mg/L")]).replace("ORD1", "ORD2")
    sentinel = await client.exchange(another)
    assert msa(sentinel)[1] == "AA", sentinel
    await client.close()
    # the CRP stored under the order still stands, nothing else was stored
    assert await _standing(lab) == [("crp", 7.0, "F"), ("crp", 50.0, "F")]
    rejections = await _rejections(lab)
    assert [code for code, _, _ in rejections] == [
        "unknown-result-status", "unknown-result-status", "unknown-analyte",
    ]  # fmt: skip
    assert "OBR-25 X" in rejections[0][1] and "ORC-1 CA" in rejections[1][1]
    orc, obr = _order_lines(rejections[0][2])
    assert orc.startswith("ORC|OC|") and obr.endswith("|X"), (orc, obr)
    events = await lab.events(LAB_RESULTS, 2)
    assert [e.payload["value"] for e in events] == [50.0, 7.0]
    rejected = await lab.events(LAB_REJECTED, 3)
    assert sorted(e.payload["reason_code"] for e in rejected) == [
        "unknown-analyte", "unknown-result-status", "unknown-result-status",
    ]  # fmt: skip


async def test_a_final_result_under_a_cancelled_order_is_refused_and_kept(lab: Lab) -> None:
    client = await lab.mllp()
    contradicting = await client.exchange(
        ordered("CX-1", [obx("1988-5", "53", "mg/L")], orc1="OC", obr25="X")
    )
    assert msa(contradicting)[1] == "AE", contradicting
    reason = msa(contradicting)[3]
    assert "OBR-25 X" in reason and "OBX-11 F" in reason, reason
    assert err(contradicting).startswith("ERR||OBR^1^25|103^"), contradicting
    deleted = await client.exchange(
        ordered("CX-2", [obx("1988-5", "54", "mg/L", status="P")], obr25="D")
    )
    assert msa(deleted)[1] == "AE" and "OBR-25 D" in msa(deleted)[3], deleted
    # OBR-25 empty, ORC-1 says the order is cancelled: ERR names ORC-1
    by_control = await client.exchange(
        ordered("CX-4", [obx("1988-5", "56", "mg/L")], orc1="OC").replace("ORD1", "ORD4")
    )
    assert msa(by_control)[1] == "AE" and "ORC-1 OC" in msa(by_control)[3], by_control
    assert err(by_control).startswith("ERR||ORC^1^1|103^"), by_control
    # the order's status lagging its result's: the result's is read
    lagging = await client.exchange(
        ordered("CX-3", [obx("1988-5", "55", "mg/L")], obr25="P").replace("ORD1", "ORD3")
    )
    assert msa(lagging)[1] == "AA", lagging
    await client.close()
    assert await _standing(lab) == [("crp", 55.0, "F")]
    rejections = await _rejections(lab)
    assert [code for code, _, _ in rejections] == ["unknown-result-status"] * 3
    orc, obr = _order_lines(rejections[0][2])
    assert orc.startswith("ORC|OC|") and obr.endswith("|X"), (orc, obr)
    events = await lab.events(LAB_RESULTS, 1)
    assert [e.payload["value"] for e in events] == [55.0]
