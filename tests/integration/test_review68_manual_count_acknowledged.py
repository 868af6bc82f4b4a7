"""Review 68, end to end over MLLP: a CBC whose ANC is the manual-differential count (LOINC
753-4, as Epic Beaker, Cerner PathNet and Sunquest code a smear-reviewed count) is answered
``AA`` with "1 result(s) stored", while the grade-4 ANC (0.3 x10^9/L) is neither stored nor
kept as a rejection (``analyte_codes.SAME_TEST_CODES``: "alone they do not make a result the
trial's"). The laboratory will never resend it; safety-alerting and the dose rules never see
it. See tests/unit/lab_ingestion/test_review68_manual_count_loinc.py for the other codes.

What should happen: the ANC is stored as neutrophils 0.3 x10^9/L (or, at the very least,
the message is refused and kept, never acknowledged AA without it)."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import TS, msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


async def test_a_manual_differential_anc_is_not_acknowledged_and_dropped(lab: Lab) -> None:
    client = await lab.mllp()
    ack = await client.exchange(
        oru(
            "CBC-R68",
            [
                f"NM|NEUTM^Neutrophils manual^L^753-4^Neutrophils Manual cnt^LN||0.3|10*9/L|"
                f"1.8-7.5|LL|||F|||{TS}",
                f"NM|PLT^Platelets^L^777-3^Platelets^LN||250|10*9/L|150-400|N|||F|||{TS}",
            ],
        )
    )
    await client.close()
    code = msa(ack)[1]
    neutrophils = await lab.pool.fetch("SELECT value FROM results WHERE analyte = 'neutrophils'")
    kept = await lab.pool.fetchval("SELECT count(*) FROM rejections")
    assert [r["value"] for r in neutrophils] == [pytest.approx(0.3)] or (code != "AA" and kept), (
        f"ACK {ack!r}; neutrophil rows {list(neutrophils)}; rejections kept {kept}"
    )
