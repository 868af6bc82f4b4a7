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


@pytest.mark.usefixtures("rejections")
@pytest.mark.parametrize(
    "since", ["9999-12-31T23:30-01:00", "0001-01-01T00:30+01:00", "9999-12-31T23:59:59.5-00:01"]
)
async def test_a_since_beyond_the_calendar_in_utc_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], since: str
) -> None:
    """Review 214: a time that is no time in UTC (after 9999-12-31 or before 0001-01-01
    there) was taken, and the listing's query ended in asyncpg's DataError traceback."""
    with pytest.raises(SystemExit) as exited:
        await asyncio.to_thread(main, ["rejection", "list", "--since", since])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1].endswith(
        f"argument --since: {since!r} is out of range: in UTC it falls outside the years 1 to 9999"
    )
    assert "Traceback" not in err


@pytest.mark.usefixtures("rejections")
@pytest.mark.parametrize("since", ["9999-12-31T23:59:59.999999Z", "0001-01-01"])
async def test_a_since_at_the_ends_of_the_calendar_in_utc_lists(
    capsys: pytest.CaptureFixture[str], since: str
) -> None:
    lines, err = await listed(capsys, "--since", since, "--limit", "56")
    assert len(lines) == (0 if since.startswith("9999") else 56)
    assert err == ("no rejection matches\n" if since.startswith("9999") else "")
