"""Review 226's preliminary cases in the copy rule between a lab's HL7 and FHIR feeds
(task 231; ``copy_outcomes.held_elsewhere``, ``withdrawn_chains.finds_no_chain``):

D2. a change after its key's result in its own message acts on that result: the other feed's
    preliminary of the sample (never published) refuses it no more than it refuses the
    final before it; only the other feed's standing final or corrected result does;
D3. where the other feed's published result of the sample was withdrawn, its standing
    preliminary is nothing a change is meant for: a withdrawal is a duplicate of that
    withdrawal, a correction told it was withdrawn, whether the withdrawal was stored or
    planned earlier in the batch (which never plans a preliminary elsewhere);
D5. the patient's own withdrawn preliminary under the key leaves a change checked against
    the other feed (only their withdrawn final or corrected result is the chain's)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.copies_elsewhere import StoredElsewhere
from services.lab_ingestion.domain.copy_outcomes import held_elsewhere
from services.lab_ingestion.domain.model import LabMessage, Rejected, RejectionCode
from services.lab_ingestion.domain.result_status import CANCELLING
from services.lab_ingestion.domain.withdrawn_chains import finds_no_chain
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_copies_fix223 import _version
from tests.unit.lab_ingestion.test_copies_review202 import (
    FHIR_KEY,
    HL7_KEY,
    ORD7,
    STORED_KEYS,
    TWELVE,
    _check,
    _crp,
    _held,
    _planned,
    _refused,
)

CHANGES = ["C", "W", "D", "X"]
STORED = ["F", "P"]  # what a message stores under the key before its change


def _hl7_message(
    shape: list[str], stored: StoredElsewhere, *, preliminary: bool = False
) -> Rejected | frozenset[int]:
    """S-1's HL7 message of ``shape`` (statuses, all under ORD7's CRP key, holding no final
    before it; ``preliminary``: S-1's preliminary there, as read) through the real check."""
    observations = tuple(_crp(HL7_KEY, status) for status in shape)
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "M-1", "MRN1", observations)
    return held_elsewhere(
        message, "S-1", stored, lambda *_: True, planned=[], parts_of=lambda _: ORD7,
        said_of=lambda _: TWELVE, preliminary=lambda *_: preliminary,
    )  # fmt: skip


# --- D2 ---------------------------------------------------------------------------------------


@given(st.sampled_from(STORED), st.lists(st.sampled_from(CHANGES), min_size=1, max_size=3))
def test_a_change_after_its_keys_result_in_its_message_passes_the_other_feeds_preliminary(
    first: str, changes: list[str]
) -> None:
    """FHIR holds only a preliminary 12: an HL7 message storing a result under the key and
    then changing it is nobody's copy (the chain checks answer for its changes)."""
    stored = StoredElsewhere({"S-1": [_held(FHIR_KEY, "P")]}, STORED_KEYS)
    assert _hl7_message([first, *changes], stored) == frozenset()


@given(st.lists(st.sampled_from(CHANGES), min_size=1, max_size=3), st.booleans())
def test_a_change_after_its_preliminary_in_its_message_is_refused_while_the_fhir_final_stands(
    changes: list[str], read: bool
) -> None:
    """The other feed's published result still counts (review 202, in one message as in
    two; ``read``: the preliminary stored before too): P then a change is refused naming
    the FHIR sender; corrections saying what it says are its duplicates."""
    stored = StoredElsewhere({"S-1": [_held(FHIR_KEY)]}, STORED_KEYS)
    found = _hl7_message(["P", *changes], stored, preliminary=read)
    if set(changes) == {"C"}:
        assert found == frozenset(range(1, len(changes) + 1)), found
    else:
        _refused(found, RejectionCode.UNKNOWN_CORRECTED_RESULT, FHIR_KEY[0])


def test_a_change_alone_is_still_refused_naming_the_holder_of_a_preliminary() -> None:
    """Nothing of its own to act on: the other feed's preliminary is what it may be meant for
    (unchanged)."""
    stored = StoredElsewhere({"S-1": [_held(FHIR_KEY, "P")]}, STORED_KEYS)
    for status in ("C", "W", "D"):
        _refused(_hl7_message([status], stored), RejectionCode.UNKNOWN_CORRECTED_RESULT,
                 FHIR_KEY[0])  # fmt: skip


