"""Review 245: a withdrawal of the patient's withdrawn preliminary under another patient's
head (a wrong-patient fix) is their chain's resend, a duplicate, unless the lab's other
feed published the patient's result of the sample (review 244: then refused naming that
sender). The copy rule is asked first (``withdrawn_chains.finds_no_chain`` is True there:
``resends_beside``), and the batch reader reads the other feed for such keys
(``withdrawn_beside``); the chain checks then answer a resend (``cancels_withdrawn_chain``).

S-1 = A (the patient withdrawing), S-2 = B (whose final heads the shared order ORD7)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.chain_checks import check_earlier_results
from services.lab_ingestion.domain.copies_elsewhere import StoredElsewhere
from services.lab_ingestion.domain.copy_outcomes import held_elsewhere
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.domain.records import EarlierResult, WithdrawnVersion
from services.lab_ingestion.domain.result_status import CANCELLING
from services.lab_ingestion.domain.withdrawn_chains import (
    finds_no_chain,
    resends_beside,
    withdrawn_beside,
    withdrew_preliminary,
)
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
    _planned,
)

STATUSES = ["F", "C", "P", "W", "D", "X"]
SUBJECTS = ["S-1", "S-2"]
CRP = (Coding("1988-5", "http://loinc.org"),)
OTHER_KEY = (HL7_KEY[0], "ORD7|1988-5|2")
# what the other feed holds of S-1's sample: stored or planned earlier in the batch
ELSEWHERE = ["nothing", "final", "preliminary", "withdrawn final", "final in batch",
             "withdrawn in batch"]  # fmt: skip


def _head(subject_id: str) -> EarlierResult:
    return EarlierResult(uuid.uuid4(), subject_id, "crp", SAMPLE)


def _versions(withdrawn_of: set[tuple[str, bool]]) -> frozenset[WithdrawnVersion]:
    """Withdrawn versions: (whose, final: else preliminary, content None)."""
    return frozenset(
        WithdrawnVersion(s, "crp", ("1988-5", "12", "mg/L") if final else None)
        for s, final in withdrawn_of
    )


def _beside(status: str, head_of: str, withdrawn_of: set[tuple[str, bool]]) -> bool:
    own = [final for s, final in withdrawn_of if s == "S-1"]
    return status in CANCELLING and head_of != "S-1" and bool(own) and not any(own)


@given(
    st.sampled_from(STATUSES),
    st.sampled_from(SUBJECTS),
    st.sets(st.tuples(st.sampled_from(SUBJECTS), st.booleans())),
)
def test_under_a_head_only_a_withdrawal_beside_the_patients_withdrawn_preliminary_finds_none(
    status: str, head_of: str, withdrawn_of: set[tuple[str, bool]]
) -> None:
    """A standing head is a chain, except for S-1's withdrawal where another patient's
    head stands and S-1's withdrawn versions there are all preliminary (at least one)."""
    heads = {HL7_KEY: _head(head_of)}
    found = finds_no_chain(HL7_KEY, status, "S-1", heads, {HL7_KEY: _versions(withdrawn_of)})
    assert found is _beside(status, head_of, withdrawn_of)
    assert resends_beside(heads[HL7_KEY], status, "S-1", _versions(withdrawn_of)) is found


@given(
    st.lists(st.tuples(st.sampled_from(STATUSES), st.booleans()), min_size=1, max_size=4),
    st.sampled_from(SUBJECTS),
    st.sets(st.tuples(st.sampled_from(SUBJECTS), st.booleans())),
)
def test_the_reader_reads_the_other_feed_for_keys_a_withdrawal_may_find_free(
    results: list[tuple[str, bool]], head_of: str, withdrawn_of: set[tuple[str, bool]]
) -> None:
    """Whoever the message's patient turns out to be: a key is read when a withdrawal under
    it would find no chain for some patient withdrawn there (``finds_no_chain``)."""
    observations = tuple(_crp(HL7_KEY if here else OTHER_KEY, s) for s, here in results)
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "M-1", "MRN1", observations)
    heads = {HL7_KEY: _head(head_of)}
    read = withdrawn_beside([message], heads, {HL7_KEY: _versions(withdrawn_of)})
    withdrawing = any(here and s in CANCELLING for s, here in results)
    freed = [  # the patients other than the head's whose withdrawn versions are preliminary
        p for p in SUBJECTS
        if p != head_of and any(w == p for w, _ in withdrawn_of)
        and not any(final for w, final in withdrawn_of if w == p)
    ]  # fmt: skip
    expected = withdrawing and bool(freed)
    assert read == (frozenset({HL7_KEY}) if expected else frozenset())


