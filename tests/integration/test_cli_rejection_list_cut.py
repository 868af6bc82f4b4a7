"""Review 156: `cachexia rejection list` shows 50 rejections unless told otherwise, and said
nothing when more matched: the one open unknown-source rejection an alert's runbook sends the
operator to find was hidden by 55 newer ones. A listing cut at its limit now ends with a line
saying how many match and how to see them (exit status unchanged)."""

from __future__ import annotations

import asyncio

import pytest

from cachexia.cli import main
from tests.integration.lab_fixtures import migrated_lab_pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def rejections(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One open unknown-source rejection, then 55 newer ones of another reason, replayed."""
    monkeypatch.setenv("DATABASE_URL", database)
    pool = await migrated_lab_pool(database, "rejections-test")
    try:
        await pool.execute(
            """INSERT INTO rejections (rejection_id, channel, source, reason_code, reason,
                                       payload, received_at, replayed_at)
               SELECT gen_random_uuid(), 'mllp', 'LIS^HOSP',
                      CASE WHEN n = 0 THEN 'unknown-source' ELSE 'unknown-analyte' END,
                      'a made-up reason', 'MSH|...', now() - (56 - n) * interval '1 minute',
                      CASE WHEN n = 0 THEN NULL ELSE now() END
                 FROM generate_series(0, 55) AS n"""
        )
    finally:
        await pool.close()


async def listed(capsys: pytest.CaptureFixture[str], *options: str) -> tuple[list[str], str]:
    assert await asyncio.to_thread(main, ["rejection", "list", *options]) == 0
    out, err = capsys.readouterr()
    return out.splitlines(), err


@pytest.mark.usefixtures("rejections")
async def test_a_listing_cut_at_its_limit_says_so_and_how_to_see_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines, err = await listed(capsys)
    assert len(lines) == 50
    assert not any("unknown-source" in line for line in lines)  # the oldest: left out
    assert err == (
        "50 of 56 matching rejections shown, the newest first; list more with --limit N (up "
        "to 10000), or narrow the listing with --open, --reason CODE, --source APP^FAC or "
        "--since TIME\n"
    )
    lines, err = await listed(capsys, "--limit", "56")
    assert len(lines) == 56 and "unknown-source" in lines[-1]
    assert err == ""  # nothing left out: no such line
    lines, err = await listed(capsys, "--open")
    assert len(lines) == 1 and "unknown-source" in lines[0] and err == ""
    lines, err = await listed(capsys, "--reason", "unknown-analyte", "--limit", "5")
    assert len(lines) == 5
    assert err.startswith("5 of 55 matching rejections shown")
