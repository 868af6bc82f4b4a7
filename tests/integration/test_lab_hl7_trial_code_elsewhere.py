"""Over the real MLLP socket (PostgreSQL, broker; twenty-third session): an OBX whose only
trial code is CRP's LOINC code under a local coding system's name (``1988-5^CRP^99LAB``),
beside a good haemoglobin, was left out and the message answered AA (a CRP of 85 never
reached the trial). It is refused as any unusable trial result of a message is: AE at that
OBX's OBX-3, kept, nothing of the message stored; the same code under LN is stored."""

from __future__ import annotations

import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import TS, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

MISFILED = f"NM|1988-5^CRP^99LAB||85|mg/L|0-5|H|||F|||{TS}"


def err(ack: str) -> str:
    return next(segment for segment in ack.split("\r") if segment.startswith("ERR"))


async def test_a_crp_code_under_a_local_systems_name_is_answered_ae_and_kept(lab: Lab) -> None:
    haemoglobin = obx("718-7", "12.5", "g/dL")
    client = await lab.mllp()
    try:
        refused = await client.exchange(oru("R125-1", [haemoglobin, MISFILED]))
        stored = await client.exchange(
            oru("R125-2", [haemoglobin, MISFILED.replace("^99LAB", "^LN")], order="ORD2")
        )
    finally:
        await client.close()
    fields = msa(refused)
    assert fields[1:3] == ["AE", "R125-1"], refused
    assert fields[3].startswith("LOINC code '1988-5' (crp) under coding system '99LAB'"), refused
    assert err(refused).startswith("ERR||OBX^2^3|103^"), refused
    rejection = await lab.pool.fetchrow("SELECT reason_code, reason, payload FROM rejections")
    assert rejection is not None and rejection["reason_code"] == "unknown-analyte"
    assert "LN, LOINC, LNC (check digit right) or 2.16.840.1.113883.6.1" in rejection["reason"]
    assert "1988-5^CRP^99LAB" in rejection["payload"]  # the kept copy shows the code
    assert msa(stored)[1] == "AA", stored
    rows = await lab.pool.fetch("SELECT analyte, value FROM results ORDER BY analyte")
    assert [(r["analyte"], r["value"]) for r in rows] == [("crp", 85), ("haemoglobin", 12.5)]
    rejected = await lab.events(LAB_REJECTED, 1)
    assert rejected[0].payload["reason_code"] == "unknown-analyte"
