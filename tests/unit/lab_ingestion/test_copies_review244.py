"""Review 244's rule: under another patient's head, only the patient's withdrawn final or
corrected version makes a cancellation a resend of their withdrawn chain; a withdrawn
preliminary alone (never published) does not, so the chain checks answer it (another
patient's result: refused), as with nothing of theirs withdrawn."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.records import Content, EarlierResult
from services.lab_ingestion.domain.result_status import CANCELLING
from services.lab_ingestion.domain.withdrawn_chains import cancels_withdrawn_chain

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
def test_only_a_published_version_is_a_chain_under_another_patients_head(
    status: str, head: str | None, preliminary: bool, final: bool
) -> None:
    gone = frozenset([None] if preliminary else []) | frozenset([FINAL_SAID] if final else [])
    resend = cancels_withdrawn_chain(status, _head(head), "S-100", gone)
    if status not in CANCELLING or not gone or head == "S-100":
        assert not resend
    elif head is None:
        assert resend  # nothing stands: the patient's withdrawn chain, whatever it held
    else:
        assert resend is final  # another patient's head: only a published version counts


def test_review_244_the_withdrawn_preliminary_beside_another_patients_final() -> None:
    assert not cancels_withdrawn_chain("W", _head("S-200"), "S-100", frozenset([None]))
    assert cancels_withdrawn_chain("W", None, "S-100", frozenset([None]))
