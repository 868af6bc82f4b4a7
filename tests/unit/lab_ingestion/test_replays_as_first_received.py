"""A replay applies a kept message as of when it first arrived (review 109, D1;
``replayed_chains``): under a key whose chain changed since, a replayed result is applied
only where it changes nothing, else the message is refused; a chain unchanged since takes
it as it would have then. On BatchIngestor (``reads_kept_copies``, as ``cachexia replay``'s)
against the fake database, and on the rule itself."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.replayed_chains import FirstArrival, changed_since_kept
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from tests.unit.lab_ingestion.test_batch_ingestor import (
    AT,
    FakeDatabase,
    FakeUnitOfWork,
    ingestor,
    message,
)

BEFORE, KEPT, SINCE = AT, AT + timedelta(minutes=1), AT + timedelta(minutes=2)
KEY = ("LIS^HOSP", "K")
CHANGED = "changed since this message was kept"


def sent(
    control_id: str, status: str, value: str, at: datetime, key: str = "K"
) -> IngestLabMessage:
    """A CRP result of MRN1 under ``key`` (KEY's, by default), received at ``at``."""
    command = message(control_id, status=status, key=key, value=value)
    return dataclasses.replace(command, received_at=at)


def replayer(db: FakeDatabase) -> BatchIngestor:
    """As ``cachexia replay``'s ingestor: it reads kept copies, and applies as of arrival."""
    return BatchIngestor(lambda: FakeUnitOfWork(db), lambda i: f"h({i})", reads_kept_copies=True)


async def lab_sends(db: FakeDatabase, *commands: IngestLabMessage) -> None:
    for command in commands:
        (outcome,) = await ingestor(db)([command])
        assert outcome.accepted, outcome


def standing(db: FakeDatabase) -> float | None:
    head = db.standing(*KEY)
    return None if head is None else head.result.value


def state(db: FakeDatabase) -> tuple[int, int, int]:
    """Results stored, withdrawn, and events committed."""
    return len(db.results), len(db.cancelled), len(db.events)


def refused(outcome: IngestOutcome, what: str) -> bool:
    return (
        not outcome.accepted and outcome.code is RejectionCode.AMBIGUOUS_VERSION
        and outcome.reason.startswith(what) and CHANGED in outcome.reason
    )  # fmt: skip


# --- corrections and cancellations ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "what"),
    [("C", "the result it corrects"), ("D", "the result it cancels"),
     ("X", "the result it cancels"), ("W", "the result it cancels")],
)  # fmt: skip
async def test_a_kept_correction_or_cancellation_is_not_applied_over_a_newer_version(
    status: str, what: str
) -> None:
    """F 20; the kept C 15 (or D, X, W); the lab's C 12 since: the replay is refused, 12
    stands (it was replaced by 15, or withdrawn with the whole chain)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(db, sent("M-1", "F", "20", BEFORE), sent("M-3", "C", "12", SINCE))
    before = state(db)
    (outcome,) = await replayer(db)([sent("POISON-2", status, "15", KEPT)])
    assert refused(outcome, what), outcome
    assert standing(db) == 12.0 and state(db)[:2] == before[:2]
    assert [t for t, _ in db.events[before[2] :]] == ["lab.rejected.v1"]  # its own, again
    assert ("LIS^HOSP", "POISON-2") not in db.messages


@pytest.mark.parametrize("status", ["C", "D"])
async def test_a_kept_correction_or_cancellation_of_a_chain_unchanged_since_is_applied(
    status: str,
) -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(db, sent("M-1", "F", "20", BEFORE))
    (outcome,) = await replayer(db)([sent("POISON-2", status, "15", KEPT)])
    assert outcome.accepted and (outcome.results, outcome.cancelled) == (
        (1, 0) if status == "C" else (0, 1)
    )
    assert standing(db) == (15.0 if status == "C" else None)


async def test_a_version_that_arrived_at_the_same_moment_counts_as_since() -> None:
    """Which came first cannot be told: refused, never applied on a guess."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(db, sent("M-1", "F", "20", KEPT))
    (outcome,) = await replayer(db)([sent("POISON-2", "C", "15", KEPT)])
    assert refused(outcome, "the result it corrects")
    assert standing(db) == 20.0


async def test_a_kept_correction_restating_the_newer_version_is_still_refused() -> None:
    """The lab sent the same correction again under another id: a correction is stored even
    when it restates the head, so it would be a new version; asked, not guessed."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(db, sent("M-1", "F", "20", BEFORE), sent("M-3", "C", "15", SINCE))
    before = state(db)
    (outcome,) = await replayer(db)([sent("POISON-2", "C", "15", KEPT)])
    assert refused(outcome, "the result it corrects")
    assert state(db)[:2] == before[:2]


async def test_a_kept_cancellation_of_a_result_cancelled_since_changes_nothing() -> None:
    """F 20; the kept X; the lab's own D since: the chain is withdrawn already, and the
    replay is a duplicate (settled), nothing withdrawn or published again."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(db, sent("M-1", "F", "20", BEFORE), sent("M-3", "D", "", SINCE))
    before = state(db)
    (outcome,) = await replayer(db)([sent("POISON-2", "X", "", KEPT)])
    assert outcome.accepted and outcome.duplicate and outcome.cancelled == 0
    assert state(db) == before and standing(db) is None


