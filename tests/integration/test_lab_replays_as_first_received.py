"""`cachexia replay` applies a kept message as of when it first arrived (review 109, D1).

A message the service failed on is answered AE 207 "kept, do not resend", and the lab goes
on: it corrects or cancels the result again. Replayed once the fault was fixed, the kept
correction was applied on top of the lab's newer one (published as the current CRP), and a
kept cancellation withdrew it. Now a replayed result under a key whose chain changed since
the message first arrived is applied only where it changes nothing; otherwise the replay is
refused and the rejection stays open.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_fhir_versions import standing_values
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_replay import cli, poisoned, rejection_of

pytestmark = pytest.mark.integration

CHANGED = "changed since this message was kept"


@pytest.fixture
def fix(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Messages whose id starts with POISON fail (AE 207, kept) until this is called."""
    return poisoned(monkeypatch)


async def send(lab: Lab, *messages: tuple[str, str, str]) -> list[str]:
    """Each (control id, OBX-11 status, CRP value in mg/L; "" for none) sent in order over
    one MLLP connection: the ACK codes."""
    client = await lab.mllp()
    codes = []
    for control_id, status, value in messages:
        observation = obx("1988-5", value, "mg/L" if value else "", status=status)
        codes.append(msa(await client.exchange(oru(control_id, [observation])))[1])
    await client.close()
    return codes


async def replay(lab: Lab, control_id: str) -> int:
    return await cli(lab, "replay", await rejection_of(lab, control_id))


async def stored(lab: Lab) -> tuple[int, int, int]:
    """Results stored, of them withdrawn, and result events published (to the outbox)."""
    row = await lab.pool.fetchrow(
        "SELECT count(*), count(cancelled_at), "
        "(SELECT count(*) FROM outbox WHERE topic = $1) FROM results",
        LAB_RESULTS,
    )
    return (row[0], row[1], row[2])


async def rejection_state(lab: Lab, control_id: str) -> tuple[str, bool, str | None]:
    """The rejection's code, whether it is closed (replayed), and how its last replay went."""
    row = await lab.pool.fetchrow(
        "SELECT reason_code, replayed_at IS NOT NULL, replay_outcome FROM rejections"
        " WHERE control_id = $1",
        control_id,
    )
    return (row[0], row[1], row[2])


@pytest.mark.parametrize(("status", "value"), [("C", "15"), ("D", "")])
async def test_a_replay_never_applies_an_old_correction_or_cancellation_over_a_newer_one(
    lab: Lab, fix: Callable[[], None], capsys: pytest.CaptureFixture[str], status: str, value: str
) -> None:
    """F 20; its correction C 15 (or its deletion D) fails (AE, kept); the lab corrects again,
    C 12; the fault fixed, the kept message is replayed: 12 still stands (it was: 15 stood
    over it, or the whole chain, the lab's 12 with it, was withdrawn)."""
    acks = await send(lab, ("M-1", "F", "20"), ("POISON-2", status, value), ("M-3", "C", "12"))
    assert acks == ["AA", "AE", "AA"]
    assert await standing_values(lab) == [12.0]
    before = await stored(lab)
    fix()

    assert await replay(lab, "POISON-2") == 1  # as another refused replay
    out = capsys.readouterr().out
    assert "rejected again" in out and CHANGED in out and "ask the laboratory" in out
    assert await standing_values(lab) == [12.0]
    assert await stored(lab) == before  # nothing stored, withdrawn or published
    code, closed, outcome = await rejection_state(lab, "POISON-2")
    assert (code, closed) == ("processing-failed", False)  # open, as kept
    assert outcome is not None and CHANGED in outcome
    assert (
        await lab.pool.fetchval("SELECT count(*) FROM messages WHERE control_id = 'POISON-2'") == 0
    )


async def test_a_replayed_correction_of_a_chain_unchanged_since_is_applied(
    lab: Lab, fix: Callable[[], None], capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing came under the key after the kept correction: it is applied, as it would have
    been when it arrived, and published as the current CRP."""
    assert await send(lab, ("M-1", "F", "20"), ("POISON-2", "C", "15")) == ["AA", "AE"]
    fix()
    assert await replay(lab, "POISON-2") == 0
    assert "stored: 1 result(s)" in capsys.readouterr().out
    assert await standing_values(lab) == [15.0]
    assert await stored(lab) == (2, 0, 2)
    assert (await rejection_state(lab, "POISON-2"))[1]  # closed


@pytest.mark.parametrize(
    "messages",
    [
        # the lab's other value since, withdrawn since
        [("POISON-1", "F", "25"), ("M-2", "F", "20"), ("M-3", "X", "")],
        # the result it would have refused then (25 over a final 20), withdrawn since
        [("M-2", "F", "20"), ("POISON-1", "F", "25"), ("M-3", "X", "")],
    ],
)
async def test_a_replayed_final_result_never_starts_a_chain_the_lab_withdrew_since(
    lab: Lab,
    fix: Callable[[], None],
    capsys: pytest.CaptureFixture[str],
    messages: list[tuple[str, str, str]],
) -> None:
    """The kept F 25 restates no withdrawn version (20): read as new, it started a chain of
    its own and was published, for an order the lab had withdrawn since."""
    assert await send(lab, *messages) == ["AE" if m[0] == "POISON-1" else "AA" for m in messages]
    before = await stored(lab)
    fix()
    assert await replay(lab, "POISON-1") == 1
    assert CHANGED in capsys.readouterr().out
    assert await standing_values(lab) == []
    assert await stored(lab) == before


@pytest.mark.parametrize(
    ("since", "left"),
    [
        (("M-3", "F", "20"), [20.0]),  # the lab sent the same result again: a duplicate
        (("M-3", "X", ""), []),  # the lab cancelled it since: nothing left to cancel
    ],
)
async def test_a_replay_that_changes_nothing_of_a_chain_changed_since_settles(
    lab: Lab,
    fix: Callable[[], None],
    capsys: pytest.CaptureFixture[str],
    since: tuple[str, str, str],
    left: list[float],
) -> None:
    """A kept final result the lab sent again under another id, or a kept cancellation of a
    result the lab cancelled since: what the chain holds already; answered as a duplicate
    and closed, nothing stored or published again."""
    kept = ("POISON-2", "F", "20") if since[1] == "F" else ("POISON-2", "X", "")
    first = [("M-1", "F", "20")] if since[1] == "X" else []
    assert (await send(lab, *first, kept, since))[-2:] == ["AE", "AA"]
    before = await stored(lab)
    fix()
    assert await replay(lab, "POISON-2") == 0
    assert "already stored" in capsys.readouterr().out
    assert await standing_values(lab) == left
    assert await stored(lab) == before


async def test_kept_messages_replayed_in_arrival_order_cancel_then_start_a_new_chain(
    lab: Lab, fix: Callable[[], None]
) -> None:
    """Review 110: F 20 stored; the lab's X and then its new F 30 both fail (AE 207, kept);
    the fault fixed, both are replayed in the order they arrived: the X withdraws 20 as of
    when it arrived, and the F 30, which arrived after it, starts the new chain (the X's
    withdrawal was stamped with the replay's time, after the F 30 arrived, which was then
    refused as older than the chain)."""
    acks = await send(lab, ("M-1", "F", "20"), ("POISON-2", "X", ""), ("POISON-3", "F", "30"))
    assert acks == ["AA", "AE", "AE"]
    fix()
    assert await replay(lab, "POISON-2") == 0
    assert await standing_values(lab) == []
    assert await replay(lab, "POISON-3") == 0
    assert await standing_values(lab) == [30.0]
