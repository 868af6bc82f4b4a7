"""Units that disagree, and range texts listing one range per sex, through the running
service: a neutrophil percentage labelled beside a count's unit is refused (answered, kept as
an ``unconvertible-unit`` rejection, nothing stored); a result whose OBX-7 lists a range per
sex is stored without one (the protocol's LLN and ULN grade it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


async def test_a_percentage_beside_a_count_unit_is_refused_and_a_list_of_ranges_dropped(
    lab: Lab,
) -> None:
    client = await lab.mllp()
    try:
        percent = await client.exchange(oru("U78-1", [obx("751-8", "5", "10*9/L^%^UCUM")]))
        ranges = oru("U78-2", [obx("1742-6", "180", "U/L", ref="<33 U/L (F)~<41 U/L (M)")])
        listed = await client.exchange(ranges)
    finally:
        await client.close()
    assert msa(percent)[1] == "AE", percent
    row = await lab.pool.fetchrow("SELECT reason_code, reason FROM rejections")
    assert row is not None and row["reason_code"] == "unconvertible-unit"
    assert "'10*9/L' beside '%'" in row["reason"], row["reason"]
    assert msa(listed)[1] == "AA", listed
    stored = await lab.pool.fetch(
        "SELECT analyte, value, reference_low, reference_high FROM results"
    )
    assert [tuple(r) for r in stored] == [("alt", 180.0, None, None)]