def _answer(status: str, elsewhere: str) -> object:
    """S-1's HL7 withdrawal under ORD7 (S-1's preliminary withdrawn there, S-2's final
    heading it) through the copy rule, then the chain checks: Rejected, or the results to
    store (none: a duplicate, left out)."""
    heads = {HL7_KEY: _head("S-2")}
    withdrawn = {HL7_KEY: _versions({("S-1", False)})}
    stored = {
        "final": StoredElsewhere({"S-1": [_held(FHIR_KEY)]}, STORED_KEYS),
        "preliminary": StoredElsewhere({"S-1": [_held(FHIR_KEY, "P")]}, STORED_KEYS),
        "withdrawn final": StoredElsewhere({}, STORED_KEYS, {"S-1": [_held(FHIR_KEY)]}),
    }.get(elsewhere, StoredElsewhere())
    planned = {
        "final in batch": [_planned(FHIR_KEY)],
        "withdrawn in batch": [_planned(FHIR_KEY, withdrawn=True)],
    }.get(elsewhere, [])
    change = ObservationInput(HL7_KEY[1], CRP, "12", ("mg/L",), status=status, collected_at=SAMPLE)
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "M-2", "MRN1", (change,))
    left_out = held_elsewhere(
        message, "S-1", stored,
        lambda key, status: finds_no_chain(key, status, "S-1", heads, withdrawn),
        planned=[(r, Channel.FHIR, None) for r in planned],
        parts_of=lambda _: ORD7, said_of=lambda _: TWELVE,
        withdrew_preliminary=lambda key, status: withdrew_preliminary(
            key, status, "S-1", withdrawn
        ),
    )  # fmt: skip
    if isinstance(left_out, Rejected):
        return left_out
    results = plan_results(message, UnitParameters(), SAMPLE + timedelta(hours=1))
    assert not isinstance(results, Rejected)
    return check_earlier_results(
        message, results, "S-1", heads, {}, withdrawn=withdrawn, copies=left_out
    )


@given(st.sampled_from(["W", "D"]), st.sampled_from(ELSEWHERE))
def test_a_resend_unless_the_other_feed_published_the_patients_result(
    status: str, elsewhere: str
) -> None:
    """Refused naming the FHIR sender while its final of S-1's sample stands, stored or
    planned earlier in the batch (review 244); else a duplicate: nothing on the other feed
    (review 245), or only its preliminary (never published: review 233) or its withdrawn
    result. Never result-of-another-patient: S-2's final is no concern of S-1's resend."""
    answer = _answer(status, elsewhere)
    if elsewhere in ("final", "final in batch"):
        assert isinstance(answer, Rejected), answer
        assert answer.code is RejectionCode.UNKNOWN_CORRECTED_RESULT, answer
        assert repr(FHIR_KEY[0]) in answer.reason, answer.reason
    else:
        assert answer == [], answer


def test_review_245_the_one_feed_resend_is_a_duplicate() -> None:
    assert _answer("W", "nothing") == []


def test_a_correction_there_is_still_another_patients_result() -> None:
    """Only a withdrawal is a resend: S-1's correction under S-2's final is refused
    result-of-another-patient by the chain checks, as before."""
    answer = _answer("C", "nothing")
    assert isinstance(answer, Rejected) and answer.code is RejectionCode.OTHER_PATIENTS_RESULT
