"""Review 114, findings 2 and 3, the pure rules: only the sender's site's withdrawn
subjects are looked at; an enrolment after the subject's withdrawal is dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.records import EnrolledSubject, WithdrawnSubject
from services.lab_ingestion.domain.withdrawal import withdrawn_at_site
from shared.contracts.events.trial import SubjectEnrolled
from shared.messaging.handling import PoisonMessage
from shared.subject_handlers import ENROLLED_AFTER_WITHDRAWAL, register_subject
from tests.factories import subject_enrolled

AT = datetime(2026, 12, 5, 9, tzinfo=UTC)
SITES = st.sampled_from(["CH-01", "CH-02", "DE-01"])


@given(sites=st.lists(SITES, max_size=5), sender=st.one_of(st.none(), SITES))
def test_only_the_senders_sites_withdrawn_subjects_are_looked_at(
    sites: list[str], sender: str | None
) -> None:
    withdrawn = [WithdrawnSubject(EnrolledSubject(f"S-{i}", s), AT) for i, s in enumerate(sites)]
    kept = withdrawn_at_site(withdrawn, sender)
    assert kept == [w for w in withdrawn if sender is None or w.subject.site_id == sender]


class Directory:
    def __init__(self, applies: bool) -> None:
        self.applies = applies

    async def enrol(self, subject_id: str, enrolled: SubjectEnrolled) -> bool:
        return self.applies


class Uow:
    def __init__(self, applies: bool) -> None:
        self.subjects = Directory(applies)


async def test_an_enrolment_the_directory_refuses_after_a_withdrawal_is_dead_lettered() -> None:
    envelope = subject_enrolled("S-RE")
    payload = SubjectEnrolled.model_validate(envelope.payload)
    await register_subject(Uow(True), envelope, payload)
    with pytest.raises(PoisonMessage) as caught:
        await register_subject(Uow(False), envelope, payload)
    assert caught.value.reason_code == ENROLLED_AFTER_WITHDRAWAL
    assert "S-RE" not in caught.value.reason  # the code's own words only
