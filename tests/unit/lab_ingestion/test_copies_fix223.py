"""Review 219's defects in the copy rule between a lab's HL7 and FHIR feeds (task 223):

D1. a correction or withdrawal finds no chain under its key for the copy rule unless a
    final or corrected result stands there (anyone's: another patient's is the chain
    checks' result-of-another-patient, as for a final) or the patient's OWN withdrawn
    version is there (``withdrawn_chains.finds_no_chain``): another patient's withdrawn
    result under a shared order turned the rule off ("cancellation of nothing stored" while
    the FHIR final stood, "send the final result first" for a correction);
D2. a correction is exempt from "correction of a withdrawn result" only after a final or
    corrected result of its key the message stores and that still stands when it comes
    (``copy_outcomes.corrects_in_message``): after a preliminary or a withdrawal it was
    told "send the final result first"."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.changes_in_message import corrects_in_message
from services.lab_ingestion.domain.copies_elsewhere import StoredElsewhere
from services.lab_ingestion.domain.copy_outcomes import held_elsewhere
from services.lab_ingestion.domain.model import LabMessage, Rejected, RejectionCode
from services.lab_ingestion.domain.records import EarlierResult, Sender, WithdrawnVersion
from services.lab_ingestion.domain.result_status import CANCELLING, EMITTED
from services.lab_ingestion.domain.withdrawn_chains import finds_no_chain
from services.lab_ingestion.service_layer.batch_context import BatchContext
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_copies_review202 import (
    FHIR_KEY,
    HL7_KEY,
    ORD7,
    SAMPLE,
    STORED_KEYS,
    TWELVE,
    _crp,
    _held,
)

STATUSES = ["F", "C", "P", "W", "D", "X"]
CHANGES = ["C", "W", "D", "X"]
SUBJECTS = ["S-1", "S-2"]
OTHER_KEY = (HL7_KEY[0], "ORD7|1988-5|2")


def _version(subject_id: str, content: object = None) -> WithdrawnVersion:
    return WithdrawnVersion(subject_id, "crp", content)  # type: ignore[arg-type]


def _head(subject_id: str) -> EarlierResult:
    return EarlierResult(uuid.uuid4(), subject_id, "crp", SAMPLE)


# --- D1: whose withdrawn versions turn the copy rule off -------------------------------------


@given(
    st.sampled_from(STATUSES),
    st.sampled_from([None, *SUBJECTS]),
    st.sets(st.tuples(st.sampled_from(SUBJECTS), st.booleans())),
    st.booleans(),
)
def test_a_key_finds_no_chain_but_a_standing_one_or_the_patients_own_withdrawn_one(
    status: str, head_of: str | None, withdrawn_of: set[tuple[str, bool]], elsewhere: bool
) -> None:
    """For S-1: a standing head (anyone's) is a chain (not another patient's for S-1's
    withdrawal finding only S-1's withdrawn preliminaries there: review 245); a withdrawn
    version (final, or preliminary: no content) is one for a correction or withdrawal only
    when it is S-1's own final or corrected one (review 226, D5: never a withdrawn
    preliminary); a final looks past any withdrawn one (review 209); another key's rows
    never count."""
    key = OTHER_KEY if elsewhere else HL7_KEY
    heads = {} if head_of is None else {key: _head(head_of)}
    withdrawn = {
        key: frozenset(_version(s, TWELVE if final else None) for s, final in withdrawn_of)
    }
    found = finds_no_chain(HL7_KEY, status, "S-1", heads, withdrawn)
    own = [final for s, final in withdrawn_of if s == "S-1"]
    if elsewhere:
        assert found
    elif head_of is not None:  # but S-1's withdrawal beside its withdrawn preliminary alone
        beside = status in CANCELLING and head_of != "S-1" and bool(own) and not any(own)
        assert found is beside  # (review 245: ``resends_beside``)
    else:
        assert found is (status == "F" or ("S-1", True) not in withdrawn_of)


def test_another_patients_withdrawn_result_leaves_the_patients_change_checked() -> None:
    """The batch's context: S-2's withdrawn versions (final or preliminary) under the key;
    S-1's correction or withdrawal is checked against the other feed (before: not), S-2's
    is the chain checks' (its own withdrawn chain)."""
    context = BatchContext({("LIS", "HOSP"): Sender()}, {}, {}, {})
    context.withdrawn_versions[HL7_KEY] = frozenset({_version("S-2", TWELVE), _version("S-2")})
    for status in ["F", *CHANGES]:
        assert context.unheld(HL7_KEY, status, "S-1"), status
        assert context.unheld(HL7_KEY, status, "S-2") is (status == "F"), status


