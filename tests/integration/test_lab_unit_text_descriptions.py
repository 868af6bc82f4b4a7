"""Over the real MLLP socket (PostgreSQL, broker; review 166): a CRP, ALT or haemoglobin
whose unit text carries a description after the unit (``mg/l par néphélométrie``, ``U/l
pour 37°C``, ``g/l pro Test``) or a percentage that is a quantity (``mg/L (CV 3%)``,
``Messunsicherheit ±10 %``) was refused unconvertible-unit, and with it the whole message:
the grade-4 ANC beside it was lost. Each message is now AA, both results stored; a text
naming another unit after the description stays refused."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

ANC = obx("751-8", "0.3", "10*9/L", ref="1.5-7.5")  # grade 4
BESIDE = [
    ("1988-5", "1.2", "mg/L^mg/l par néphélométrie^L", ("crp", 1.2, "mg/L")),
    ("1742-6", "41", "U/L^U/l pour 37°C^L", ("alt", 41.0, "U/L")),
    ("718-7", "135", "g/L^g/l pro Test^L", ("haemoglobin", 13.5, "g/dL")),
    ("1988-5", "1.2", "mg/L^mg/L (CV 3%)^L", ("crp", 1.2, "mg/L")),
    ("1988-5", "1.2", "mg/l^mg/l (Messunsicherheit ±10 %)^L", ("crp", 1.2, "mg/L")),
]


async def test_a_description_after_the_unit_keeps_the_anc_beside_it(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        acks = [
            await client.exchange(oru(f"D166-{i}", [ANC, obx(loinc, value, unit)], order=f"D{i}"))
            for i, (loinc, value, unit, _) in enumerate(BESIDE)
        ]
        refused = await client.exchange(
            oru("D166-X", [ANC, obx("1988-5", "1.2", "mg/L^mg/dl par néphélométrie^L")])
        )
    finally:
        await client.close()
    assert [msa(ack)[1] for ack in acks] == ["AA"] * len(BESIDE), acks
    assert msa(refused)[1] == "AE", refused
    rows = await lab.pool.fetch("SELECT analyte, value, unit FROM results")
    stored = sorted(tuple(r) for r in rows)
    expected = [("neutrophils", 0.3, "10*9/L")] * len(BESIDE) + [s for *_, s in BESIDE]
    assert stored == sorted(expected)
