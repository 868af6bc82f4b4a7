"""Whose a message is when its patient's identifier names a subject withdrawn from the trial.

A withdrawn subject is no longer matched by new results: a sample collected after the
withdrawal is not the trial's (the patient no longer takes part) and is discarded like any
stranger's. But their earlier results stay the trial's: a correction or cancellation of a
result of theirs, and a sample collected before the withdrawal and sent late, are theirs.

A sample *fits* an enrolment whose time in the trial contains its collection time: a
withdrawn subject's (collected by the withdrawal), and the enrolled subject's (whose start
is not known here: every sample fits it). A message is attributed only when each of its
samples fits one enrolment alone, the same for all, and the owner of the results it corrects
or cancels, if any; a correction rides along with no sample it does not fit. Whenever that
cannot be told (several enrolments fit, a correction beside a sample taken after the
withdrawal, a collection time missing or implausible), the message is rejected and kept,
never discarded unseen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.records import EarlierResult, WithdrawnSubject
from services.lab_ingestion.domain.result_status import (
    CANCELLING,
    NEEDS_EARLIER_RESULT,
    carries_a_result,
    status_of,
)
from services.lab_ingestion.domain.sample_times import check_times

SourceKey = tuple[str, str]


def subject_with_withdrawn(
    message: LabMessage,
    active: str | None,
    withdrawn: Sequence[WithdrawnSubject],
    heads: Mapping[SourceKey, EarlierResult],
    site_id: str | None,
    *,
    received_at: datetime,
) -> str | Rejected | None:
    """The subject a message is about, given the enrolled subject matched (``active``) and
    those withdrawn under the same identifier (at the sender's site): the owner of the
    results it corrects or cancels (``heads``: each key's chain head), else the one
    enrolment its samples fit. ``message``: its times read in the site's zone. A collection
    time missing or implausible (``received_at``: when the message arrived) is rejected as
    planning rejects it, before any is used. None: nobody's (discarded)."""
    eligible = {w.subject.subject_id: w for w in withdrawn_at_site(withdrawn, site_id)}
    observations = [
        o for o in message.observations
        if identify_analyte(o.codes) is not None and carries_a_result(o)
    ]  # fmt: skip
    unusable = _unusable_time(observations, received_at)
    if unusable is not None:
        return unusable
    owned = [
        (o, heads[key].subject_id)
        for o in observations
        if status_of(o) in NEEDS_EARLIER_RESULT and (key := (message.source, o.result_key)) in heads
    ]
    owners = {subject for _, subject in owned}
    if len(owners) > 1:
        return _rejected("corrects or cancels results of several subjects")
    owner = next(iter(owners), None)
    if owner is not None and owner != active and owner not in eligible:
        owner = None  # another patient's result: planning refuses it for whoever's this is
    if owner in eligible and owner != active and _collected_after(observations, eligible[owner]):
        return _rejected("holds results collected after the subject's withdrawal")
    corrections = {id(o) for o, _ in owned}
    samples = [
        o.collected_at for o in observations
        if status_of(o) not in CANCELLING and id(o) not in corrections
        and o.collected_at is not None
    ]  # fmt: skip
    fits = [_fitting(at, active, eligible.values()) for at in samples]
    return _sole_enrolment(owner if owner is not None else active, active, fits)


def withdrawn_at_site(
    withdrawn: Iterable[WithdrawnSubject], site_id: str | None
) -> list[WithdrawnSubject]:
    """The subjects withdrawn under a number at the sender's site (every site's when the
    sender has none): hospital numbers are unique only within their hospital, and another
    site's withdrawn patient says nothing of whose a message of this site's is."""
    return [w for w in withdrawn if site_id is None or w.subject.site_id == site_id]


def _sole_enrolment(
    owner: str | None, active: str | None, fits: Sequence[frozenset[str]]
) -> str | Rejected | None:
    """The one enrolment every sample fits (``owner``: the subject whose results the message
    corrects, else the enrolled one, when it has no sample), None when none fits any."""
    if any(len(fit) > 1 for fit in fits):
        return _rejected(
            "was collected before the withdrawal of an earlier enrolment under this patient "
            "identifier (whose it is cannot be told)"
            if active is not None
            else "fits several withdrawn subjects under this patient identifier"
        )
    if fits and not any(fits) and owner is None:
        return None  # nobody's: every sample collected after every withdrawal
    if not all(fits):
        return _rejected("holds results collected before and after the subject's withdrawal")
    chosen = frozenset().union(*fits) | ({owner} if owner is not None else frozenset())
    if len(chosen) > 1:
        return _rejected("holds samples of several enrolments under this patient identifier")
    return next(iter(chosen), None)


def _fitting(
    collected_at: datetime, active: str | None, eligible: Iterable[WithdrawnSubject]
) -> frozenset[str]:
    """The enrolments a sample collected at ``collected_at`` fits."""
    fitting = {w.subject.subject_id for w in eligible if collected_at <= w.withdrawn_at}
    return frozenset(fitting | ({active} if active is not None else set()))


def _collected_after(observations: Sequence[ObservationInput], subject: WithdrawnSubject) -> bool:
    """Whether a result that is no cancellation was collected after the withdrawal (a
    correction is of a sample, and one taken after it is no trial result)."""
    return any(
        status_of(o) not in CANCELLING
        and o.collected_at is not None and o.collected_at > subject.withdrawn_at
        for o in observations
    )  # fmt: skip


def _unusable_time(
    observations: Sequence[ObservationInput], received_at: datetime
) -> Rejected | None:
    """The rejection planning gives a result that is no cancellation without a collection
    time, or with one outside the plausible window: whose it is cannot be told by it."""
    for observation in observations:
        if status_of(observation) in CANCELLING:
            continue
        identified = identify_analyte(observation.codes)
        if observation.collected_at is None:
            analyte = identified[0].value if identified else "the"
            return Rejected(
                RejectionCode.MISSING_COLLECTION_TIME, f"{analyte} result has no collection time"
            )
        implausible = check_times(observation, received_at)
        if implausible is not None:
            return implausible
    return None


def _rejected(what: str) -> Rejected:
    return Rejected(
        RejectionCode.SUBJECT_WITHDRAWN,
        f"the message, about a subject withdrawn from the trial, {what}: send the results "
        "of the trial's time apart, or correct the enrolment",
    )