def _change(status: str, stored: StoredElsewhere, withdrawn_of: str) -> Rejected | frozenset[int]:
    """S-1's HL7 change under ORD7, S-2's withdrawn result there, through the real check."""
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "M-1", "MRN1", (_crp(HL7_KEY, status),))
    withdrawn = {HL7_KEY: frozenset({_version(withdrawn_of, TWELVE)})}
    return held_elsewhere(
        message, "S-1", stored,
        lambda key, status: finds_no_chain(key, status, "S-1", {}, withdrawn),
        planned=[], parts_of=lambda _: ORD7, said_of=lambda _: TWELVE,
    )  # fmt: skip


def test_beside_another_patients_withdrawn_result_the_other_feed_is_found() -> None:
    """S-1's FHIR 12 standing: a withdrawal is refused naming the FHIR sender, a correction
    saying 12 left out (C 12's duplicate); withdrawn: a withdrawal left out, a correction
    told it was withdrawn. S-1's own withdrawn version leaves it to the chain checks."""
    standing = StoredElsewhere({"S-1": [_held(FHIR_KEY)]}, STORED_KEYS)
    gone = StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(FHIR_KEY)]})
    for status in ("W", "D"):
        refused = _change(status, standing, "S-2")
        assert isinstance(refused, Rejected), (status, refused)
        assert refused.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
        assert repr(FHIR_KEY[0]) in refused.reason, refused.reason
        assert _change(status, gone, "S-2") == frozenset({0}), status
        assert _change(status, standing, "S-1") == frozenset(), status  # the chain's
    assert _change("C", standing, "S-2") == frozenset({0})
    told = _change("C", gone, "S-2")
    assert isinstance(told, Rejected) and "correction of a withdrawn result" in told.reason
    assert repr(FHIR_KEY[0]) in told.reason, told.reason
    assert _change("C", gone, "S-1") == frozenset()  # the chain's: its own withdrawn result


# --- D2: which earlier results of its message a correction corrects -------------------------


def _message(statuses: list[str], same_key: list[bool]) -> LabMessage:
    last = len(statuses) - 1
    observations = tuple(
        _crp(HL7_KEY if same_key[i] or i == last else OTHER_KEY, s) for i, s in enumerate(statuses)
    )
    return LabMessage(Channel.MLLP, "LIS", "HOSP", "M-1", "MRN1", observations)


@given(
    st.lists(st.sampled_from(STATUSES), min_size=1, max_size=6),
    st.sets(st.integers(min_value=0, max_value=5)),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_a_correction_corrects_the_final_or_correction_its_message_left_standing(
    statuses: list[str], left_out: set[int], same_key: list[bool]
) -> None:
    """Of the earlier results under its key that the message stores (not left out), the
    last final, correction or withdrawal is a final or correction: a preliminary changes
    nothing of that, another key's results never count."""
    message = _message(statuses, same_key)
    last = len(statuses) - 1
    acting = [
        statuses[i] for i in range(last)
        if same_key[i] and i not in left_out and statuses[i] in EMITTED | CANCELLING
    ]  # fmt: skip
    expected = bool(acting) and acting[-1] in EMITTED
    assert corrects_in_message(message, last, frozenset(left_out)) is expected


def test_the_review_cases() -> None:
    for statuses, expected in [
        (["P", "C"], False), (["W", "C"], False), (["F", "W", "C"], False),
        (["F", "C"], True), (["F", "P", "C"], True), (["F", "C", "C"], True), (["C"], False),
    ]:  # fmt: skip
        message = _message(statuses, [True] * len(statuses))
        found = corrects_in_message(message, len(statuses) - 1, frozenset())
        assert found is expected, statuses
