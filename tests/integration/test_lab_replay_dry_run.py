"""Review 110 (2): `cachexia replay ID --dry-run` only checked that the kept copy reads back,
and said "replayable" for a replay then rejected again: of a sender still not on the
allow-list (``unknown-source``), or over a newer version of its result (``ambiguous-version``,
``replayed_chains``). Now it makes every check the replay makes, from a read, and writes
nothing: no row, no event, no mark on the rejection; it says which check would refuse it."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable

import pytest

from cachexia.rejections import add_rejection_commands, run_rejection_command
from services.lab_ingestion.adapters.sources import add_source
from tests.integration.test_lab_fhir_versions import standing_values
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_replay import poisoned, rejection_of, unknown_senders_rejection
from tests.integration.test_lab_replays_as_first_received import CHANGED, send, stored

pytestmark = pytest.mark.integration


async def dry_run(lab: Lab, rejection: uuid.UUID) -> int:
    """``cachexia replay ID --dry-run``, its arguments read by the CLI's own parser."""
    parser = argparse.ArgumentParser(prog="cachexia")
    add_rejection_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["replay", str(rejection), "--dry-run"])
    return await run_rejection_command(lab.settings, args)


async def untouched(lab: Lab) -> tuple[object, ...]:
    """Everything a replay writes: messages, results, rejections with their marks, outbox."""
    row = await lab.pool.fetchrow(
        "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM results),"
        " (SELECT count(*) FROM outbox), (SELECT count(*) FROM committed_batches),"
        " (SELECT array_agg((reason_code, replayed_at, replay_outcome)::text ORDER BY"
        "  rejection_id) FROM rejections)"
    )
    return tuple(row)


@pytest.fixture
def fix(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    return poisoned(monkeypatch)


async def test_a_dry_run_says_a_replay_over_a_newer_version_is_refused(
    lab: Lab, fix: Callable[[], None], capsys: pytest.CaptureFixture[str]
) -> None:
    """F 20; its correction C 15 fails (AE, kept); the lab corrects again, C 12. The fault
    fixed, the replay would be rejected again (``ambiguous-version``): so says the dry run."""
    assert await send(lab, ("M-1", "F", "20"), ("POISON-2", "C", "15"), ("M-3", "C", "12")) == [
        "AA", "AE", "AA",
    ]  # fmt: skip
    fix()
    rejection = await rejection_of(lab, "POISON-2")
    before = await untouched(lab)

    assert await dry_run(lab, rejection) == 1
    out = capsys.readouterr().out
    assert "not replayable now" in out and "ambiguous-version" in out and CHANGED in out, out
    assert await untouched(lab) == before  # no row, no event, no mark on the rejection
    assert await standing_values(lab) == [12.0]


async def test_a_dry_run_says_a_replay_that_would_be_stored_is_replayable(
    lab: Lab, fix: Callable[[], None], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await send(lab, ("M-1", "F", "20"), ("POISON-2", "C", "15")) == ["AA", "AE"]
    fix()
    rejection = await rejection_of(lab, "POISON-2")
    before = await untouched(lab)

    assert await dry_run(lab, rejection) == 0
    assert "replayable: it would store 1 result(s)" in capsys.readouterr().out
    assert await untouched(lab) == before
    assert await standing_values(lab) == [20.0]
    # and the replay does what the dry run said
    assert await run_rejection_command(
        lab.settings, argparse.Namespace(command="replay", rejection_id=rejection, dry_run=False)
    ) == 0  # fmt: skip
    assert await standing_values(lab) == [15.0] and await stored(lab) == (2, 0, 2)


async def test_a_dry_run_says_a_sender_still_unknown_is_refused(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    rejection = await unknown_senders_rejection(lab, "NEW-DRY")
    before = await untouched(lab)

    assert await dry_run(lab, rejection) == 1
    out = capsys.readouterr().out
    assert "not replayable now" in out and "unknown-source" in out, out
    assert await untouched(lab) == before

    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW", "HOSP")
    assert await dry_run(lab, rejection) == 0
    assert "replayable: it would store 1 result(s)" in capsys.readouterr().out
    assert await untouched(lab) == before
