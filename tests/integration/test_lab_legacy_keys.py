"""A result stored before 7a953a8 under the key OBX-3's identifier alone made (``ORD1||``,
the code only in the alternate triplet), through the real MLLP socket, database and broker:
after the upgrade (keys by the alternate code, ``ORD1|751-8|``), the stored message resent
under its MSH-10 or the final under a new one is a duplicate, a correction supersedes the
stored result and a cancellation withdraws it, where they found nothing under the new key
(``legacy_keys``)."""

from __future__ import annotations

import asyncio

import pytest

from services.lab_ingestion.adapters import hl7_observation
from services.lab_ingestion.domain.model import Coding
from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import TS, msa, oru
from tests.integration.test_lab_ingestion import SUBJECT, Lab

pytestmark = pytest.mark.integration


def neutrophils(value: str, status: str) -> str:
    return f"NM|^Neut^^751-8^Neut^LN||{value}|10*9/L|||||{status}|||{TS}"


def _old_key_code(sent: list[Coding]) -> str:  # before 7a953a8: OBX-3's identifier alone
    return sent[0].code if sent else ""


async def test_a_result_stored_before_the_upgrade_is_found_under_its_old_key(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await lab.mllp()
    try:
        with monkeypatch.context() as m:  # stored by the version before 7a953a8
            m.setattr(hl7_observation, "key_code", _old_key_code)
            stored = msa(await client.exchange(oru("OLD-1", [neutrophils("0.4", "F")])))
        acks = []
        for control_id, value, status in [("OLD-1", "0.4", "F"), ("NEW-1", "0.4", "F"),
                                          ("NEW-2", "0.9", "C"), ("NEW-3", "", "X")]:  # fmt: skip
            acks.append(msa(await client.exchange(oru(control_id, [neutrophils(value, status)]))))
            await asyncio.sleep(0.1)  # each its own batch: the chain is read from the database
    finally:
        await client.close()
    assert stored[1:3] == ["AA", "OLD-1"], stored
    # OLD-1 again: its digest was made with the old key, a resend (no reused id)
    assert [a[1:3] for a in acks] == [
        ["AA", "OLD-1"], ["AA", "NEW-1"], ["AA", "NEW-2"], ["AA", "NEW-3"]
    ], acks  # fmt: skip

    rows = await lab.pool.fetch(
        "SELECT result_id, result_key, status, value, supersedes_result_id, subject_id,"
        " cancelled_at FROM results ORDER BY recorded_at"
    )
    old_key = lab.stored_id("ORD1||")
    assert [(r["result_key"], r["status"], r["value"]) for r in rows] == [
        (old_key, "F", 0.4),  # the resent final stored no second row
        (old_key, "C", 0.9),
    ]
    assert rows[1]["supersedes_result_id"] == rows[0]["result_id"]
    assert all(r["cancelled_at"] is not None for r in rows)  # the cancellation withdrew both
    assert {r["subject_id"] for r in rows} == {SUBJECT}
    claimed = await lab.pool.fetch("SELECT result_key FROM result_key_claims")
    assert lab.stored_id("ORD1|751-8|") not in {r["result_key"] for r in claimed}

    events = await lab.events(LAB_RESULTS, 3)
    kinds = [(e.event_type, e.payload.get("status"), e.payload.get("value")) for e in events]
    assert kinds == [
        ("LabResultRecorded", "final", 0.4),
        ("LabResultRecorded", "corrected", 0.9),
        ("LabResultCancelled", None, None),
    ]
    assert events[1].payload["supersedes_result_id"] == str(rows[0]["result_id"])
