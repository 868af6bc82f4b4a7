"""Matching a hashed hospital identifier to an enrolled subject, per sender site."""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.matching import match_subject
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.records import EnrolledSubject

ZH, BE = EnrolledSubject("S-1", "CH-01"), EnrolledSubject("S-2", "CH-02")


@pytest.mark.parametrize(
    ("enrolled", "site", "expected"),
    [
        ((), None, None),
        ((ZH,), None, "S-1"),
        ((ZH,), "CH-01", "S-1"),
        ((ZH,), "CH-02", None),  # another hospital's patient with the same number
        ((ZH, BE), "CH-02", "S-2"),
    ],
)
def test_the_subject_at_the_senders_site(
    enrolled: tuple[EnrolledSubject, ...], site: str | None, expected: str | None
) -> None:
    assert match_subject(enrolled, site) == expected


@pytest.mark.parametrize(
    ("enrolled", "site", "advice"),
    [((ZH, BE), None, "--site"), ((ZH, EnrolledSubject("S-3", "CH-01")), "CH-01", "enrolment")],
)
def test_several_subjects_under_one_identifier_are_never_matched(
    enrolled: tuple[EnrolledSubject, ...], site: str | None, advice: str
) -> None:
    matched = match_subject(enrolled, site)
    assert isinstance(matched, Rejected)
    assert matched.code is RejectionCode.AMBIGUOUS_PATIENT and advice in matched.reason
