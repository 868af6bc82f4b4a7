"""When a FHIR Observation's sample was collected: ``effective[x]``, else its Specimen's
``collection.collectedDateTime`` (review 121), checked against each other.

- ``effective[x]`` when it has a time and UTC offset (``effectivePeriod``: its start);
- the Specimen the Observation names (``Observation.specimen``: a contained ``#sp1``, or a
  Specimen entry of the Bundle by its ``fullUrl`` or ``Specimen/id``) gives its collection
  time (``collectedDateTime``, ``collectedPeriod.start``) where ``effective[x]`` gives none,
  or gives a date alone;
- when both are written they must agree to the coarser of their precisions (a date: that
  day, where it is written), by the rule HL7's OBX-14 and SPM-17 follow
  (``collection_times.agree``): a sample is not drawn at two times, so when they disagree
  the result is refused (``implausible-time``) rather than one of them picked;
- else the DiagnosticReport listing it (its ``result[]``) gives it, by its ``effective[x]``
  ("usually the time of specimen collection": HL7's OBR-7, which a result without OBX-14
  takes): ``effectiveDateTime``, or ``effectivePeriod.start``; only there: an Observation
  with a time of its own, or its Specimen's, is not checked against its report (as HL7 never
  checks a full OBX-14 against OBR-7: a cumulative report lists samples drawn at several
  times). Where the report places it, a date the Observation or its Specimen gives must agree
  with the report (lie in its ``effectivePeriod``); a report dated without a time places
  nothing, as a Specimen so dated does; two reports listing it at different times refuse it
  (review 131);
- a Period that ends before it starts (FHIR invariant per-1: ``effectivePeriod``, a
  report's, a Specimen's ``collectedPeriod``) places nothing: which end is wrong cannot be
  told, and it is refused (``implausible-time``; review 180: it was read by its start).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.specimen import Specimen

from services.lab_ingestion.adapters.fhir_outcome import input_error
from services.lab_ingestion.domain.collection_times import (
    DATE_DIGITS,
    WrittenTime,
    agree,
    within,
)
from services.lab_ingestion.domain.model import RejectionCode

SECOND_DIGITS = 14  # YYYYMMDDhhmmss
MICROSECOND_DIGITS = 20
TIME_CONFLICT = (
    "the collection time in Observation.effective[x] is not its specimen's "
    "(Specimen.collection.collectedDateTime) beyond the precision written: which is right "
    "cannot be told"
)
REPORT_CONFLICT = (
    "the collection date in Observation.effective[x] (or its Specimen's) is not its "
    "DiagnosticReport's (DiagnosticReport.effective[x]): which is right cannot be told"
)
REPORTS_CONFLICT = (
    "the DiagnosticReports listing this Observation (their result[]) give different "
    "collection times (DiagnosticReport.effective[x]): which is right cannot be told"
)

REVERSED_PERIOD = (
    "per-1: the period ends before it starts (its end is before its start, to the precision "
    "written): when the sample was collected cannot be told"
)

Specimens = Mapping[str, object]  # a reference to a Specimen entry -> its collection time


def specimen_time(specimen: Specimen) -> object:
    """A Specimen's collection time as the model reads it (a datetime, a date, a partial
    date's text), or None."""
    collection = specimen.collection
    if collection is None:
        return None
    if collection.collectedDateTime is not None:
        return collection.collectedDateTime
    return collection.collectedPeriod.start if collection.collectedPeriod is not None else None


@dataclass(frozen=True)
class ReportTimes:
    """What the DiagnosticReport(s) listing an Observation say of its times, as the model
    reads them (a datetime, a date, a partial date's text, None): ``effective[x]`` from
    ``start`` to ``end`` (``effectiveDateTime``: both), and ``issued``. ``ambiguous``: two
    reports list it at different collection times."""

    start: object = None
    end: object = None
    issued: object = None
    ambiguous: bool = False


NO_REPORT = ReportTimes()
Times = tuple[Specimens, ReportTimes]  # what a Bundle's context says of an Observation's times


def collection_time(
    obs: Observation, specimens: Specimens | None = None, report: ReportTimes = NO_REPORT
) -> tuple[datetime | None, str | None]:
    """The collection time (None: none with a time and offset) and why the result is
    refused when the times written disagree (None: they do not)."""
    effective = _effective(obs)
    sampled = _specimen_of(obs, specimens or {})
    own = aware(effective) or aware(sampled)
    first, second = _written(effective), _written(sampled)
    if first is not None and second is not None and not agree(first, second):
        return own or aware(report.start), TIME_CONFLICT
    if own is not None:  # its report's time is not needed, nor checked (see the module)
        return own, None
    if report.ambiguous:
        return None, REPORTS_CONFLICT
    start, end = _written(report.start), _written(report.end)
    if any(w is not None and not within(w, start, end) for w in (first, second)):
        return aware(report.start), REPORT_CONFLICT
    return aware(report.start), None


def refuse_reversed(period: Period | None, where: str) -> None:
    """Raise ``FhirInputError`` for a Period whose end is before its start, each to the
    precision written (a date end on the start's day is not before it; FHIR invariant
    per-1). ``where``: the Period's path."""
    if period is None:
        return
    start, end = _written(period.start), _written(period.end)
    if start is not None and end is not None and not within(start, None, end):
        raise input_error("invariant", REVERSED_PERIOD, where, RejectionCode.IMPLAUSIBLE_TIME)


def aware(value: object) -> datetime | None:
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value
    return None


def _effective(obs: Observation) -> object:
    if obs.effectiveDateTime is not None:
        return obs.effectiveDateTime
    if obs.effectivePeriod is not None:
        return obs.effectivePeriod.start
    return obs.effectiveInstant


def _specimen_of(obs: Observation, specimens: Specimens) -> object:
    """The collection time of the Specimen ``Observation.specimen`` names, else None."""
    reference = obs.specimen.reference if obs.specimen is not None else None
    if not isinstance(reference, str) or not reference:
        return None
    if reference.startswith("#"):
        for contained in obs.contained or []:
            if isinstance(contained, Specimen) and contained.id == reference[1:]:
                return specimen_time(contained)
        return None
    return specimens.get(reference)


def _written(value: object) -> WrittenTime | None:
    """A FHIR time as written: a date (its day, with no offset), or a time with its offset
    to the second or finer. A year or a month alone, or a time without an offset (refused as
    invalid FHIR before), places nothing."""
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is None:
            return None
        digits = SECOND_DIGITS if value.microsecond == 0 else MICROSECOND_DIGITS
        return WrittenTime(value.replace(tzinfo=None), digits, offset)
    if isinstance(value, date):
        return WrittenTime(datetime(value.year, value.month, value.day), DATE_DIGITS, None)
    return None
