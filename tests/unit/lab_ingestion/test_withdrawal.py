"""Whose a message is when its identifier names subjects withdrawn from the trial
(domain.withdrawal): never a stranger's result kept, never a trial result lost unseen."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.records import EarlierResult, EnrolledSubject, WithdrawnSubject
from services.lab_ingestion.domain.withdrawal import subject_with_withdrawn
from shared.contracts.events.lab import Channel

WITHDRAWN = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BEFORE, AFTER = WITHDRAWN - timedelta(days=1), WITHDRAWN + timedelta(hours=6)
CRP = (Coding("1988-5", "http://loinc.org"),)
S1 = WithdrawnSubject(EnrolledSubject("S-1", "CH-01"), WITHDRAWN)
S2 = WithdrawnSubject(EnrolledSubject("S-2", "CH-01"), WITHDRAWN + timedelta(days=30))
HEADS = {("LIS^HOSP", "K1"): EarlierResult(uuid.uuid4(), "S-1", "crp", BEFORE)}


def sent(*results: tuple[str, str, datetime]) -> LabMessage:
    """A message of results (key, status, collection time)."""
    observations = tuple(
        ObservationInput(key, CRP, "12", ("mg/L",), status=status, collected_at=at)
        for key, status, at in results
    )
    return LabMessage(Channel.MLLP, "LIS", "HOSP", "C-1", "MRN1", observations)


def whose(
    message: LabMessage,
    active: str | None = None,
    withdrawn: tuple[WithdrawnSubject, ...] = (S1,),
    site: str | None = None,
) -> str | Rejected | None:
    return subject_with_withdrawn(message, active, withdrawn, HEADS, site)


@pytest.mark.parametrize(
    ("message", "active", "withdrawn", "expected"),
    [
        # corrections and cancellations of a withdrawn subject's result: theirs
        (sent(("K1", "C", BEFORE)), None, (S1,), "S-1"),
        (sent(("K1", "X", AFTER)), None, (S1,), "S-1"),
        (sent(("K1", "D", AFTER)), None, (S1, S2), "S-1"),  # two withdrawn: the owner's
        (sent(("K1", "C", BEFORE)), "S-3", (S1,), "S-1"),  # enrolled again as S-3
        # a correction is of a sample: one taken after the withdrawal is no trial result
        (sent(("K1", "C", AFTER)), None, (S1,), RejectionCode.SUBJECT_WITHDRAWN),
        (sent(("K1", "C", BEFORE), ("K2", "F", AFTER)), None, (S1,),
         RejectionCode.SUBJECT_WITHDRAWN),
        # new results: collected before the withdrawal, theirs; after it, nobody's
        (sent(("K2", "F", BEFORE)), None, (S1,), "S-1"),
        (sent(("K2", "P", BEFORE)), None, (S1,), "S-1"),
        (sent(("K2", "F", AFTER)), None, (S1,), None),
        (sent(("K2", "F", BEFORE), ("K3", "F", AFTER)), None, (S1,),
         RejectionCode.SUBJECT_WITHDRAWN),
        # fits two withdrawn subjects' time in the trial: cannot be told
        (sent(("K2", "F", BEFORE)), None, (S1, S2), RejectionCode.SUBJECT_WITHDRAWN),
        (sent(("K2", "F", AFTER)), None, (S1, S2), "S-2"),
        # enrolled again as S-3: a new result is S-3's, unless S-1's time fits
        (sent(("K2", "F", AFTER)), "S-3", (S1,), "S-3"),
        (sent(("K2", "F", BEFORE)), "S-3", (S1,), RejectionCode.SUBJECT_WITHDRAWN),
    ],
)  # fmt: skip
def test_whose_a_message_about_a_withdrawn_subject_is(
    message: LabMessage,
    active: str | None,
    withdrawn: tuple[WithdrawnSubject, ...],
    expected: str | RejectionCode | None,
) -> None:
    chosen = whose(message, active, withdrawn)
    if isinstance(expected, RejectionCode):
        assert isinstance(chosen, Rejected) and chosen.code is expected
    else:
        assert chosen == expected


def test_a_withdrawn_subject_of_another_site_is_not_considered() -> None:
    message = sent(("K2", "F", BEFORE))
    assert whose(message, site="CH-02") is None
    assert whose(message, site="CH-01") == "S-1"
