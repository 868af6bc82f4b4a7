"""A withdrawal after its key's result in the same message, beside the other feed's withdrawn
result of the sample (task 220): it acts on that result (``copy_outcomes.acts_in_message``),
never left out as a duplicate of the other feed's withdrawal (``says_again``), which left
the result the lab withdrew in the same message standing (HL7 F 13 then W, after the FHIR
feed's 12 was withdrawn). A withdrawal finding nothing of its own keeps review 192's rule: a
duplicate of the other feed's withdrawal, left out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.changes_in_message import acts_in_message
from services.lab_ingestion.domain.copies_elsewhere import StoredElsewhere, said_by
from services.lab_ingestion.domain.model import LabMessage, Rejected
from services.lab_ingestion.domain.result_status import CANCELLING
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_copies_review202 import (
    FHIR_KEY,
    HL7_KEY,
    STORED_KEYS,
    _crp,
    _held,
    _planned,
)
from tests.unit.lab_ingestion.test_copies_review209 import STATUSES, _held_elsewhere, _message

THIRTEEN = said_by(13.0, "mg/L", None)  # not what the withdrawn 12 said: a new result
WITHDRAWALS = ["W", "D"]
OTHER_KEY = "ORD7|1988-5|2"  # another OBX-4 sub-id of the order: another result


def _gone(key: tuple[str, str]) -> StoredElsewhere:
    """The other feed's final 12 of the sample, withdrawn (stored)."""
    other = FHIR_KEY if key == HL7_KEY else HL7_KEY
    return StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(other)]})


def test_a_withdrawal_after_its_final_in_its_message_is_never_left_out() -> None:
    """Task 220's case, both ways: F 13 then W (D) under one key, the other feed's 12
    withdrawn (stored, or earlier in the batch): nothing left out, as with nothing there."""
    for key in (HL7_KEY, FHIR_KEY):
        for status in WITHDRAWALS:
            for first in (["F"], ["P"], ["F", "C"]):
                message = _message(key, *first, status)
                alone = _held_elsewhere(message, StoredElsewhere(), said=THIRTEEN)
                assert alone == frozenset(), (key, first, status)
                found = _held_elsewhere(message, _gone(key), said=THIRTEEN)
                assert found == alone, (key, first, status, found)
    other = [_planned(FHIR_KEY, withdrawn=True)]
    message = _message(HL7_KEY, "F", "W")
    assert _held_elsewhere(message, StoredElsewhere(), planned=other, said=THIRTEEN) == frozenset()


def test_a_withdrawal_alone_is_still_the_other_feeds_duplicate() -> None:
    """Review 192's rule kept: W (D) alone, or after another result's key in its message,
    or after another withdrawal only, is left out."""
    for status in WITHDRAWALS:
        gone = _gone(HL7_KEY)
        assert _held_elsewhere(_message(HL7_KEY, status), gone, said=None) == frozenset({0})
        twice = _message(HL7_KEY, status, status)
        assert _held_elsewhere(twice, gone, said=None) == frozenset({0, 1})
        other = _crp((HL7_KEY[0], OTHER_KEY), "F")
        message = _message(HL7_KEY, status)
        message = LabMessage(
            message.channel, "LIS", "HOSP", "M-1", "MRN1", (other, *message.observations)
        )
        assert acts_in_message(message, 1, frozenset()) is False


@given(
    st.lists(st.sampled_from(STATUSES), min_size=1, max_size=5),
    st.sets(st.integers(min_value=0, max_value=4)),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_acts_in_message_is_an_earlier_result_of_its_key_stored_by_its_message(
    statuses: list[str], left_out: set[int], same_key: list[bool]
) -> None:
    """Whether an earlier result of the message, under the same key, neither left out nor a
    withdrawal itself, is there to act on; another key's results never count."""
    observations = tuple(
        _crp(HL7_KEY if same_key[i] or i == len(statuses) - 1 else (HL7_KEY[0], OTHER_KEY), s)
        for i, s in enumerate(statuses)
    )
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "M-1", "MRN1", observations)
    last = len(statuses) - 1
    expected = any(
        same_key[i] and i not in left_out and statuses[i] not in CANCELLING for i in range(last)
    )
    assert acts_in_message(message, last, frozenset(left_out)) is expected


@given(
    st.sampled_from(["F", "P"]),
    st.lists(st.sampled_from(STATUSES), max_size=4),
    st.booleans(),
    st.booleans(),
)
def test_a_message_holding_its_keys_result_first_is_judged_as_with_nothing_elsewhere(
    first: str, rest: list[str], fhir: bool, in_batch: bool
) -> None:
    """A message whose key's first result is a final (saying another value than the other
    feed's withdrawn one) or a preliminary, and any results after it under that key: none
    left out, none refused, as when the other feed holds nothing (its withdrawn result
    stored, or withdrawn earlier in the batch); but a correction that finds no final or
    corrected result of the message standing before it (after a preliminary alone, or a
    withdrawal) is refused as the correction of the other feed's withdrawn result it is,
    as in a message of its own (review 219; ``corrects_in_message``)."""
    key, other = (FHIR_KEY, HL7_KEY) if fhir else (HL7_KEY, FHIR_KEY)
    message = _message(key, first, *rest)
    alone = _held_elsewhere(message, StoredElsewhere(), said=THIRTEEN)
    if in_batch:
        found = _held_elsewhere(
            message, StoredElsewhere(), planned=[_planned(other, withdrawn=True)], said=THIRTEEN
        )
    else:
        found = _held_elsewhere(message, _gone(key), said=THIRTEEN)
    assert alone == frozenset()
    refused_at = _uncorrected(first, rest)
    if refused_at is None:
        assert found == alone, (first, rest, found)
    else:
        assert isinstance(found, Rejected), (first, rest, found)
        assert found.observation == refused_at, (first, rest, found)
        assert "correction of a withdrawn result" in found.reason, found.reason
        assert repr(other[0]) in found.reason, found.reason


def _uncorrected(first: str, rest: list[str]) -> int | None:
    """The position of the first correction of the statuses with no final or corrected
    result standing before it (a withdrawal ends one; a preliminary is none)."""
    standing = first == "F"
    for index, status in enumerate(rest, start=1):
        if status == "C" and not standing:
            return index
        if status in CANCELLING:
            standing = False
        elif status in ("F", "C"):
            standing = True
    return None
