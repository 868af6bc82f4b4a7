"""Whether a correction sent under a new message id says again what its chain holds or held
(pure: no I/O): a resend, a correction back to an earlier value, or a message that cannot be
told as either (review 171).

An interface engine resends a correction under a new message id (HL7 MSH-10, JSON
``message_id``), sometimes late, after a newer correction replaced it. Applied, the late copy
of C 51 made 51 stand again over the newer C 52 (a patient-safety fault), and a copy of the
standing correction published a second identical one. Only the report time (HL7 OBR-22,
else OBX-19, JSON ``reported_at``: what a result's ``reported_at`` records) tells a copy from
a real correction: a lab's correction back to an earlier value is reported after the
correction it replaces; compared only with one read from the same field (``report_fields``).
A FHIR version's id is made of its content and ``issued`` time: its copies are known as
stored (``planning.check_repeated_version``), and this rule is not asked for them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.lab_ingestion.domain.model import Rejected, RejectionCode, ResultStatusCode
from services.lab_ingestion.domain.records import Content, EarlierResult
from services.lab_ingestion.domain.report_fields import (
    ReportField,
    ordered_together,
    reported_so,
)

FINAL = ResultStatusCode.FINAL.value
CORRECTED = ResultStatusCode.CORRECTED.value
# the instruction first: MSA-3 shows 80 characters
RESTATED_VERSION = (
    "correct back to an older value with a report time (OBR-22) after the standing one's: "
    "this correction says what a version under this order and test said before a later "
    "correction replaced it, and a late resend of an older version is not applied again"
)
UNORDERED_FIELDS = (
    "send the correction with a report time (OBR-22) after the standing one's: its report "
    "time is of another field than the correction standing under this order and test, "
    "which cannot tell which is newer, and a correction delivered out of order is not "
    "applied over a newer one"
)
_UNORDERED = Rejected(RejectionCode.AMBIGUOUS_VERSION, UNORDERED_FIELDS)
UNTIMED_CORRECTION = (
    "send the correction again with a report time (OBR-22): the correction standing under "
    "this order and test has one, and a correction without one cannot be told from an older "
    "correction delivered late, which is not applied over a newer one"
)
REPORTED_BEFORE = (
    "send the newest version again, or correct with a report time (OBR-22) after the "
    "standing one's: this correction was reported before the result standing under this "
    "order and test, and a correction delivered out of order is not applied over a newer one"
)


def resent_correction(
    head: EarlierResult,
    standing: Content | None,
    content: Content,
    reported_at: datetime | None,
    field: ReportField | None = None,
    *,
    analysed_at: datetime | None = None,
    written: bool = False,
) -> Rejected | bool:
    """Whether a correction of the patient's chain ``head`` (its content ``standing``, where
    known), from another message than the one that stored ``head``, is a resend (True: a
    duplicate, nothing stored), a correction to apply (False), or cannot be told (refused).
    ``field``: the field its report time ``reported_at`` was read from (``report_fields``);
    ``analysed_at``: its OBX-19 beside an OBR-22 ``reported_at``, compared instead with a
    chain timed by OBX-19 alone (review 188: a lab that began filling OBR-22 could not
    correct a standing correction timed by OBX-19); ``written``: the lab wrote a report
    time, ``reported_at`` None where it was dropped (``untimed_over_timed``).

    Report times are compared when both are known and read from one field (or the standing
    result's field is not known: stored before migration 0032, compared as then), or when
    times of the two HL7 fields still order them (``_compared``).

    Saying what stands: a resend when report times compare and it was not reported after
    the standing result; else stored, as a correction always was (it may change what a
    result's content leaves out). Otherwise, with report times that compare: reported after
    the standing result, a correction (back to an earlier value, or a new one); reported
    before it, a late copy when it says what a version replaced since said at that time,
    else a correction delivered out of order (refused: applied, it would stand over the
    newer one, and a copy of the newer one would then be taken for a resend, review 176);
    reported at the same time, a new value is applied, and an earlier version's value
    refused (a tie orders nothing: clerical corrections keep OBX-19's analysis time, and
    minutes are all OBR-22 may tell, review 176). Without such times, an earlier version's
    value is that version's copy when reported when it was, from the same field, else
    refused; a new value is applied, except against a standing correction when both carry
    report times of fields that order nothing (``_compared``), or when the standing
    correction carries one and it was sent with none (``untimed_over_timed``). A refusal
    names the standing result's field, or where that is not known (stored before migration
    0032) the correction's own (review 188: a lab timing by OBX-19 alone was told to use
    OBR-22)."""
    if head.report_field is ReportField.OBX_19 and analysed_at is not None:
        reported_at, field = analysed_at, ReportField.OBX_19
    field = field if reported_at is not None else None  # a field read empty names nothing
    reported = head.reported_at
    restated = content in head.superseded
    copy = reported_at is not None and reported_so(head.reports, content, reported_at, field)
    if reported_at is not None and reported is not None:
        if _compared(field, reported_at, head.report_field, reported):
            verdict = _by_report_times(content == standing, restated, copy, reported_at, reported)
            return _naming(verdict, head.report_field or field)
        if not restated and content != standing and head.status != FINAL:
            return _naming(_UNORDERED, head.report_field or field)  # ``_compared``
    untimed = untimed_over_timed(head, standing, content, reported_at, written=written)
    if untimed is not None:
        return untimed
    if content == standing or not restated:
        return False  # stored, as a correction always was; or a new value
    if copy:
        return True  # that version's copy
    return _naming(
        Rejected(RejectionCode.AMBIGUOUS_VERSION, RESTATED_VERSION), head.report_field or field
    )


def untimed_over_timed(
    head: EarlierResult,
    standing: Content | None,
    content: Content,
    reported_at: datetime | None,
    *,
    written: bool = False,
) -> Rejected | None:
    """Why a correction sent without any report time saying something new is not applied
    over a standing correction that has one (review 197: F 50 at 09:00, C 52 at 11:00, then
    C 51 with no OBR-22 stood over 52): which is newer cannot be told, as between fields
    that order nothing (review 187). None: it has one, the chain is untimed (a sender that
    never times its results), or the standing version is the final, which a correction
    follows; what stands said again is judged as before. HL7, JSON and FHIR alike.
    ``written``: the lab wrote a report time the service dropped (unreadable, a date alone,
    a clock change's, before 2000, in the future: README), which asking for again cannot
    mend (review 205: a resend was refused the same way, the older correction standing):
    judged as before, a new value applied."""
    if written or reported_at is not None or head.reported_at is None:
        return None
    if head.status != CORRECTED:
        return None
    if content == standing:
        return None
    reason = RESTATED_VERSION if content in head.superseded else UNTIMED_CORRECTION
    verdict = _naming(Rejected(RejectionCode.AMBIGUOUS_VERSION, reason), head.report_field)
    assert isinstance(verdict, Rejected)
    return verdict


def _compared(
    field: ReportField | None,
    reported_at: datetime,
    standing_field: ReportField | None,
    standing_reported: datetime,
) -> bool:
    """Whether a correction's report time orders it against the standing result's: of one
    field (or the standing one's not known, as before migration 0032), or of HL7's two
    fields where they still tell: a result is released (OBR-22) after it was analysed
    (OBX-19), so one analysed after the other's release is newer, and one released before
    the other's analysis older. Otherwise nothing is ordered: a new value against a
    standing correction may be an older correction delivered late, and is refused (review
    187: C 51 timed by OBX-19 alone stood over C 52 released at a later OBR-22), while a
    correction of the chain's final is applied (it is newer than the final it corrects:
    review 177)."""
    if ordered_together(field, standing_field):
        return True
    if field is ReportField.OBX_19 and standing_field is ReportField.OBR_22:
        return reported_at > standing_reported
    if field is ReportField.OBR_22 and standing_field is ReportField.OBX_19:
        return reported_at < standing_reported
    return False


def issued_before(
    head: EarlierResult,
    content: Content,
    reported_at: datetime | None,
    *,
    written: bool = False,
) -> Rejected | bool:
    """Whether a FHIR version of the patient's chain ``head`` that is not stored yet (its
    copies are known by their version id: content and ``issued``) is refused as issued
    before the standing result (review 181: corrected 51 issued at 10:00, delivered after
    corrected 52 issued at 11:00, stood over it). Otherwise it is a correction to apply
    (False), as every FHIR version was: another version saying what an earlier one said is
    no copy of it (a copy has that version's id), but a correction back, and a tie orders
    nothing. Only ``issued`` times compare (a version stored before migration 0032 is
    compared as such, as ``resent_correction`` does). A version sent without ``issued``
    (``written``: one was, and dropped) saying something new over a standing correction
    that has one is refused (``untimed_over_timed``)."""
    untimed = untimed_over_timed(head, head.content, content, reported_at, written=written)
    if untimed is not None:
        return untimed
    reported = head.reported_at
    compared = ordered_together(ReportField.FHIR_ISSUED, head.report_field)
    if reported_at is None or reported is None or not compared or reported_at >= reported:
        return False
    reason = RESTATED_VERSION if content in head.superseded else REPORTED_BEFORE
    return Rejected(RejectionCode.AMBIGUOUS_VERSION, reason)


def _naming(verdict: Rejected | bool, field: ReportField | None) -> Rejected | bool:
    """A refusal naming the report time's field compared, where that is OBX-19 (the reasons
    name OBR-22, which JSON's and FHIR's words say as their own field)."""
    if not isinstance(verdict, Rejected) or field is not ReportField.OBX_19:
        return verdict
    written = f"({ReportField.OBR_22.value})"
    return replace(verdict, reason=verdict.reason.replace(written, f"({field.value})"))


def _by_report_times(
    says_what_stands: bool,
    restated: bool,
    copy: bool,
    reported_at: datetime,
    standing_reported: datetime,
) -> Rejected | bool:
    """``resent_correction`` with both report times known. ``copy``: a version of the chain
    said the same, reported at the same time. An earlier version's value reported before
    the standing result is a duplicate only as such a copy: a report time of another field
    (OBX-19's analysis time beside OBR-22's release) or precision (a minute beside seconds)
    orders nothing, so anything else is refused, the lab told, never dropped (review 177)."""
    if says_what_stands:
        return reported_at <= standing_reported
    if reported_at > standing_reported:
        return False  # a correction back to an earlier value, or a new one
    if restated and copy and reported_at < standing_reported:
        return True  # that version's late copy
    if restated:
        return Rejected(RejectionCode.AMBIGUOUS_VERSION, RESTATED_VERSION)
    if reported_at < standing_reported:
        return Rejected(RejectionCode.AMBIGUOUS_VERSION, REPORTED_BEFORE)
    return False  # a new value at the same time
