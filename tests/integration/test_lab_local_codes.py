"""A sender's local test codes mapped to LOINC, through the real MLLP socket, database,
broker and ``cachexia replay``: unread (rejected, or left out) before the mapping, read as
the trial analyte once it is live in the running service, and a rejection kept before it
replays."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from services.lab_ingestion.adapters.local_codes import add_local_code
from services.lab_ingestion.domain.local_codes import checked_local_code
from shared.contracts.envelope import Envelope
from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import TS, msa, oru
from tests.integration.test_lab_ingestion import SUBJECT, Lab
from tests.integration.test_lab_replay import cli, rejection_of

pytestmark = pytest.mark.integration

LOCAL_CRP = f"NM|CRP^C-reactive protein^L||12|mg/L|0-5|H|||F|||{TS}"
LIVE_WITHIN_SECONDS = 20.0  # the service re-reads its mappings every 2 s


async def events(lab: Lab, at_least: int) -> list[dict[str, Any]]:
    raw = await lab.read(LAB_RESULTS, at_least)
    return [Envelope.from_bytes(value).payload for value in raw]


async def exchange(lab: Lab, message: str) -> list[str]:
    client = await lab.mllp()
    try:
        return msa(await client.exchange(message))
    finally:
        await client.close()


async def map_code(lab: Lab, system: str, code: str, loinc: str) -> None:
    async with lab.pool.acquire() as conn:
        await add_local_code(conn, checked_local_code("LIS", "HOSP", system, code, loinc))


async def until_live(lab: Lab) -> None:
    """Once the service reads the mapping of ``LOCAL_CRP``: each try is another message and
    order (one before the mapping was read is rejected, kept apart); the CRP is stored."""
    deadline = time.monotonic() + LIVE_WITHIN_SECONDS
    for attempt in itertools.count():
        answer = await exchange(lab, oru(f"LIVE-{attempt}", [LOCAL_CRP], order=f"L{attempt}"))
        if answer[1] == "AA":
            return
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.25)


async def test_a_mapped_local_code_is_read_as_its_loinc_and_a_kept_rejection_replays(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    before = await exchange(lab, oru("LOCAL-0", [LOCAL_CRP]))
    # named CRP, refused by its name (review 155; MSA-3 shows the instruction, ERR the rest)
    assert before[1] == "AE" and before[3].startswith("send the CRP (by its name"), before
    kept = await rejection_of(lab, "LOCAL-0")

    await map_code(lab, "L", "CRP", "1988-5")
    await until_live(lab)
    (event,) = await events(lab, 1)
    assert (event["analyte"], event["loinc"], event["value"]) == ("crp", "1988-5", 12.0)
    stored = await lab.pool.fetch("SELECT analyte, loinc, subject_id FROM results")
    assert [tuple(r) for r in stored] == [("crp", "1988-5", SUBJECT)]

    assert await cli(lab, "replay", kept) == 0  # kept before the mapping: read as mapped now
    assert "stored: 1 result(s)" in capsys.readouterr().out
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 2


async def test_a_local_code_beside_loinc_results_is_no_longer_left_out(lab: Lab) -> None:
    """Before its mapping a CRP under its laboratory's own code beside a platelet count was
    left out, the message answered AA; named CRP, it refuses the message (review 155)."""
    platelets = f"NM|777-3^Platelets^LN||250|10*9/L|150-400||||F|||{TS}"
    refused = await exchange(lab, oru("MIXED-0", [platelets, LOCAL_CRP]))
    assert refused[1] == "AE", refused
    reason = await lab.pool.fetchval("SELECT reason FROM rejections")
    assert "or have the trial map the code (cachexia source code add)" in reason
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0

    await map_code(lab, "l", " CRP ", "1988-5")  # the system compared in upper case
    await until_live(lab)
    answer = await exchange(lab, oru("MIXED-1", [platelets, LOCAL_CRP], order="ORD2"))
    assert answer[1] == "AA", answer
    published = [e["analyte"] for e in await events(lab, 3)]
    assert published == ["crp", "platelets", "crp"]  # until_live's CRP, then MIXED-1's


async def test_a_mapping_that_contradicts_the_senders_loinc_code_is_ambiguous(lab: Lab) -> None:
    """The sender's alternate LOINC code says platelets, its local code is mapped to CRP:
    which test was measured is a guess, refused as two LOINC codes would be."""
    await map_code(lab, "L", "CRP", "1988-5")
    await until_live(lab)
    mapped = f"NM|CRP^C-reactive protein^L^777-3^Platelets^LN||250|10*9/L|150-400||||F|||{TS}"
    answer = await exchange(lab, oru("AMBIG", [mapped], order="ORD2"))
    assert answer[1] == "AE", answer
    code = await lab.pool.fetchval("SELECT reason_code FROM rejections WHERE control_id = 'AMBIG'")
    assert code == "ambiguous-analyte"
