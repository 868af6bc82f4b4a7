"""Which of a message's observations the trial keeps, and as what (pure: no I/O).

Result status (OBX-11, PROTOCOL section 6): ``F`` final and ``C`` corrected are emitted for
decisions, ``P`` preliminary is stored only, ``X`` and ``D`` withdraw the earlier result. Only a
correction changes a final result (HL7 table 0085): a final result never supersedes a final or
corrected one (``check_earlier_results``).
A trial result that cannot be used rejects the whole message; observations of analytes the
trial does not follow are ignored.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo

from services.lab_ingestion.domain.analytes import identify_analyte
from services.lab_ingestion.domain.model import (
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters, normalise
from services.lab_ingestion.domain.records import Content, EarlierResult, result_content
from services.lab_ingestion.domain.shown import RESULT_STATUS, shown

EMITTED = frozenset({ResultStatusCode.FINAL.value, ResultStatusCode.CORRECTED.value})
CANCELLING = frozenset({
    ResultStatusCode.CANNOT_OBTAIN.value, ResultStatusCode.DELETED.value,
    ResultStatusCode.POSTED_AS_WRONG.value,
})  # fmt: skip
KNOWN_STATUSES = EMITTED | CANCELLING | {ResultStatusCode.PRELIMINARY.value}
NEEDS_EARLIER_RESULT = CANCELLING | {ResultStatusCode.CORRECTED.value}

PlannedResult = tuple[ObservationInput, NormalisedResult | None]  # None: a cancellation
# A sample is not taken before the laboratory systems of the trial's era, nor after it reached
# us (beyond clock skew): a time outside is a typo or a wrong time zone, and a result dated in
# the future would stay the "latest" value for every decision until then.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(hours=1)
_NEW = uuid.UUID(int=0)  # a result this message itself adds (its id is not known yet)


def status_of(observation: ObservationInput) -> str:
    return observation.status.strip().upper()


def plan_results(
    message: LabMessage, params: UnitParameters, received_at: datetime
) -> list[PlannedResult] | Rejected:
    """Each trial observation with its normalised value (None for a cancellation)."""
    planned: list[PlannedResult] = []
    for index, observation in enumerate(message.observations):
        if identify_analyte(observation.codes) is None:
            continue
        status = status_of(observation)
        if status not in KNOWN_STATUSES:
            return _at(
                index,
                Rejected(
                    RejectionCode.UNKNOWN_STATUS,
                    f"result status {shown(observation.status, RESULT_STATUS)} unknown",
                ),
            )
        if status in CANCELLING:  # withdraws a stored result, whatever time it repeats
            planned.append((observation, None))
            continue
        implausible = check_times(observation, received_at)
        if implausible is not None:
            return _at(index, implausible)
        normalised = normalise(observation, params)
        if isinstance(normalised, Rejected):
            return _at(index, normalised)
        if normalised is not None:
            planned.append((observation, normalised))
    if not planned:
        return Rejected(
            RejectionCode.UNKNOWN_ANALYTE, "the message holds no result of a trial analyte"
        )
    return planned


def check_times(observation: ObservationInput, received_at: datetime) -> Rejected | None:
    """Collection and report times between ``EARLIEST_TIME`` and the message's arrival
    (plus ``CLOCK_SKEW``)."""
    latest = received_at + CLOCK_SKEW
    collected, reported = observation.collected_at, observation.reported_at
    for name, moment in (("collection", collected), ("report", reported)):
        if moment is not None and not EARLIEST_TIME <= moment <= latest:
            return Rejected(
                RejectionCode.IMPLAUSIBLE_TIME,
                f"{name} time {moment.isoformat(timespec='minutes')} is before "
                f"{EARLIEST_TIME:%Y} or after the message arrived: check the date and the time "
                "zone",
            )
    return None


def in_site_time(message: LabMessage, zone: tzinfo) -> LabMessage | Rejected:
    """Collection and report times written without an offset, read in the sender's time
    zone (the offset in force at that local time, clock changes included). A local time the
    clock skipped, or passed twice, cannot place a sample exactly: the message is rejected,
    and a report time so written is no more trusted (it is stored and published). Unless
    nothing uses the time: an analyte the trial ignores, or a cancellation (it withdraws its
    result whatever time it repeats), is then kept as read."""
    if all(o.collected_local is None and o.reported_local is None for o in message.observations):
        return message
    observations = []
    for index, observation in enumerate(message.observations):
        sited = _observation_in_site_time(observation, zone)
        if isinstance(sited, Rejected):
            if not _time_is_used(observation):
                sited = observation
            else:
                return _at(index, sited)
        observations.append(sited)
    return replace(message, observations=tuple(observations))


def _time_is_used(observation: ObservationInput) -> bool:
    return identify_analyte(observation.codes) is not None and (
        status_of(observation) not in CANCELLING
    )


def _observation_in_site_time(
    observation: ObservationInput, zone: tzinfo
) -> ObservationInput | Rejected:
    collected_at = _in_zone(observation.collected_local, observation.collected_at, zone)
    if isinstance(collected_at, Rejected):
        return Rejected(RejectionCode.MISSING_COLLECTION_TIME, f"collection {collected_at.reason}")
    reported_at = _in_zone(observation.reported_local, observation.reported_at, zone)
    if isinstance(reported_at, Rejected):
        return Rejected(RejectionCode.IMPLAUSIBLE_TIME, f"report {reported_at.reason}")
    return replace(observation, collected_at=collected_at, reported_at=reported_at)


def _in_zone(
    local: datetime | None, instant: datetime | None, zone: tzinfo
) -> datetime | Rejected | None:
    """A time written without an offset, read in the sender's zone (``instant`` as read
    before when there is none); why not, when a clock change skips or repeats it (the
    caller names the time and gives the code)."""
    if local is None:
        return instant
    exact = _exact_instant(local, zone)
    if exact is None:
        return Rejected(
            RejectionCode.IMPLAUSIBLE_TIME,
            f"time {local:%Y-%m-%d %H:%M} is skipped or repeated by a clock change in {zone}: "
            "send it with its UTC offset",
        )
    return exact


def _exact_instant(local: datetime, zone: tzinfo) -> datetime | None:
    """The instant of a local time, or None when it does not exist (a gap) or exists twice
    (a fold): the two readings of such a time differ."""
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        return None
    try:
        return first.astimezone(UTC)
    except OverflowError:  # year 1 or 9999: kept in its zone, the plausibility check rejects it
        return first


def _analyte_of(observation: ObservationInput) -> str:
    identified = identify_analyte(observation.codes)
    assert identified is not None  # plan_results keeps trial analytes only
    return identified[0].value


def needs_earlier_result(message: LabMessage) -> bool:
    """A correction or cancellation names the result it replaces: it needs a lookup."""
    return any(status_of(o) in NEEDS_EARLIER_RESULT for o in message.observations)


def content_of(result: NormalisedResult, collected_at: datetime | None) -> Content:
    """What the trial uses of a result (its test, value and unit, reference range, abnormal
    flag and sample), as ``content_digest`` tells a resent message: a final result that says
    it again is a duplicate, one that says anything else is no restatement."""
    reference = (result.reference_low, result.reference_high)
    return result_content(
        result.loinc, result.value, result.unit, reference,
        abnormal_flag=result.abnormal_flag, collected_at=collected_at,
    )  # fmt: skip


def check_earlier_results(
    message: LabMessage,
    planned: list[PlannedResult],
    subject_id: str,
    heads: Mapping[tuple[str, str], EarlierResult],
    preliminaries: Mapping[tuple[str, str], EarlierResult] | None = None,
    *,
    contents: Mapping[tuple[str, str], Content] | None = None,
) -> list[PlannedResult] | Rejected:
    """The message's results to record, or why the message is rejected.

    A correction or cancellation needs the result it acts on, and that result must be the
    same patient's: a result key that holds another patient's result (a wrong-patient fix,
    or two orders sharing a number) is never superseded or withdrawn across patients. Nor
    across analytes: an ALT value never supersedes a CRP result, nor does a cancellation
    sent as ALT withdraw it (a key holds one test; HL7 keys name it, JSON ones need not).

    A final result never replaces a final or corrected one (HL7 table 0085: only a
    correction changes it, PROTOCOL section 3): under a key that holds one, a final result
    saying what it says (``contents``: the heads' contents where known) or what an earlier
    version of the chain said (``EarlierResult.superseded``: a delayed copy of the original)
    is a duplicate, left out of the results returned (nothing stored, nothing emitted), and
    any other (or one under a head whose content is not known) rejects the message. A final
    result after a preliminary one alone is a new final result.

    ``heads`` holds each key's current result, as stored or as this batch left it; the
    message's own observations are taken in order (an F then its C in one message). A key
    that holds only a preliminary result (``preliminaries``) can be cancelled, not corrected.
    """
    own: dict[tuple[str, str], EarlierResult | None] = {}
    # what each key's head says (None: not known), as this message's results leave it
    said: dict[tuple[str, str], Content | None] = dict(contents or {})
    kept: list[PlannedResult] = []
    for observation, normalised in planned:
        key = (message.source, observation.result_key)
        head = own[key] if key in own else heads.get(key)
        status = status_of(observation)
        if head is None and status in CANCELLING and key not in own:
            head = (preliminaries or {}).get(key)
        analyte = _analyte_of(observation)
        if head is not None and head.subject_id != subject_id:
            return _at(
                _position(message, observation),
                Rejected(
                    RejectionCode.OTHER_PATIENTS_RESULT,
                    "the order and test of this result hold another patient's result: correct or "
                    "cancel it for that patient, then send this one under a new order number",
                ),
            )
        if head is not None and head.analyte != analyte:
            return _at(
                _position(message, observation),
                Rejected(
                    RejectionCode.OTHER_ANALYTES_RESULT,
                    f"the result under this key is {head.analyte}, not {analyte}: a correction or "
                    "cancellation must name the same test, and a new test needs a key of its own",
                ),
            )
        content = None if normalised is None else content_of(normalised, observation.collected_at)
        if _restates_superseded(head, status, content, within_message=key in own):
            continue  # a delayed copy of a version its correction replaced: nothing changes
        if _another_sample(head, status, observation.collected_at):
            return _at(
                _position(message, observation),
                Rejected(
                    RejectionCode.OTHER_SAMPLES_RESULT,
                    "the order and test of this final result hold a result collected at another "
                    "time: a new sample needs an order number of its own (a wrong collection time "
                    "is corrected with status C)",
                ),
            )
        if head is None and status in NEEDS_EARLIER_RESULT:
            action = "correction" if status == ResultStatusCode.CORRECTED.value else "cancellation"
            return _at(
                _position(message, observation),
                Rejected(
                    RejectionCode.UNKNOWN_CORRECTED_RESULT,
                    f"{action} of a result that is not stored (no final result under this order "
                    "and test): send the final result first",
                ),
            )
        if head is not None and status == ResultStatusCode.FINAL.value:
            if said.get(key) != content:
                return _at(
                    _position(message, observation), _changed_final(within_message=key in own)
                )
            continue  # a duplicate of the standing result
        if status in EMITTED:
            earlier = head.result_id if head else _NEW
            own[key] = EarlierResult(earlier, subject_id, analyte, observation.collected_at)
            said[key] = content
        elif status in CANCELLING:
            own[key] = None
        kept.append((observation, normalised))
    return kept


def _at(index: int | None, rejected: Rejected) -> Rejected:
    """``rejected``, naming the message's observation (0-based) that caused it."""
    return replace(rejected, observation=index)


def _position(message: LabMessage, observation: ObservationInput) -> int | None:
    """Where ``observation`` (one of ``message``'s, not a copy) stands in the message."""
    return next((i for i, o in enumerate(message.observations) if o is observation), None)


def _restates_superseded(
    head: EarlierResult | None, status: str, content: Content | None, *, within_message: bool
) -> bool:
    """A final result saying what an earlier version of its chain said, one a correction
    has since replaced: a delayed copy of the original (resent under a new message id),
    not news. It changes nothing (the correction stands) and is answered as a duplicate;
    rejecting it would ask the lab for a correction that could undo the standing one. Within
    one message, results under one key that disagree still reject it."""
    return (
        head is not None and not within_message and status == ResultStatusCode.FINAL.value
        and content is not None and content in head.superseded
    )  # fmt: skip


def _changed_final(*, within_message: bool) -> Rejected:
    """A final result under a key whose final or corrected result it does not restate (the
    instruction first: MSA-3 shows 80 characters)."""
    if within_message:
        reason = (
            "results under one order and test disagree in this message: give each a sub-id "
            "(OBX-4) of its own, or send a changed result as a correction (OBX-11 C; status "
            "corrected)"
        )
    else:
        reason = (
            "send a changed final result as a correction (OBX-11 C; status corrected): this "
            "order and test already hold a final or corrected result, which only a correction "
            "changes (a new result needs an order number of its own)"
        )
    return Rejected(RejectionCode.OTHER_SAMPLES_RESULT, reason)


def _another_sample(head: EarlierResult | None, status: str, collected_at: datetime | None) -> bool:
    """A final result restating the head of its key is of the same sample: under an order
    number that already holds another collection's result, it would supersede (and so hide)
    that earlier sample's value."""
    return (
        head is not None and status == ResultStatusCode.FINAL.value
        and head.collected_at is not None and collected_at is not None
        and head.collected_at != collected_at
    )  # fmt: skip
