"""A rejection replayed twice at the same time (two operators, or one run twice): stored
once, and the mark of the replay that stored it stands (review 109). The other is refused as
a replay run after it is, "already replayed", exit 1: its transaction finds the rejection
replayed, its row locked (review 214: it said "already stored: the lab resent it", exit 0,
the words of a message the lab sent twice)."""

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
    assert sorted(codes) == [0, 1]
    printed, refused = capsys.readouterr()
    assert printed == f"{rejection}: stored: 1 result(s), 0 cancelled\n"
    assert refused.startswith(f"cachexia: {rejection} is not replayed: already replayed at ")
    assert "the lab resent it" not in printed + refused
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    mark = await lab.pool.fetchrow("SELECT replayed_at, replay_outcome FROM rejections")
    assert mark["replay_outcome"] == "stored: 1 result(s), 0 cancelled"
    assert mark["replayed_at"] is not None
