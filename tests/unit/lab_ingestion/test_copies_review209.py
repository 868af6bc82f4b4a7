"""Review 209's known limits of the copy rule between a lab's HL7 and FHIR feeds (task 210):

1. a withdrawal counts only the patient's own preliminary under its key as one it could act
   on (``BatchContext.holds_preliminary``): another patient's turned a duplicate of the
   other feed's withdrawal into a refusal;
2. a final result left out as the other feed's duplicate is never refused for another
   patient's preliminary under its key (``check_earlier_results(copies=...)``): nothing of
   it is stored beside it;
3. a correction finding nothing under its key, whose sample's result the other feed
   withdrew, is refused saying so (``withdrawn_under``, ``withdrawn_correction``), never
   told "send the final result first"."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.copies_elsewhere import StoredElsewhere, said_by
from services.lab_ingestion.domain.copy_outcomes import held_elsewhere, withdrawn_under
from services.lab_ingestion.domain.copy_refusals import withdrawn_correction
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import check_earlier_results, plan_results
from services.lab_ingestion.domain.records import EarlierResult, ResultRecord
from services.lab_ingestion.domain.result_status import EMITTED
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_copies_review202 import (
    FHIR_KEY,
    HL7_KEY,
    SAMPLE,
    STORED_KEYS,
    TWELVE,
    _crp,
    _held,
    _planned,
)

CRP = (Coding("1988-5", "http://loinc.org"),)
SEND_FINAL_FIRST = "send the final result first"
STATUSES = ["F", "C", "P", "W", "D", "X"]


def _message(key: tuple[str, str], *statuses: str) -> LabMessage:
    channel = Channel.FHIR if key == FHIR_KEY else Channel.MLLP
    application, facility = key[0].split("^")
    observations = tuple(_crp(key, status) for status in statuses)
    return LabMessage(channel, application, facility, "M-1", "MRN1", observations)


def _held_elsewhere(
    message: LabMessage, stored: StoredElsewhere, *, preliminary_of: str | None = None,
    planned: list[ResultRecord] | None = None, said: tuple[object, ...] | None = TWELVE,
) -> Rejected | frozenset[int]:  # fmt: skip
    """``held_elsewhere`` for S-1's message, its key holding nothing but, at most,
    ``preliminary_of``'s preliminary result."""
    return held_elsewhere(
        message, "S-1", stored, lambda *_: True,
        planned=[(r, "fhir" if r.source == FHIR_KEY[0] else "mllp", None) for r in planned or ()],
        parts_of=lambda _: frozenset({"ORD7"}), said_of=lambda _: said,
        preliminary=lambda key, subject: subject == preliminary_of,
    )  # fmt: skip


# --- 1 ---------------------------------------------------------------------------------------


def test_a_duplicate_withdrawal_beside_another_patients_preliminary_is_left_out() -> None:
    gone = StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(FHIR_KEY)]})
    for status in ("W", "D"):
        message = _message(HL7_KEY, status)
        assert _held_elsewhere(message, gone, preliminary_of="S-2", said=None) == frozenset({0})
        # the patient's own preliminary: the withdrawal acts on it, as before (review 202)
        assert _held_elsewhere(message, gone, preliminary_of="S-1", said=None) == frozenset()
    in_batch = [_planned(FHIR_KEY, withdrawn=True)]
    found = _held_elsewhere(
        _message(HL7_KEY, "W"), StoredElsewhere(), preliminary_of="S-2", planned=in_batch
    )
    assert found == frozenset({0})


# --- 2 ---------------------------------------------------------------------------------------


def _chains(statuses: list[str], preliminary_of: str, copies: frozenset[int]) -> object:
    """S-1's HL7 results of ``statuses`` under a key holding ``preliminary_of``'s
    preliminary result, checked against their chains (``copies``: left out as copies)."""
    observations = tuple(
        ObservationInput(HL7_KEY[1], CRP, "12", ("mg/L",), status=s, collected_at=SAMPLE)
        for s in statuses
    )
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "M-1", "MRN1", observations)
    planned = plan_results(message, UnitParameters(), SAMPLE + timedelta(hours=1))
    assert not isinstance(planned, Rejected)
    held = EarlierResult(uuid.uuid4(), preliminary_of, "crp", SAMPLE)
    preliminaries = {(*HL7_KEY, preliminary_of): held}
    return check_earlier_results(message, planned, "S-1", {}, preliminaries, copies=copies)


