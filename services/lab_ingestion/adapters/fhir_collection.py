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
  the result is refused (``implausible-time``) rather than one of them picked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.specimen import Specimen

from services.lab_ingestion.domain.collection_times import DATE_DIGITS, WrittenTime, agree

SECOND_DIGITS = 14  # YYYYMMDDhhmmss
MICROSECOND_DIGITS = 20
TIME_CONFLICT = (
    "the collection time in Observation.effective[x] is not its specimen's "
    "(Specimen.collection.collectedDateTime) beyond the precision written: which is right "
    "cannot be told"
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


def collection_time(
    obs: Observation, specimens: Specimens | None = None
) -> tuple[datetime | None, str | None]:
    """The collection time (None: none with a time and offset) and why the result is
    refused when the times written disagree (None: they do not)."""
    effective = _effective(obs)
    taken = aware(effective)
    sampled = _specimen_of(obs, specimens or {})
    if sampled is None:
        return taken, None
    first, second = _written(effective), _written(sampled)
    if first is not None and second is not None and not agree(first, second):
        return taken or aware(sampled), TIME_CONFLICT
    return (taken if taken is not None else aware(sampled)), None


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
