"""Whose a message is when its patient's identifier names a subject withdrawn from the trial.

A withdrawn subject is no longer matched by new results: a sample collected after the
withdrawal is not the trial's (the patient no longer takes part) and is discarded like any
stranger's. But their earlier results stay the trial's: a correction or cancellation of a
result of theirs, and a sample collected before the withdrawal and sent late, are theirs.
Whenever that cannot be told safely (several subjects could own the message, a correction
beside a sample taken after the withdrawal), the message is rejected and kept, never
discarded unseen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.lab_ingestion.domain.analytes import identify_analyte
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.planning import CANCELLING, NEEDS_EARLIER_RESULT, status_of
from services.lab_ingestion.domain.records import EarlierResult, WithdrawnSubject

SourceKey = tuple[str, str]


def subject_with_withdrawn(
    message: LabMessage,
    active: str | None,
    withdrawn: Sequence[WithdrawnSubject],
    heads: Mapping[SourceKey, EarlierResult],
    site_id: str | None,
) -> str | Rejected | None:
    """The subject a message is about, given the enrolled subject matched (``active``) and
    those withdrawn under the same identifier (at the sender's site): the owner of the
    results it corrects or cancels (``heads``: each key's chain head), else the enrolled
    subject, else the withdrawn one it was collected before the withdrawal of. ``message``:
    its times read in the site's zone. None: nobody's (discarded)."""
    eligible = {w.subject.subject_id: w for w in withdrawn
                if site_id is None or w.subject.site_id == site_id}  # fmt: skip
    observations = [o for o in message.observations if identify_analyte(o.codes) is not None]
    owners = {
        heads[key].subject_id
        for o in observations
        if status_of(o) in NEEDS_EARLIER_RESULT and (key := (message.source, o.result_key)) in heads
    }
    if len(owners) > 1:
        return _rejected("corrects or cancels results of several subjects")
    if owners:
        (owner,) = owners
        if owner == active or owner not in eligible:
            return active  # the enrolled subject's, or checked (and refused) as another's
        return _before_withdrawal(observations, eligible[owner])
    if active is not None:
        if any(_collected_before(observations, w) for w in eligible.values()):
            return _rejected(
                "was collected before the withdrawal of an earlier enrolment under this "
                "patient identifier (whose it is cannot be told)"
            )
        return active
    return _of_nobody_enrolled(observations, list(eligible.values()))


def _of_nobody_enrolled(
    observations: Sequence[ObservationInput], eligible: Sequence[WithdrawnSubject]
) -> str | Rejected | None:
    """New results about nobody enrolled: the withdrawn subject they were all collected
    before the withdrawal of; nobody's when all were collected after it."""
    fitting = [w for w in eligible if _collected_before(observations, w)]
    if len(fitting) > 1:
        return _rejected("fits several withdrawn subjects under this patient identifier")
    if fitting:
        return _before_withdrawal(observations, fitting[0])
    if any(_collected_before(observations, w, every=False) for w in eligible):
        return _rejected("holds results collected before and after the subject's withdrawal")
    return None


def _before_withdrawal(
    observations: Sequence[ObservationInput], subject: WithdrawnSubject
) -> str | Rejected:
    """The withdrawn subject's, when nothing but a cancellation was collected after the
    withdrawal (a correction is of a sample, and one taken after it is no trial result)."""
    late = [
        o for o in observations
        if status_of(o) not in CANCELLING
        and o.collected_at is not None and o.collected_at > subject.withdrawn_at
    ]  # fmt: skip
    if late:
        return _rejected("holds results collected after the subject's withdrawal")
    return subject.subject.subject_id


def _collected_before(
    observations: Sequence[ObservationInput], subject: WithdrawnSubject, *, every: bool = True
) -> bool:
    """Whether every (or any) result that is no cancellation was collected by the
    withdrawal (a result without a collection time is rejected by planning)."""
    times = [o.collected_at for o in observations
             if status_of(o) not in CANCELLING and o.collected_at is not None]  # fmt: skip
    if not times:
        return False
    check = all if every else any
    return check(t <= subject.withdrawn_at for t in times)


def _rejected(what: str) -> Rejected:
    return Rejected(
        RejectionCode.SUBJECT_WITHDRAWN,
        f"the message, about a subject withdrawn from the trial, {what}: send the results "
        "of the trial's time apart, or correct the enrolment",
    )