def test_a_copy_left_out_is_not_refused_for_another_patients_preliminary() -> None:
    refused = _chains(["F"], "S-2", frozenset())
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.OTHER_PATIENTS_RESULT
    kept = _chains(["F"], "S-2", frozenset({0}))
    assert isinstance(kept, list) and len(kept) == 1  # message_plans leaves it out


@given(
    st.lists(st.sampled_from(STATUSES), min_size=1, max_size=4),
    st.sets(st.integers(min_value=0, max_value=3)),
    st.sampled_from(["S-1", "S-2"]),
)
def test_copies_only_lift_the_refusal_for_another_patients_preliminary(
    statuses: list[str], copies: set[int], preliminary_of: str
) -> None:
    """Marking results as the other feed's copies changes the chain checks' answer only
    where it was that refusal (never where the patient's own preliminary is there), or
    where a correction or cancellation after a copy would act on it: stored nowhere, it is
    nothing to act on (review 226)."""
    marked = frozenset(i for i in copies if i < len(statuses) and statuses[i] in EMITTED)
    plain = _chains(statuses, preliminary_of, frozenset())
    lifted = _chains(statuses, preliminary_of, marked)
    if repr(plain) == repr(lifted):
        return
    if marked and any(s not in ("F", "P") for s in statuses[min(marked) + 1 :]):
        return  # review 226: a correction or cancellation after a copy acts on nothing of it
    assert preliminary_of != "S-1" and marked
    assert isinstance(plain, Rejected), plain
    assert plain.code is RejectionCode.OTHER_PATIENTS_RESULT and plain.observation in marked


# --- 3 ---------------------------------------------------------------------------------------


def test_a_correction_of_a_result_withdrawn_over_the_other_feed_is_refused_so() -> None:
    for key, other in ((HL7_KEY, FHIR_KEY), (FHIR_KEY, HL7_KEY)):
        gone = StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(other)]})
        for said in (TWELVE, said_by(15.0, "mg/L", None)):
            found = _held_elsewhere(_message(key, "C"), gone, said=said)
            assert isinstance(found, Rejected), found
            assert found.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
            assert repr(other[0]) in found.reason and SEND_FINAL_FIRST not in found.reason
            assert found.observation == 0
    in_batch = [_planned(FHIR_KEY, withdrawn=True)]
    found = _held_elsewhere(_message(HL7_KEY, "C"), StoredElsewhere(), planned=in_batch)
    assert isinstance(found, Rejected) and repr(FHIR_KEY[0]) in found.reason


def test_a_correction_after_its_keys_result_in_its_message_is_its_own_chains() -> None:
    """F 13 then C 14 in one message: the F a new result (another value than the withdrawn
    one), its C corrects it; only a withdrawn preliminary elsewhere is no reason either."""
    gone = StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(FHIR_KEY)]})
    thirteen = said_by(13.0, "mg/L", None)
    assert _held_elsewhere(_message(HL7_KEY, "F", "C"), gone, said=thirteen) == frozenset()
    preliminary = StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(FHIR_KEY, "P")]})
    assert _held_elsewhere(_message(HL7_KEY, "C"), preliminary) == frozenset()


@given(
    st.sampled_from(STATUSES),
    st.lists(st.sampled_from(STATUSES), max_size=3),
    st.lists(st.sampled_from(STATUSES), max_size=3),
)
def test_withdrawn_under_names_withdrawn_published_results_for_corrections_only(
    status: str, stored: list[str], batch: list[str]
) -> None:
    gone = [_held(FHIR_KEY, s, source=f"stored-{s}") for s in stored]
    in_batch = [_planned_as(s) for s in batch]
    expected = frozenset(
        [f"stored-{s}" for s in stored if s in EMITTED]
        + [FHIR_KEY[0] for s in batch if s in EMITTED]
    )
    assert withdrawn_under(status, gone, in_batch) == (expected if status == "C" else set())


def _planned_as(status: str) -> ResultRecord:
    return replace(_planned(FHIR_KEY, withdrawn=True), status=status)


def test_the_reason_gives_its_instruction_within_msa3s_80_characters() -> None:
    reason = withdrawn_correction(frozenset({"central-lab^FHIR"})).reason
    assert reason[:80].startswith("correction of a withdrawn result: a new result needs an")
    assert "order number of its own" in reason[:80], reason[:80]
    assert SEND_FINAL_FIRST not in reason
    many = withdrawn_correction(frozenset({"a", "b", "c", "d"})).reason
    assert "'a', 'b', 'c' and 1 more" in many
