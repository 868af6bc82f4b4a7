"""Which field a result's report time came from (pure: no I/O), stored with each version
(``results.report_field``, migration 0032; fixer 178).

Report times of different fields order nothing against each other: HL7's OBX-19 is when the
analyser measured (v2.5), OBR-22 when the lab released the result; a JSON ``reported_at`` or
a FHIR ``issued`` is its own sender's. A correction resent under a new message id is told
from a real correction by its report time only against the standing result's of the same
field (``correction_resends``): a first correction timed by OBX-19 after a final released at
a later OBR-22 was refused as reported before it (review 177), a false refusal.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class ReportField(StrEnum):
    """The field a report time was read from (the stored text is the value)."""

    OBR_22 = "OBR-22"  # HL7: the release time
    OBX_19 = "OBX-19"  # HL7 v2.5: the analysis time, read only when OBR-22 is empty
    JSON_REPORTED_AT = "JSON reported_at"
    FHIR_ISSUED = "FHIR issued"


def report_field(stored: str | None) -> ReportField | None:
    """A stored field as read (None: stored before migration 0032, not known)."""
    return None if stored is None else ReportField(stored)


def ordered_together(first: ReportField | None, second: ReportField | None) -> bool:
    """Whether report times from the two fields may be compared: of one field, or of one not
    known (a version stored before migration 0032, compared as every report time was then:
    a new value reported before the standing result is refused, never applied over it)."""
    return first is None or second is None or first == second


# A version of a result's chain, reported when and read from which field (``EarlierResult``)
Report = tuple[tuple[object, ...], datetime, ReportField | None]


def reported_so(
    reports: frozenset[Report],
    content: tuple[object, ...],
    reported_at: datetime,
    field: ReportField | None,
) -> bool:
    """Whether a version said ``content`` reported at ``reported_at`` from the same field (a
    version whose field is not known: at that time, as before migration 0032)."""
    return any(
        said == content and at == reported_at and ordered_together(by, field)
        for said, at, by in reports
    )
