"""When a sample was taken and reported: plausible times, and local times read in the
sender's time zone (pure: no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.result_status import (
    CANCELLING,
    carries_a_result,
    status_of,
)

# A sample is not taken before the laboratory systems of the trial's era, nor after it reached
# us (beyond clock skew): a time outside is a typo or a wrong time zone, and a result dated in
# the future would stay the "latest" value for every decision until then.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(hours=1)
# No time zone is further from UTC (Kiribati's +14:00; FHIR R4's dateTime allows no more): a
# time written further from it is refused on every channel, never read 15 hours off
MAX_UTC_OFFSET = timedelta(hours=14)


def check_times(observation: ObservationInput, received_at: datetime) -> Rejected | None:
    """A collection time between ``EARLIEST_TIME`` and the message's arrival (plus
    ``CLOCK_SKEW``). The report time is not checked here (``report_before_sample``)."""
    collected = observation.collected_at
    # the time itself is not quoted: a date before 2000 in a time field is, as often as
    # not, the patient's birth date written there (the reason is stored and published)
    if collected is not None and collected < EARLIEST_TIME:
        return Rejected(
            RejectionCode.IMPLAUSIBLE_TIME,
            f"collection time is before {EARLIEST_TIME:%Y}: check the date and the time zone",
        )
    if collected is not None and collected > received_at + CLOCK_SKEW:
        return Rejected(
            RejectionCode.IMPLAUSIBLE_TIME,
            f"collection time is more than {CLOCK_SKEW.seconds // 3600} h after the message "
            "arrived: check the date and the time zone",
        )
    return None


def report_before_sample(observation: ObservationInput, received_at: datetime) -> Rejected | None:
    """A report time more than ``CLOCK_SKEW`` (two instruments' clocks) before its sample's
    collection time refuses the result: a result is not analysed before its sample is
    taken, so one of the two times is wrong, and the collection time places the sample in
    a dosing window. Only a report time trusted otherwise counts: one before
    ``EARLIEST_TIME`` or in the future is dropped (``plausible_report_times``), and one a
    clock change skipped or repeated is none already (``in_site_time``)."""
    reported, collected = observation.reported_at, observation.collected_at
    if reported is None or collected is None or not _trusted(reported, received_at):
        return None
    if reported >= collected - CLOCK_SKEW:
        return None
    # neither time is quoted: a birth date written in one is stored and published otherwise
    return Rejected(
        RejectionCode.IMPLAUSIBLE_TIME,
        f"report time is more than {CLOCK_SKEW.seconds // 3600} h before the collection time: "
        "one of the two times is wrong, check both dates and time zones",
    )


def plausible_report_times(message: LabMessage, received_at: datetime) -> LabMessage:
    """The message with every report time that cannot be trusted dropped (None): one before
    ``EARLIEST_TIME`` (often a birth date written there) or after the message's arrival
    (plus ``CLOCK_SKEW``). No consumer reads it and no digest covers it: such a one is not
    published, and costs the lab no result. One trusted otherwise but before its sample
    refuses the result (``report_before_sample``)."""
    observations = tuple(_plausible_report(o, received_at) for o in message.observations)
    if all(a is b for a, b in zip(observations, message.observations, strict=True)):
        return message
    return replace(message, observations=observations)


def _plausible_report(observation: ObservationInput, received_at: datetime) -> ObservationInput:
    reported = observation.reported_at
    if reported is None or _trusted(reported, received_at):
        return observation
    return replace(observation, reported_at=None)


def _trusted(reported: datetime, received_at: datetime) -> bool:
    return EARLIEST_TIME <= reported <= received_at + CLOCK_SKEW


def in_site_time(message: LabMessage, zone: tzinfo) -> LabMessage | Rejected:
    """Collection and report times written without an offset, read in the sender's time
    zone (the offset in force at that local time, clock changes included). A local
    collection time the clock skipped, or passed twice, cannot place a sample exactly: the
    message is rejected, unless nothing uses the time (an analyte the trial ignores, an
    observation with no result (a pending one), or a cancellation: it withdraws its result
    whatever time it repeats), which is then kept as read. A report time so written is
    dropped (None): its instant is not known, so it refuses no result either."""
    if all(o.collected_local is None and o.reported_local is None for o in message.observations):
        return message
    observations = []
    for index, observation in enumerate(message.observations):
        sited = _observation_in_site_time(observation, zone)
        if isinstance(sited, Rejected):
            if not _time_is_used(observation):
                sited = observation
            else:
                return sited.at(index)
        observations.append(sited)
    return replace(message, observations=tuple(observations))


def _time_is_used(observation: ObservationInput) -> bool:
    return (
        identify_analyte(observation.codes) is not None and carries_a_result(observation)
        and status_of(observation) not in CANCELLING
    )  # fmt: skip


def _observation_in_site_time(
    observation: ObservationInput, zone: tzinfo
) -> ObservationInput | Rejected:
    collected_at = _in_zone(observation.collected_local, observation.collected_at, zone)
    if isinstance(collected_at, Rejected):
        return Rejected(RejectionCode.MISSING_COLLECTION_TIME, f"collection {collected_at.reason}")
    reported_at = _in_zone(observation.reported_local, observation.reported_at, zone)
    if isinstance(reported_at, Rejected):
        reported_at = None
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