async def test_a_kept_cancellation_never_withdraws_a_chain_started_since() -> None:
    """F 20; the kept X; the lab's D, then a new F 30 under the order since: refused, 30
    stands."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(
        db, sent("M-1", "F", "20", BEFORE), sent("M-3", "D", "", SINCE),
        sent("M-4", "F", "30", SINCE + timedelta(minutes=1)),
    )  # fmt: skip
    (outcome,) = await replayer(db)([sent("POISON-2", "X", "", KEPT)])
    assert refused(outcome, "the result it cancels")
    assert standing(db) == 30.0


# --- final results ---------------------------------------------------------------------------


async def test_a_kept_final_result_the_lab_sent_again_since_is_a_duplicate() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(db, sent("M-2", "F", "20", SINCE))
    before = state(db)
    (outcome,) = await replayer(db)([sent("POISON-1", "F", "20", KEPT)])
    assert outcome.accepted and outcome.duplicate
    assert state(db) == before


async def test_a_kept_final_result_saying_other_than_the_newer_version_is_refused() -> None:
    """It never supersedes (a final result never does); refused as changed since, not asked
    of the lab as a correction."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(db, sent("M-2", "F", "25", SINCE))
    (outcome,) = await replayer(db)([sent("POISON-1", "F", "20", KEPT)])
    assert refused(outcome, "the result under its order and test")
    assert standing(db) == 25.0 and len(db.results) == 1


@pytest.mark.parametrize("since", ["another value, withdrawn", "withdrawn", "preliminary"])
async def test_a_kept_final_result_never_starts_a_chain_under_a_key_changed_since(
    since: str,
) -> None:
    """The lab sent F 25, then withdrew it (X): the kept F 20 restates no withdrawn version,
    and read as new it was stored and published as a chain of its own. Likewise where the
    lab withdrew the F 25 it held before (the kept F 20 counts from the withdrawal: it is
    written now, after the kept message arrived), and after a preliminary result since."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    later = SINCE + timedelta(minutes=1)
    if since == "another value, withdrawn":
        await lab_sends(db, sent("M-2", "F", "25", SINCE), sent("M-3", "X", "", later))
    elif since == "withdrawn":
        await lab_sends(db, sent("M-1", "F", "25", BEFORE), sent("M-3", "X", "", later))
    else:
        await lab_sends(db, sent("M-2", "P", "25", SINCE))
    before = state(db)
    (outcome,) = await replayer(db)([sent("POISON-1", "F", "20", KEPT)])
    assert refused(outcome, "the result under its order and test")
    assert state(db)[:2] == before[:2] and standing(db) is None


async def test_a_kept_final_result_under_a_key_that_holds_nothing_is_stored() -> None:
    """Another order's result since changes nothing of this one's."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(db, sent("M-2", "F", "7", SINCE, key="L"))
    (outcome,) = await replayer(db)([sent("POISON-1", "F", "20", KEPT)])
    assert outcome.accepted and outcome.results == 1 and standing(db) == 20.0


# --- several kept messages in one batch --------------------------------------------------------


@pytest.mark.parametrize("order", ["as they arrived", "the newer first"])
async def test_kept_corrections_in_one_batch_are_applied_in_the_order_they_arrived(
    order: str,
) -> None:
    """C 15 kept first, C 12 after: 12 stands however the two are replayed; the older,
    replayed after the newer, is refused (the batch's own change counts as stored)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(db, sent("M-1", "F", "20", BEFORE))
    older, newer = sent("POISON-2", "C", "15", KEPT), sent("POISON-3", "C", "12", SINCE)
    batch = [older, newer] if order == "as they arrived" else [newer, older]
    outcomes = await replayer(db)(batch)
    assert standing(db) == 12.0
    if order == "as they arrived":
        assert all(o.accepted and o.results == 1 for o in outcomes)
    else:
        assert outcomes[0].accepted and refused(outcomes[1], "the result it corrects")


# --- the rule ----------------------------------------------------------------------------------


def test_a_key_moved_on_when_it_changed_at_or_after_the_first_arrival() -> None:
    replay = FirstArrival(KEPT, {KEY: KEPT, ("LIS^HOSP", "B"): BEFORE})
    assert replay.moved_on(KEY)
    assert not replay.moved_on(("LIS^HOSP", "B"))
    assert not replay.moved_on(("LIS^HOSP", "never-held"))


@pytest.mark.parametrize("status", ["C", "X", "D", "W", "F", "P"])
def test_the_refusal_says_what_changed_and_asks_the_laboratory(status: str) -> None:
    rejected = changed_since_kept(status)
    assert isinstance(rejected, Rejected) and rejected.code is RejectionCode.AMBIGUOUS_VERSION
    assert CHANGED in rejected.reason and "ask the laboratory" in rejected.reason


@pytest.mark.parametrize("how", ["one batch", "one at a time"])
async def test_kept_messages_replayed_in_arrival_order_cancel_then_start_a_new_chain(
    how: str,
) -> None:
    """Review 110: F 20 stored; the lab's X and then its new F 30 both failed and were
    kept. Replayed in the order they arrived, the X withdraws 20 as of when it arrived (not
    when it was replayed, which is after the F 30 arrived), and the F 30 starts the new
    chain, as live ingestion would have done."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await lab_sends(db, sent("M-1", "F", "20", BEFORE))
    cancel, new_final = sent("POISON-2", "X", "", KEPT), sent("POISON-3", "F", "30", SINCE)
    if how == "one batch":
        outcomes = await replayer(db)([cancel, new_final])
    else:
        (first,) = await replayer(db)([cancel])
        (second,) = await replayer(db)([new_final])
        outcomes = [first, second]
    assert all(o.accepted for o in outcomes), [(o.code, o.reason) for o in outcomes]
    assert standing(db) == 30.0
