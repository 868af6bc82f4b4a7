"""What lab-ingestion stores: one record per message, result and rejection (pure data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from services.lab_ingestion.domain.model import NormalisedResult, RejectionCode
from services.lab_ingestion.domain.rejection_states import RejectionState
from services.lab_ingestion.domain.report_fields import Report, ReportField


@dataclass(frozen=True)
class MessageRecord:
    message_id: uuid.UUID
    source: str
    control_id: str
    channel: str
    outcome: str  # "accepted" ("not-enrolled" in rows of earlier versions)
    subject_id: str | None
    result_count: int
    received_at: datetime
    content_digest: str | None = None  # what the message said (``content_digest``)
    # how many of its trial results asked to withdraw one (X, D, W), as the lab sent them,
    # whether or not they found anything: one that withdrew nothing is told as such
    cancellations: int = 0
    # a FHIR message's laboratory: the HL7 sender its token was bound to (migration 0039;
    # ``copies_elsewhere.feed_of``); None otherwise
    feed_of: str | None = None


@dataclass(frozen=True)
class ResultRecord:
    result_id: uuid.UUID
    message_id: uuid.UUID
    subject_id: str
    source: str
    result_key: str
    status: str  # F, C or P
    result: NormalisedResult
    collected_at: datetime
    reported_at: datetime | None
    supersedes_result_id: uuid.UUID | None
    cancelled_at: datetime | None = None
    # FHIR: the keys of its other identifiers, stored with it (``result_identifiers``)
    other_keys: tuple[str, ...] = ()
    # the message whose cancellation withdrew it, with ``cancelled_at`` (``Withdrawal``)
    cancelled_by: uuid.UUID | None = None
    # the identifiers its keys are made of (``fhir_cancellations.identifier_parts``)
    identifier_parts: frozenset[str] = frozenset()
    # the field ``reported_at`` was read from (None: no report time; stored before
    # migration 0032, not known)
    report_field: ReportField | None = None


class Withdrawal(NamedTuple):
    """A stored result a cancellation withdraws, with every version of its chain (same key
    and patient), and the message whose cancellation it is: the write names that message on
    every version it withdraws (``results.cancelled_by_message``)."""

    result_id: uuid.UUID
    message_id: uuid.UUID


@dataclass(frozen=True)
class RejectionRecord:
    rejection_id: uuid.UUID
    channel: str
    source: str | None
    control_id: str | None
    code: RejectionCode
    reason: str
    payload: str  # redacted
    received_at: datetime
    # what a replay checks the kept copy against: the patient's keyed hash and the
    # message's content digest as read (None: not read, or no one patient's)
    patient_hmac: str | None = None
    content_digest: str | None = None


@dataclass(frozen=True)
class KeptRejection:
    """A stored rejection, as a replay reads it: its kept (redacted) copy and what the
    copy must read back as (``RejectionRecord``'s patient hash and content digest)."""

    rejection_id: uuid.UUID
    channel: str
    source: str | None
    control_id: str | None
    reason_code: str
    reason: str
    payload: str
    received_at: datetime
    patient_hmac: str | None
    content_digest: str | None
    replayed_at: datetime | None
    replay_outcome: str | None
    # an operator's closing (``cachexia rejection close``): when, and why (``closing_reasons``)
    closed_at: datetime | None = None
    closed_as: str | None = None

    @property
    def state(self) -> RejectionState:
        """Open, replayed, or closed by an operator (``rejection_states``)."""
        return RejectionState(self.replayed_at, self.closed_at, self.closed_as)


class EnrolledSubject(NamedTuple):
    """A subject a hashed hospital identifier names, with the trial site enrolling them."""

    subject_id: str
    site_id: str


class WithdrawnSubject(NamedTuple):
    """A subject withdrawn from the trial, and when: results collected until then are the
    trial's, and earlier results of theirs may still be corrected or cancelled."""

    subject: EnrolledSubject
    withdrawn_at: datetime


class Sender(NamedTuple):
    """An allowed sender's settings: the time zone of its local times, the site it serves,
    the assigning authority of the hospital numbers its patients are matched by: its name
    (``identifier_authority``, the first the operator gave) and the other names the same
    authority is written by (HL7's namespace HOSP, FHIR's system urn:hosp)."""

    time_zone: str | None = None
    site_id: str | None = None
    identifier_authority: str | None = None
    other_authority_names: tuple[str, ...] = ()

    @property
    def identifier_authorities(self) -> tuple[str, ...]:
        """Every name of the sender's assigning authority, the first first; none without."""
        first = self.identifier_authority
        return (first, *self.other_authority_names) if first else ()


# What a result says that the trial uses (``result_content``): a final result saying it
# again is a duplicate
Content = tuple[object, ...]


def result_content(
    loinc: str,
    value: float | None,
    unit: str | None,
    reference: tuple[float | None, float | None],
    *,
    abnormal_flag: str | None,
    collected_at: datetime | None,
    comparator: str | None = None,
) -> Content:
    """A result's test, canonical value and unit, reference range, abnormal flag and sample,
    as stored and as planned alike; and whether the value is a limit (``comparator``: ``<5``
    says something else than ``5``). A measured value's content is the tuple it always was."""
    said = (loinc, value, unit, *reference, (abnormal_flag or "").strip(), collected_at)
    return said if comparator is None else (*said, str(comparator))


# a result key (source, key) and whose results under it: a patient's chain there
PatientKey = tuple[str, str, str]


class EarlierResult(NamedTuple):
    """The head of a result key's chain: the result a correction or cancellation acts on."""

    result_id: uuid.UUID
    subject_id: str
    analyte: str  # a correction or cancellation of it must be of the same analyte
    collected_at: datetime | None = None  # a final result restating it is of this sample
    content: Content | None = None  # what it says (None: not read)
    # what the chain's earlier standing versions said (a delayed copy of one is no change)
    superseded: frozenset[Content] = frozenset()
    # when the lab reported it (HL7 OBR-22, else OBX-19, JSON ``reported_at``; None: not
    # said), and what each of the chain's standing versions said when reported, read from
    # which field (those with a report time): a correction resent under a new message id is
    # told so (``correction_resends``); the field ``reported_at`` was read from (None: not
    # known, stored before migration 0032)
    reported_at: datetime | None = None
    reports: frozenset[Report] = frozenset()
    report_field: ReportField | None = None
    # its status: F (the chain's final, which no correction replaced) or C (None: not read)
    status: str | None = None


class WithdrawnVersion(NamedTuple):
    """A version of a result key's chain that a cancellation (X, D or W) withdrew: whose
    result it was, of which analyte, and what it said (None: a preliminary result, which a
    final one may say again). A final result restating a final or corrected one is a late
    copy of it, and a cancellation of a chain withdrawn before changes nothing."""

    subject_id: str
    analyte: str
    content: Content | None


class UnheldSample(NamedTuple):
    """A final result a batch planned without a read as the only copy of its sample: no
    standing final or corrected result of the patient's, of its analyte, collected within
    ``copies_elsewhere.SAME_SAMPLE`` of it, over the lab's other feed (``channel``: the one
    its message came over; HL7 for a FHIR result, FHIR for an HL7 one; ``feed_of``: a FHIR
    result's laboratory, the HL7 sender its token is bound to, whose results alone it is
    compared with), shares this identifier part (as written) with it (``copies_elsewhere``)."""

    source: str
    subject_id: str
    analyte: str
    collected_at: datetime
    part: str
    channel: str = "mllp"  # ``Channel``'s value: MLLP, POST /v1/hl7 or FHIR
    feed_of: str | None = None


@dataclass(frozen=True)
class BatchAssumptions:
    """What a batch planned without reading the database took for granted: the one enrolled
    subject (or None) of each hashed identifier, and result keys that never held a final or
    corrected result (none standing, none withdrawn). A batch planned from a read names no
    subject, and the keys it writes that the read found holding no row: the guard checks
    that they still hold none (``BatchContext.assumptions``)."""

    subjects: list[tuple[str, EnrolledSubject | None]] = field(default_factory=list)
    new_result_keys: list[tuple[str, str]] = field(default_factory=list)
    # its final results over HL7 or FHIR, one row per identifier part: the write checks that
    # the lab's other feed holds not their sample (review 181; migrations 0033-0039)
    unheld_samples: list[UnheldSample] = field(default_factory=list)
    # the hashes of the numbers whose messages it discarded as nobody's at their senders'
    # sites: the write checks that none is a subject's former one (migration 0035; review
    # 201: not the numbers it took for nobody's anywhere, nor PID-4's)
    discarded: list[str] = field(default_factory=list)
