"""Review 120 through the running service (MLLP, real PostgreSQL and broker): CRP in mg/dL
labelled mg/L beside its mg/dL range (``3.2 | mg/L | <0.5 | H``: 32 mg/L) and the other way
round (``8 | mg/dL | <5 | H``), and an N flag on a value far outside its range (``751-8 |
450 | 10*9/L | 1.8-7.7 | N``, ALT ``45 | ukat/L | <50 U/L | N``) are refused with "check the
unit" and kept, never published off by a factor; the same results in their true unit, and a
borderline N, are published."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import MRN, msa, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_unit_slips import _obx, _published

pytestmark = pytest.mark.integration

SLIPS = [
    ("1988-5^CRP^LN", "3.2", "mg/L", "<0.5", "H"),
    ("1988-5^CRP^LN", "8", "mg/dL", "<5", "H"),
    ("751-8^ANC^LN", "450", "10*9/L", "1.8-7.7", "N"),
    ("1742-6^ALT^LN", "45", "ukat/L", "<50 U/L", "N"),
    ("718-7^HB^LN", "13.5", "g/L", "", "N"),
]
READ = [
    ("1988-5^CRP^LN", "3.2", "mg/dL", "<0.5", "H", ("crp", 32.0)),
    ("1988-5^CRP^LN", "8", "mg/L", "<5", "H", ("crp", 8.0)),
    ("751-8^ANC^LN", "450", "/uL", "1800-7700", "LL", ("neutrophils", 0.45)),
    ("751-8^ANC^LN", "1.7", "10*9/L", "1.8-7.7", "N", ("neutrophils", 1.7)),  # borderline
    ("1742-6^ALT^LN", "45", "U/L", "<50 U/L", "N", ("alt", 45.0)),
    ("751-8^ANC^LN", "4.0", "10*9/L", "1800-7700", "", ("neutrophils", 4.0)),
]


async def test_review_120_slips_over_mllp_are_refused_and_true_units_read(lab: Lab) -> None:
    client = await lab.mllp()
    slips = [
        await client.exchange(oru(f"R120-SLIP-{i}", [_obx(case)], order=f"S{i}"))
        for i, case in enumerate(SLIPS)
    ]
    read = [
        await client.exchange(oru(f"R120-TRUE-{i}", [_obx(case[:5])], order=f"T{i}"))
        for i, case in enumerate(READ)
    ]
    await client.close()
    assert [msa(ack)[1] for ack in slips] == ["AE"] * len(SLIPS), slips
    assert msa(slips[0])[3].startswith("crp: the reference range <0.5 read in")
    assert "'N' contradicts the value 450" in msa(slips[2])[3]
    assert [msa(ack)[1] for ack in read] == ["AA"] * len(READ), read
    kept = await lab.pool.fetch(
        "SELECT reason_code, reason, payload FROM rejections ORDER BY received_at"
    )
    assert [r["reason_code"] for r in kept] == ["implausible-value"] * len(SLIPS)
    assert all(r["reason"].endswith("check the unit") for r in kept), kept
    assert all(MRN not in r["payload"] for r in kept)
    published = await _published(lab, len(READ))
    assert sorted((p["analyte"], round(p["value"], 3)) for p in published) == sorted(
        case[5] for case in READ
    )
    assert len(await lab.pool.fetch("SELECT 1 FROM results")) == len(READ)
    assert not [p for p in published if p["value"] in (3.2, 80.0, 450.0, 2700.0, 1.35)]
