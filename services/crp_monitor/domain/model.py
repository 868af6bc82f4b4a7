"""CRP series of one subject (pure domain: no I/O)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.contracts.events.lab import Comparator

# why an event naming a result that another subject's events stored is refused (dead-lettered):
# like an event under another subject's key, it is not in its subject's partition
RESULT_OF_ANOTHER_SUBJECT = "result-of-another-subject"
# why a correction naming itself as the result it supersedes is refused: it would supersede
# itself and stand in no series, its value gone without a trace
SUPERSEDES_ITSELF = "supersedes-itself"
# why a result under the result_id of its subject's stored result, with other content, is
# refused: lab-ingestion gives every version of a result its own id (a producer bug, a
# corrupted replay); the one stored stands, the other is not dropped unseen
REUSED_RESULT_ID = "reused-result-id"


@dataclass(frozen=True)
class CrpMeasurement:
    """One CRP value in mg/L as reported by a lab (final or corrected).

    ``comparator`` set: the lab reported a limit (a censored value, "<5 mg/L" below its
    reporting limit), ``value_mg_l`` is that limit and the true CRP is below (<, <=) or above
    (>, >=) it. It is never read as a measured value: whatever compares CRP with a threshold
    or baseline decides on the interval, or takes the value as unknown. None: measured."""

    result_id: uuid.UUID
    subject_id: str
    value_mg_l: float
    collected_at: datetime
    status: str
    supersedes_result_id: uuid.UUID | None = None
    cancelled: bool = False
    # a correction of a result stored under another subject: another patient's value
    corrects_another_subject: bool = False
    # keyword only: no positional argument meant for another field can land in it
    comparator: Comparator | None = field(default=None, kw_only=True)
    # the order the result was stored in, which is the order its event was read (crp_results'
    # received_seq): of one sample's values, the later received is the later point. None: not
    # stored yet (received after every stored one)
    received_seq: int | None = field(default=None, kw_only=True)

    @property
    def supersedes_itself(self) -> bool:
        return self.supersedes_result_id == self.result_id


@dataclass(frozen=True)
class CrpCancellation:
    """A lab's withdrawal (HL7 X/D) of one subject's CRP result."""

    result_id: uuid.UUID
    subject_id: str
    cancelled_at: datetime
    event_id: uuid.UUID  # of the LabResultCancelled


class CancellationOutcome(StrEnum):
    """What became of a cancellation (the label of crp-monitor's cancellation counter)."""

    APPLIED = "applied"  # its stored result is now cancelled
    REPEATED = "repeated"  # its result was cancelled already
    PENDING = "pending"  # its result is not stored yet: kept until it arrives
    APPLIED_ON_ARRIVAL = "applied-on-arrival"  # a pending one, as its result arrived
    # a pending one whose result arrived under another subject: not applied (discarded)
    OTHER_SUBJECT = "other-subject"
    # its result is a correction refused as naming another subject's result: nothing of it
    # stands, nothing to withdraw
    REFUSED_RESULT = "refused-result"


@dataclass(frozen=True)
class CancellationNoted:
    """An outcome to log and count once the unit of work that produced it committed."""

    outcome: CancellationOutcome
    result_id: uuid.UUID
    subject_id: str  # the cancellation's subject
    event_id: uuid.UUID  # of the cancellation

    @classmethod
    def of(cls, outcome: CancellationOutcome, cancellation: CrpCancellation) -> CancellationNoted:
        return cls(outcome, cancellation.result_id, cancellation.subject_id, cancellation.event_id)


@dataclass(frozen=True)
class CorrectionOfAnotherSubjectFound:
    """A correction stored under one subject whose corrected result then arrived under another
    (the correction read first). It stands in neither series; noted to log and count once the
    unit of work that found it committed."""

    result_id: uuid.UUID  # of the correction
    subject_id: str  # the correction's subject
    corrected_result_id: uuid.UUID
    corrected_subject_id: str  # the subject the corrected result arrived under
    event_id: uuid.UUID  # of the correction


@dataclass(frozen=True)
class PendingCancellations:
    """The cancellations kept until their result arrives: how many, and the oldest's arrival."""

    count: int
    oldest_received_at: datetime | None

    def oldest_age_seconds(self, now: datetime) -> float:
        if self.oldest_received_at is None:
            return 0.0
        return max((now - self.oldest_received_at).total_seconds(), 0.0)


def current_series(
    measurements: list[CrpMeasurement], withdrawn_at: datetime | None = None
) -> list[CrpMeasurement]:
    """The values that stand: not cancelled and not superseded by a correction, by time. A
    correction of another subject's result stands nowhere: its value is another patient's,
    and so is that of every correction of it (a chain C1 -> C2 read before the result). Nor
    does a sample collected after the subject's withdrawal (``withdrawn_at``): it is no
    trial result, though lab-ingestion published it before it read the withdrawal; a
    correction of an earlier sample keeps that sample's collection time, and stands.

    Values of one collection time (several of one sample: two sub-ids, a re-run under a new
    order number, CRP and hs-CRP) are in the order received, never by their result ids (random):
    the later received is the later point, "the newest" of PROTOCOL.md section 3."""
    foreign = {m.result_id for m in measurements if m.corrects_another_subject}
    while (
        more := {m.result_id for m in measurements if m.supersedes_result_id in foreign} - foreign
    ):
        foreign |= more
    own = [m for m in measurements if m.result_id not in foreign]
    superseded = {m.supersedes_result_id for m in own if m.supersedes_result_id}
    standing = [m for m in own if not m.cancelled and m.result_id not in superseded]
    if withdrawn_at is not None:
        standing = [m for m in standing if m.collected_at <= withdrawn_at]
    return sorted(standing, key=received_order)


def received_order(m: CrpMeasurement) -> tuple[datetime, bool, int]:
    """The series' order: by collection time, then as received (``received_seq``; one not
    stored yet after every stored one, in the order given: the sort is stable)."""
    return (m.collected_at, m.received_seq is None, m.received_seq or 0)
