"""Review 157, over the real MLLP socket (PostgreSQL and broker): a trial result whose OBX-2
says it holds no single number is refused for that type before its unit is looked at (a
coded value without a unit, ``CE``, was told it had no unit, as FHIR's coded value was), and
HL7 table 0125's ``NR`` (numeric range) is quoted as the type it is, not as "a code of 2
characters"."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

CRP = "NM|1988-5^CRP^LN||12|mg/L|<5|H|||F|||20261120081500+0100"


@pytest.mark.parametrize(
    ("value_type", "value", "unit"),
    [("CE", "260385009^Negative^SCT", ""), ("CWE", "POS^Positive^L", ""),
     ("NR", "0.1^0.5", "10*9/L")],
)  # fmt: skip
async def test_a_value_of_a_type_holding_no_number_is_told_by_its_type(
    lab: Lab, value_type: str, value: str, unit: str
) -> None:
    anc = f"{value_type}|751-8^ANC^LN||{value}|{unit}|1.8-7.5||||F|||20261120081500+0100"
    client = await lab.mllp()
    try:
        ack = await client.exchange(oru(f"VT-{value_type}", [CRP, anc]))
    finally:
        await client.close()
    assert msa(ack)[1] == "AE", ack
    said = f"neutrophils value is of type '{value_type}' (OBX-2), not a number"
    assert f"\rMSA|AE|VT-{value_type}|{said}\r" in ack, ack
    assert f"\rERR||OBX^2|102^Data type error^HL70357|E||||{said}\r" in ack, ack
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
