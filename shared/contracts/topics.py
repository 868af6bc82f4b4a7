"""Every topic of the platform and the payload types it may carry (SPEC section 2)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from shared.contracts.base import EventPayload
from shared.contracts.events import crp, dead_letter, dose, lab, outcome, safety, trial


@dataclass(frozen=True)
class TopicSpec:
    name: str
    producer: str
    payloads: tuple[type[EventPayload], ...]
    unblinded: bool = False
    # every event is about one subject, keyed by its subject_id (SPEC section 2): one
    # subject's events stay ordered in one partition
    keyed_by_subject: bool = True

    @cached_property
    def event_types(self) -> frozenset[str]:
        """The ``event_type`` of each payload the topic carries."""
        return frozenset(payload.event_type for payload in self.payloads)


SERVICES = ("lab-ingestion", "crp-monitor", "dose-decision", "safety-alerting", "outcome-scoring")

LAB_RESULTS = "lab.results.v1"
LAB_REJECTED = "lab.rejected.v1"
CRP_ASSESSMENTS = "crp.assessments.v1"
CRP_OVERDUE = "crp.overdue.v1"
TRIAL_SUBJECTS = "trial.subjects.v1"
TRIAL_RANDOMISATION = "trial.randomisation.v1"
DOSE_DECISIONS = "dose.decisions.v1"
DOSE_DISPENSING = "dose.dispensing.v1"
SAFETY_SAE_REPORTS = "safety.sae-reports.v1"
SAFETY_SIGNALS = "safety.signals.v1"
SAFETY_ALERTS = "safety.alerts.v1"
OUTCOME_RESULTS = "outcome.results.v1"


def dead_letter_topic(service: str) -> str:
    return f"dlq.{service}.v1"


_DOMAIN_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(LAB_RESULTS, "lab-ingestion", (lab.LabResultRecorded, lab.LabResultCancelled)),
    # a rejection is about no matched subject
    TopicSpec(LAB_REJECTED, "lab-ingestion", (lab.LabMessageRejected,), keyed_by_subject=False),
    TopicSpec(CRP_ASSESSMENTS, "crp-monitor", (crp.CrpAssessed,)),
    TopicSpec(CRP_OVERDUE, "crp-monitor", (crp.CrpWentOverdue,)),
    TopicSpec(TRIAL_SUBJECTS, "dose-decision", (trial.SubjectEnrolled, trial.SubjectWithdrawn)),
    TopicSpec(TRIAL_RANDOMISATION, "dose-decision", (trial.SubjectRandomised,), unblinded=True),
    TopicSpec(DOSE_DECISIONS, "dose-decision", (dose.DoseDecided,)),
    TopicSpec(DOSE_DISPENSING, "dose-decision", (dose.DoseDispensed,), unblinded=True),
    TopicSpec(SAFETY_SAE_REPORTS, "safety-alerting", (safety.SaeReported,)),
    TopicSpec(SAFETY_SIGNALS, "safety-alerting", (safety.SafetySignalRaised,)),
    TopicSpec(
        SAFETY_ALERTS,
        "safety-alerting",
        (safety.SafetyAlertRaised, safety.SafetyAlertAcknowledged, safety.SafetyAlertEscalated),
    ),
    TopicSpec(OUTCOME_RESULTS, "outcome-scoring", (outcome.OutcomeScored,)),
)

_DEAD_LETTER_TOPICS: tuple[TopicSpec, ...] = tuple(
    TopicSpec(
        dead_letter_topic(service),
        service,
        (dead_letter.MessageDeadLettered,),
        keyed_by_subject=False,
    )
    for service in SERVICES
)

TOPICS: dict[str, TopicSpec] = {t.name: t for t in _DOMAIN_TOPICS + _DEAD_LETTER_TOPICS}


def all_topic_names() -> list[str]:
    return sorted(TOPICS)
