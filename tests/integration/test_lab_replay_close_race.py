"""An operator's `cachexia rejection close` and a `cachexia replay` of the same rejection at
once (two terminals; review 214): exactly one of them wins, and the other says so and exits 1.
Before, a close landing while the replay ran was stored, published and closed at once: both
exited 0, the rejection read closed (not-needed), never replayed, its result published."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

import pytest

from cachexia.rejections import run_rejection_command
from services.lab_ingestion import bootstrap
from services.lab_ingestion.adapters.rejections import RejectionStore
from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.domain.rejection_states import RejectionNotOpen
from shared.contracts.topics import LAB_RESULTS
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_replay import cli, lab, unknown_senders_rejection

pytestmark = pytest.mark.integration
__all__ = ["lab"]  # the fixture, used by name


def closing(rejection_id: uuid.UUID, closed_as: str = "not-needed") -> argparse.Namespace:
    return argparse.Namespace(
        command="rejection", rejection_command="close", rejection_id=rejection_id,
        closed_as=closed_as,
    )  # fmt: skip


async def _state(lab: Lab, rejection_id: uuid.UUID) -> dict[str, Any]:
    row = await lab.pool.fetchrow(
        "SELECT closed_at, closed_as, replayed_at, replay_outcome FROM rejections"
        " WHERE rejection_id = $1",
        rejection_id,
    )
    assert row is not None
    return dict(row)


async def _replayable(lab: Lab, control_id: str) -> uuid.UUID:
    """A kept rejection of an unknown sender, whose sender is then allowed."""
    rejection = await unknown_senders_rejection(lab, control_id)
    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW", "HOSP")
    return rejection


async def test_a_close_landing_while_the_replay_runs_wins_and_nothing_is_stored(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rejection = await _replayable(lab, "NEW-RACE-1")
    closes: list[int] = []
    real_build = bootstrap.build_replayer

    async def build_then_the_operator_closes(*args: Any, **kwargs: Any) -> Any:
        # the replay has read the rejection (open); the other terminal closes it now
        replayer = await real_build(*args, **kwargs)
        closes.append(await run_rejection_command(lab.settings, closing(rejection)))
        return replayer

    monkeypatch.setattr(bootstrap, "build_replayer", build_then_the_operator_closes)
    assert await cli(lab, "replay", rejection) == 1
    out, err = capsys.readouterr()
    assert closes == [0]
    assert f"{rejection}: closed as not-needed" in out
    assert f"cachexia: {rejection} is not replayed: closed by an operator at " in err
    assert "(not-needed), while this replay ran: this replay stored nothing" in err
    assert "stored: 1 result(s)" not in out
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 0
    published = "SELECT count(*) FROM outbox WHERE topic = $1"
    assert await lab.pool.fetchval(published, LAB_RESULTS) == 0
    state = await _state(lab, rejection)
    assert state["closed_as"] == "not-needed" and state["closed_at"] is not None
    assert state["replayed_at"] is None and state["replay_outcome"] is None


async def test_a_close_landing_while_the_replay_commits_waits_and_is_refused(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rejection = await _replayable(lab, "NEW-RACE-2")
    real_mark = RejectionStore.mark_replay
    closing_task: list[asyncio.Task[int]] = []

    async def mark_then_the_operator_closes(self: RejectionStore, *args: Any, **kw: Any) -> None:
        await real_mark(self, *args, **kw)
        # the replay holds its rejection, uncommitted: the close, from the other terminal,
        # waits for its commit (it would be stored and closed at once if it did not)
        closing_task.append(asyncio.create_task(
            run_rejection_command(lab.settings, closing(rejection))
        ))  # fmt: skip
        await _until_a_statement_waits_for_a_lock(lab)

    monkeypatch.setattr(RejectionStore, "mark_replay", mark_then_the_operator_closes)
    assert await cli(lab, "replay", rejection) == 0
    (task,) = closing_task
    assert await task == 1
    out, err = capsys.readouterr()
    assert f"{rejection}: stored: 1 result(s), 0 cancelled" in out
    assert f"cachexia: {rejection} is not open: replayed" in err
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    state = await _state(lab, rejection)
    assert state["replayed_at"] is not None and state["closed_at"] is None
    assert state["replay_outcome"] == "stored: 1 result(s), 0 cancelled"


async def _until_a_statement_waits_for_a_lock(lab: Lab) -> None:
    for _ in range(200):
        waiting = await lab.pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the close never waited for the replay's lock")


async def test_a_closed_rejection_is_refused_by_a_replay_and_changed_by_nothing(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """Closed first, then replayed: refused before anything is read (as before)."""
    rejection = await _replayable(lab, "NEW-RACE-3")
    assert await run_rejection_command(lab.settings, closing(rejection, "resent")) == 0
    assert await cli(lab, "replay", rejection) == 1
    assert "is not replayed: closed by an operator at " in capsys.readouterr().err
    assert await run_rejection_command(lab.settings, closing(rejection)) == 1
    assert f"{rejection} is not open: closed (resent)" in capsys.readouterr().err
    assert await run_rejection_command(lab.settings, closing(uuid.uuid4())) == 2
    assert "no rejection" in capsys.readouterr().err
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    assert (await _state(lab, rejection))["closed_as"] == "resent"


async def test_a_mark_that_marks_no_row_is_an_error_not_a_silent_commit(lab: Lab) -> None:
    """The store's own check, behind the lock: a rejection no longer open is never marked, and
    the replay's transaction is rolled back with a clear error (it was silently committed)."""
    rejection = await _replayable(lab, "NEW-RACE-4")
    assert await run_rejection_command(lab.settings, closing(rejection)) == 0
    async with lab.pool.acquire() as conn:
        with pytest.raises(RejectionNotOpen, match=r"is not open: closed by an operator at "):
            async with conn.transaction():
                await RejectionStore(conn).mark_replay(rejection, "stored: 1", settled=True)
        with pytest.raises(RejectionNotOpen, match="is not open: gone"):
            await RejectionStore(conn).lock_open(uuid.uuid4())
    assert (await _state(lab, rejection))["replay_outcome"] is None
