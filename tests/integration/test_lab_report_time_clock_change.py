"""A CRP whose report time (OBR-22) falls in the hour the clocks go back is stored, its
report time dropped (review 80: it was refused ``implausible-time``).

A laboratory that writes local times without a UTC offset (the sender's zone configured
with ``cachexia source add --time-zone Europe/Zurich``, as the README asks) releases a CRP
result at 02:30 on 25 October 2026, in the hour the clock change repeats. Its OBX-14 (01:30,
the sample) is unambiguous; only OBR-22, the release time, falls in the fold. Before 321cf13
OBR-22 was not read and the message was stored (AA); now ``in_site_time`` rejects the whole
message ``implausible-time`` ("report time ... is skipped or repeated by a clock change"),
every resend is refused the same way (the lab's OBR-22 does not change), and the CRP value
never reaches crp-monitor or dose-decision.

The report time decides nothing: no consumer reads ``reported_at``, the content digest
leaves it out, and both readings of 02:30 (00:30 and 01:30 UTC) are after the sample and
before the message's arrival, so neither is implausible. A careful engine keeps the result
(the report time read as either instant, or as none), as FHIR and JSON results without an
``issued`` time are kept; only an ambiguous collection time must refuse a result (it keys
the result and places it in the CRP window).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

SAMPLE = "20261025013000"  # 01:30 CEST (+0200), before the change: one instant
RELEASED = "20261025023000"  # 02:30: the hour the change repeats (CEST and then CET)


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        async with lab.pool.acquire() as conn:
            await add_source(conn, "LIS", "HOSP", time_zone="Europe/Zurich")
        await asyncio.sleep(2.5)  # the README: a source's settings are live within 2 s
        yield lab


def _with_release_time(message: str, released: str) -> str:
    """The fixture's ORU with OBR-22 (Results Rpt/Status Chng - Date/Time) filled in."""
    segments = message.split("\r")
    for i, segment in enumerate(segments):
        if segment.startswith("OBR|"):
            fields = segment.split("|")
            fields += [""] * (23 - len(fields))
            fields[22] = released
            segments[i] = "|".join(fields)
    return "\r".join(segments)


async def test_a_crp_released_in_the_repeated_hour_is_stored(lab: Lab) -> None:
    message = oru("DST-1", [obx("1988-5", "87", "mg/L", observed=SAMPLE)], order_time=SAMPLE)
    client = await lab.mllp()
    try:
        before = msa(await client.exchange(message))  # the same result without OBR-22
        fields = msa(await client.exchange(_with_release_time(
            oru("DST-2", [obx("1988-5", "87", "mg/L", observed=SAMPLE)],
                order="ORD2", order_time=SAMPLE), RELEASED)))  # fmt: skip
    finally:
        await client.close()
    assert before[1] == "AA", before
    assert fields[1] == "AA", f"a real CRP refused for its release time alone: {fields}"
    stored = await lab.pool.fetchval("SELECT count(*) FROM results WHERE value = 87")
    assert stored == 2
