"""Over the real MLLP socket (PostgreSQL, broker; review 126): an absolute neutrophil count
whose OBX-6 writes ``x10^9/L`` with a plain caret (the unit PROTOCOL section 6 lists, as
many laboratory systems write it) was answered AE, ``unit 'x10\\S\\9/L' cannot be converted
to 10*9/L for neutrophils``; so was a platelet count in ``10^3/uL``. Both are stored and
published in 10*9/L, their original unit as the laboratory meant it; a caret splitting
OBX-6 into no listed unit is refused with its cause named."""

from __future__ import annotations

import pytest

from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


async def test_a_count_whose_unit_caret_is_unescaped_is_stored_as_meant(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        stored = await client.exchange(
            oru(
                "R126-1",
                [obx("26499-4", "0.7", "x10^9/L", sub_id="1"), obx("777-3", "45", "10^3/uL^^L")],
            )
        )
        refused = await client.exchange(
            oru("R126-2", [obx("26499-4", "0.7", "x10^12/L")], order="ORD2")
        )
    finally:
        await client.close()
    assert msa(stored)[1:3] == ["AA", "R126-1"], stored
    rows = await lab.pool.fetch(
        "SELECT analyte, value, unit, original_unit FROM results ORDER BY analyte"
    )
    assert [tuple(r) for r in rows] == [
        ("neutrophils", 0.7, "10*9/L", "x10^9/L"),
        ("platelets", 45.0, "10*9/L", "10^3/uL"),
    ]
    events = await lab.events(LAB_RESULTS, 2)
    published = sorted(
        (e.payload["analyte"], e.payload["value"], e.payload["unit"], e.payload["original_unit"])
        for e in events
    )
    assert published == [
        ("neutrophils", 0.7, "10*9/L", "x10^9/L"),
        ("platelets", 45.0, "10*9/L", "10^3/uL"),
    ]
    assert msa(refused)[1:3] == ["AE", "R126-2"], refused
    assert "OBX-6 holds 'x10' and '12/L' as two components" in msa(refused)[3], refused
    assert "\rERR||OBX^1^6|" in refused, refused  # the unit's field
    rejection = await lab.pool.fetchrow("SELECT reason_code, reason FROM rejections")
    assert rejection is not None and rejection["reason_code"] == "unconvertible-unit"
    assert rejection["reason"].endswith("write a caret in a unit as \\S\\"), rejection["reason"]
