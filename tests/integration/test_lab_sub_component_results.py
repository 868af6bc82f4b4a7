"""A trial result's value, flag or range written with sub-components, over the real MLLP
service (review 179).

An unescaped ``&`` (HL7's sub-component separator; typically an XML entity such as
``&lt;`` left by a converter) split the field, and its first part was read alone: an SN
``&lt;^50`` platelet count was stored as 50 without its comparator, an SN ``&lt;0.5`` ANC
beside a CRP read as empty and left out as "not obtained" (``AA 1 result(s) stored``), an
OBX-8 ``&lt;`` lost (50 stored as measured), an OBX-7 ``<41 U/L (M) & <33 U/L (F)`` read
as the men's range for everyone. Now the value and the flag are refused (``AE``, the
reason naming the sub-components, nothing of the message stored) and the range dropped.

The lab fixture enrols S-100 under MRN4711; its sender LIS^HOSP has no site."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import TS, msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

CRP = f"NM|1988-5^CRP^LN||12|mg/L|<5|H|||F|||{TS}"


async def exchange(lab: Lab, control_id: str, observations: list[str]) -> list[str]:
    client = await lab.mllp()
    try:
        return msa(await client.exchange(oru(control_id, observations, order=control_id)))
    finally:
        await client.close()


async def stored(lab: Lab) -> list[tuple[str, float, str | None, str | None]]:
    rows = await lab.pool.fetch(
        "SELECT analyte, value, comparator, abnormal_flag FROM results ORDER BY analyte"
    )
    return [(r["analyte"], r["value"], r["comparator"], r["abnormal_flag"]) for r in rows]


@pytest.mark.parametrize(
    "obx",
    [
        f"SN|777-3^PLT^LN||&lt;^50|10*9/L|150-400||||F|||{TS}",  # stored as 50, no '<'
        f"SN|751-8^ANC^LN||&lt;^1.0|10*9/L|1.8-7.7||||F|||{TS}",
        f"SN|1988-5^CRP^LN||&lt;^1|mg/dL|<0.5||||F|||{TS}",
        f"SN|1742-6^ALT^LN||&gt;^1000|U/L|<41||||F|||{TS}",
        f"SN|777-3^PLT^LN||^0.5^^&2|10*9/L|150-400||||F|||{TS}",  # read as 0.5
        f"SN|1988-5^CRP^LN||^5&|mg/L|<5||||F|||{TS}",  # even a trailing empty part
    ],
)
async def test_an_sn_value_with_sub_components_is_refused(lab: Lab, obx: str) -> None:
    answer = await exchange(lab, "SUB-SN", [obx])
    assert answer[1] == "AE", answer
    assert "sub-components" in answer[3], answer
    (kept,) = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert kept["reason_code"] == "non-numeric-value"
    assert await stored(lab) == []


async def test_the_same_limit_written_escaped_keeps_its_comparator(lab: Lab) -> None:
    answer = await exchange(lab, "SUB-OK", [f"SN|777-3^PLT^LN||<^50|10*9/L|150-400||||F|||{TS}"])
    assert answer[1] == "AA", answer
    assert await stored(lab) == [("platelets", 50.0, "<", None)]


@pytest.mark.parametrize("value", ["&lt;0.5", "^&0.5"])
async def test_an_sn_value_read_as_empty_is_never_left_out_beside_another(
    lab: Lab, value: str
) -> None:
    """Its first part is empty: it was taken for "not obtained" and left out, the message
    answered AA with the CRP alone stored."""
    anc = f"SN|751-8^ANC^LN||{value}|10*9/L|1.8-7.7||||F|||{TS}"
    answer = await exchange(lab, "SUB-ANC", [CRP, anc])
    assert answer[1] == "AE", answer
    assert answer[3].startswith("neutrophils value is written with sub-components"), answer
    assert await stored(lab) == []  # no half of the message
    assert await lab.metric("lab_results_not_obtained_total", channel="hl7") == 0


async def test_an_abnormal_flag_with_sub_components_is_refused(lab: Lab) -> None:
    plt = f"NM|777-3^PLT^LN||50|10*9/L|150-400|&lt;|||F|||{TS}"  # 50 stored as measured
    answer = await exchange(lab, "SUB-FLAG", [plt])
    assert answer[1] == "AE", answer
    assert "OBX-8" in answer[3] and "sub-components" in answer[3], answer
    assert await stored(lab) == []
    escaped = f"NM|777-3^PLT^LN||50|10*9/L|150-400|<|||F|||{TS}"
    assert (await exchange(lab, "SUB-FLAG-OK", [escaped]))[1] == "AA"
    assert await stored(lab) == [("platelets", 50.0, "<", "<")]


@pytest.mark.parametrize(
    "written", ["<41 U/L (M) & <33 U/L (F)", "<41 U/L (M), <33 U/L (F)", "&lt;41 U/L"]
)
async def test_a_range_with_sub_components_is_dropped(lab: Lab, written: str) -> None:
    """Read as its first part, the men's limit graded every patient."""
    alt = f"NM|1742-6^ALT^LN||100|U/L|{written}||||F|||{TS}"
    assert (await exchange(lab, "SUB-RANGE", [alt]))[1] == "AA"
    row = await lab.pool.fetchrow("SELECT value, reference_low, reference_high FROM results")
    assert tuple(row) == (100.0, None, None)


async def test_an_sn_without_its_first_number_is_refused_as_such(lab: Lab) -> None:
    """``^^-^0.5`` was refused as a negative value: it is a malformed SN."""
    answer = await exchange(lab, "SUB-NUM1", [f"SN|1988-5^CRP^LN||^^-^0.5|mg/L|<5||||F|||{TS}"])
    assert answer[1] == "AE", answer
    assert "negative" not in answer[3] and "SN" in answer[3], answer
