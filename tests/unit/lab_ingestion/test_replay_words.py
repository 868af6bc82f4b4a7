"""What a replay and its dry run say of a message whose results the lab's other feed holds
(review 214): the live ACK's words, "already held by another sender (the lab's other feed)",
never "already stored: the lab resent it" (the lab resent nothing)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.entrypoints.hl7_answers import hl7_answer
from services.lab_ingestion.service_layer.commands import IngestOutcome, held_elsewhere_text
from services.lab_ingestion.service_layer.replay import Replayer
from tests.unit.lab_ingestion.test_replay import RecordingIngest, kept, read_copy

ACCEPTED = st.builds(
    IngestOutcome,
    accepted=st.just(True),
    duplicate=st.booleans(),
    results=st.integers(min_value=0, max_value=20),
    cancelled=st.integers(min_value=0, max_value=5),
    held_elsewhere=st.integers(min_value=0, max_value=20),
)


def _ack_text(outcome: IngestOutcome) -> str:
    """MSA-3 of the live ACK."""
    _, ack = hl7_answer(None, outcome, charset=None)
    (msa,) = [line for line in ack.split("\r") if line.startswith("MSA|")]
    return msa.split("|")[3]


@given(outcome=ACCEPTED)
async def test_a_replay_says_what_the_ack_says_of_results_the_other_feed_holds(
    outcome: IngestOutcome,
) -> None:
    replayer = Replayer(read_copy, RecordingIngest(outcome))
    replayed, planned = await replayer.replay(kept()), await replayer.dry_run(kept())
    assert replayed.settled and planned.settled
    held = held_elsewhere_text(outcome.held_elsewhere)
    if outcome.held_elsewhere:
        assert held in replayed.summary and held in planned.summary
        assert "resent" not in replayed.summary + planned.summary
        said = _ack_text(outcome).removesuffix("...")  # MSA-3 is cut at 80 characters
        at = said.find(f"{outcome.held_elsewhere} result(s) already held by another")
        assert at >= 0 or len(said) > 70  # else cut before them
        assert at < 0 or held.startswith(said[at:])  # the ACK's words, as far as it says them
    elif outcome.duplicate:
        assert replayed.summary == "already stored: the lab resent it"
    else:
        assert "another sender" not in replayed.summary + planned.summary


@pytest.mark.parametrize(
    ("outcome", "summary", "dry_run"),
    [
        (
            IngestOutcome(accepted=True, duplicate=True, held_elsewhere=1),
            "1 result(s) already held by another sender (the lab's other feed), not stored again",
            "replayable: 1 result(s) already held by another sender (the lab's other feed), not"
            " stored again; the replay would close it",
        ),
        (
            IngestOutcome(accepted=True, results=2, held_elsewhere=1),
            "stored: 2 result(s), 0 cancelled; 1 result(s) already held by another sender (the"
            " lab's other feed), not stored again",
            "replayable: it would store 2 result(s), cancel 0; 1 result(s) already held by"
            " another sender (the lab's other feed), not stored again",
        ),
        (
            IngestOutcome(accepted=True, duplicate=True),
            "already stored: the lab resent it",
            "replayable: already stored (the lab resent it); the replay would close it",
        ),
    ],
)
async def test_the_words_of_each_case(outcome: IngestOutcome, summary: str, dry_run: str) -> None:
    replayer = Replayer(read_copy, RecordingIngest(outcome))
    assert (await replayer.replay(kept())).summary == summary
    assert (await replayer.dry_run(kept())).summary == dry_run
