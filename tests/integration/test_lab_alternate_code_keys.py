"""Results coded only in OBX-3's alternate identifier (``^Neut^^751-8^Neut^LN``), through the
real MLLP socket, database and broker: each result of the order is keyed by its own code, so
both are stored and published (keyed by the empty identifier, the second was refused AE "the
result under this key is neutrophils, not platelets"), and a correction finds its result."""

from __future__ import annotations

import pytest

from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import TS, msa, oru
from tests.integration.test_lab_ingestion import SUBJECT, Lab

pytestmark = pytest.mark.integration

NEUT = f"NM|^Neut^^751-8^Neut^LN||0.4|10*9/L|||||F|||{TS}"


def platelets(value: str, status: str) -> str:
    return f"NM|^PLT^^777-3^PLT^LN||{value}|10*9/L|||||{status}|||{TS}"


async def test_both_results_are_stored_and_published_and_a_correction_finds_its_own(
    lab: Lab,
) -> None:
    client = await lab.mllp()
    try:
        first = msa(await client.exchange(oru("ALT-1", [NEUT, platelets("250", "F")])))
        corrected = msa(await client.exchange(oru("ALT-2", [platelets("180", "C")])))
    finally:
        await client.close()
    assert first[1:3] == ["AA", "ALT-1"], first
    assert corrected[1:3] == ["AA", "ALT-2"], corrected

    rows = await lab.pool.fetch(
        "SELECT result_id, result_key, analyte, status, value, supersedes_result_id,"
        " subject_id FROM results ORDER BY recorded_at, analyte"
    )
    stored = [(r["result_key"], r["analyte"], r["status"], r["value"]) for r in rows]
    neutrophils, platelets_key = lab.stored_id("ORD1|751-8|"), lab.stored_id("ORD1|777-3|")
    assert stored == [
        (neutrophils, "neutrophils", "F", 0.4),
        (platelets_key, "platelets", "F", 250.0),
        (platelets_key, "platelets", "C", 180.0),
    ]
    assert {r["subject_id"] for r in rows} == {SUBJECT}
    assert rows[2]["supersedes_result_id"] == rows[1]["result_id"]  # found under its key

    events = [e.payload for e in await lab.events(LAB_RESULTS, 3)]
    published = [(e["analyte"], e["status"], e["value"], e["loinc"]) for e in events]
    assert sorted(published[:2]) == [
        ("neutrophils", "final", 0.4, "751-8"),
        ("platelets", "final", 250.0, "777-3"),
    ]
    assert published[2] == ("platelets", "corrected", 180.0, "777-3")
    assert events[2]["supersedes_result_id"] == str(rows[1]["result_id"])
