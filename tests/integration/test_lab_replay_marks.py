"""A rejection replayed twice at the same time (two operators, or one run twice): stored
once, and the mark of the replay that stored it stands (review 109)."""

from __future__ import annotations

import asyncio

import pytest

from services.lab_ingestion.adapters.sources import add_source
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_replay import cli, rejection_of

pytestmark = pytest.mark.integration


async def test_a_rejection_replayed_twice_at_once_keeps_the_first_replays_mark(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await lab.mllp()
    ack = await client.exchange(oru("NEW-9", [obx("1988-5", "42", "mg/L")], application="NEW"))
    await client.close()
    assert msa(ack)[1] == "AR"  # NEW^HOSP is not on the allow-list yet: kept
    rejection = await rejection_of(lab, "NEW-9")
    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW", "HOSP")
    codes = await asyncio.gather(cli(lab, "replay", rejection), cli(lab, "replay", rejection))
    assert list(codes) == [0, 0]
    printed = capsys.readouterr().out
    assert "stored: 1 result(s), 0 cancelled" in printed
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    mark = await lab.pool.fetchrow("SELECT replayed_at, replay_outcome FROM rejections")
    assert mark["replay_outcome"] == "stored: 1 result(s), 0 cancelled"
    assert mark["replayed_at"] is not None
