"""Review 244's rule: a cancellation of the patient's withdrawn chain where nothing of
theirs stands (no head, or another patient's) is a resend (``cancels_withdrawn_chain``);
where that chain held only a preliminary (never published) under another patient's head,
the copy rule is asked first (``finds_no_chain``: ``resends_beside``), and the lab's other
feed's standing final of the patient's sample refuses it naming that sender (after A's P 12
and W, A's FHIR final 12 and B's HL7 F 30 under the shared order, A's W was answered
"duplicate" while A's FHIR 12 stood published). Without that final it is a resend (review
245: ``test_copies_review245``)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.records import Content, EarlierResult
from services.lab_ingestion.domain.result_status import CANCELLING
from services.lab_ingestion.domain.withdrawn_chains import cancels_withdrawn_chain
from tests.unit.lab_ingestion.test_copies_review202 import FHIR_KEY
from tests.unit.lab_ingestion.test_copies_review245 import _answer

FINAL_SAID: Content = ("1988-5", "12", "mg/L")  # what a withdrawn final said (any will do)
STATUSES = sorted(CANCELLING | {"F", "C", "P"})


def _head(subject_id: str | None) -> EarlierResult | None:
    return None if subject_id is None else EarlierResult(uuid.uuid4(), subject_id, "crp")


@given(
    status=st.sampled_from(STATUSES),
    head=st.sampled_from([None, "S-100", "S-200"]),
    preliminary=st.booleans(),
    final=st.booleans(),
)
def test_a_withdrawn_chain_with_nothing_of_the_patients_standing_is_resent(
    status: str, head: str | None, preliminary: bool, final: bool
) -> None:
    gone = frozenset([None] if preliminary else []) | frozenset([FINAL_SAID] if final else [])
    resend = cancels_withdrawn_chain(status, _head(head), "S-100", gone)
    assert resend is (status in CANCELLING and bool(gone) and head != "S-100")


def test_review_244_the_withdrawn_preliminary_beside_another_patients_final() -> None:
    """The other feed's final of the patient's sample standing: refused naming it, never
    answered "duplicate"; stored or planned earlier in the batch alike."""
    for status in ("W", "D"):
        for elsewhere in ("final", "final in batch"):
            refused = _answer(status, elsewhere)
            assert isinstance(refused, Rejected), (status, elsewhere, refused)
            assert refused.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
            assert repr(FHIR_KEY[0]) in refused.reason, refused.reason