# --- D3 ---------------------------------------------------------------------------------------


@given(st.sampled_from(["W", "D"]), st.booleans())
def test_a_withdrawal_beside_a_withdrawn_final_and_a_standing_preliminary_is_a_duplicate(
    status: str, in_batch: bool
) -> None:
    """HL7's final 12 withdrawn (stored, or earlier in the batch), its new preliminary 12
    standing: the FHIR feed's withdrawal of its 12 is left out, alike both ways."""
    standing = {"S-1": [_held(HL7_KEY, "P")]}
    if in_batch:
        stored = StoredElsewhere(standing, STORED_KEYS)
        found = _check(FHIR_KEY, status, stored, planned=[_planned(HL7_KEY, withdrawn=True)])
    else:
        stored = StoredElsewhere(standing, STORED_KEYS, {"S-1": [_held(HL7_KEY)]})
        found = _check(FHIR_KEY, status, stored)
    assert found == frozenset({0}), found


@given(st.booleans())
def test_a_correction_beside_a_withdrawn_final_and_a_standing_preliminary_is_told_so(
    in_batch: bool,
) -> None:
    standing = {"S-1": [_held(HL7_KEY, "P")]}
    if in_batch:
        stored = StoredElsewhere(standing, STORED_KEYS)
        found = _check(FHIR_KEY, "C", stored, planned=[_planned(HL7_KEY, withdrawn=True)])
    else:
        stored = StoredElsewhere(standing, STORED_KEYS, {"S-1": [_held(HL7_KEY)]})
        found = _check(FHIR_KEY, "C", stored)
    _refused(found, RejectionCode.UNKNOWN_CORRECTED_RESULT, HL7_KEY[0])
    assert isinstance(found, Rejected) and "correction of a withdrawn result" in found.reason


def test_a_withdrawn_preliminary_elsewhere_leaves_the_standing_one_counted() -> None:
    """Only a withdrawn published result makes the other feed's preliminary nothing to act
    on: beside a withdrawn preliminary the standing one is still named (unchanged)."""
    stored = StoredElsewhere(
        {"S-1": [_held(HL7_KEY, "P")]}, STORED_KEYS, {"S-1": [_held(HL7_KEY, "P")]}
    )
    _refused(_check(FHIR_KEY, "W", stored), RejectionCode.UNKNOWN_CORRECTED_RESULT, HL7_KEY[0])


# --- D5 ---------------------------------------------------------------------------------------


@given(st.sampled_from(CHANGES))
def test_the_patients_withdrawn_preliminary_leaves_a_change_checked_against_the_fhir_final(
    status: str,
) -> None:
    """HL7 P 12 withdrawn, then the FHIR final 12 stands: an HL7 change finds no chain of its
    own and is refused naming the FHIR sender (a correction saying 12: its duplicate)."""
    withdrawn = {HL7_KEY: frozenset({_version("S-1")})}
    checked = finds_no_chain(HL7_KEY, status, "S-1", {}, withdrawn)
    assert checked
    stored = StoredElsewhere({"S-1": [_held(FHIR_KEY)]}, STORED_KEYS)
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "M-1", "MRN1", (_crp(HL7_KEY, status),))
    found = held_elsewhere(
        message, "S-1", stored, lambda key, s: finds_no_chain(key, s, "S-1", {}, withdrawn),
        planned=[], parts_of=lambda _: ORD7, said_of=lambda _: TWELVE,
    )  # fmt: skip
    if status in CANCELLING:
        _refused(found, RejectionCode.UNKNOWN_CORRECTED_RESULT, FHIR_KEY[0])
    else:
        assert found == frozenset({0})
    final = {HL7_KEY: frozenset({_version("S-1", TWELVE)})}
    assert not finds_no_chain(HL7_KEY, status, "S-1", {}, final)  # the chain's, as before
