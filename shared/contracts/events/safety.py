"""Payloads of `safety.sae-reports.v1`, `safety.signals.v1` and `safety.alerts.v1`."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload


class Seriousness(StrEnum):
    DEATH = "death"
    LIFE_THREATENING = "life-threatening"
    HOSPITALISATION = "hospitalisation"
    DISABILITY = "disability"
    CONGENITAL_ANOMALY = "congenital-anomaly"
    IMPORTANT_MEDICAL_EVENT = "important-medical-event"


class SaeReported(EventPayload):
    event_type = "SaeReported"

    case_id: uuid.UUID
    report_id: uuid.UUID
    is_follow_up: bool
    term: str = Field(max_length=200)
    onset_date: dt.date
    site_aware_at: AwareDatetime
    reported_at: AwareDatetime
    seriousness: list[Seriousness] = Field(min_length=1)
    ctcae_grade: int = Field(ge=1, le=5)
    related: bool
    expected: bool
    susar: bool
    reported_late: bool
    in_follow_up_window: bool
    regulatory_due_at: AwareDatetime | None = None


class SignalKind(StrEnum):
    NEUTROPENIA = "neutropenia"
    THROMBOCYTOPENIA = "thrombocytopenia"
    NON_HAEMATOLOGICAL_AE = "non-haematological-ae"
    RELATED_SAE = "related-sae"
    VENOUS_THROMBOEMBOLISM = "venous-thromboembolism"
    RENAL_IMPAIRMENT = "renal-impairment"
    RECOVERY = "recovery"


class SignalAction(StrEnum):
    HOLD = "hold"
    CAP = "cap"
    RESUME = "resume"
    DISCONTINUE = "discontinue"
    NONE = "none"


class SafetySignalRaised(EventPayload):
    """A safety finding that changes what dose-decision may do."""

    event_type = "SafetySignalRaised"

    signal_id: uuid.UUID
    kind: SignalKind
    action: SignalAction
    ctcae_grade: int | None = Field(default=None, ge=0, le=5)
    cap_level: int | None = Field(default=None, ge=1, le=5)
    source_event_id: uuid.UUID | None = None
    detail: str = Field(max_length=500)


class AlertSeverity(StrEnum):
    URGENT = "urgent"
    HIGH = "high"


class SafetyAlertRaised(EventPayload):
    event_type = "SafetyAlertRaised"

    alert_id: uuid.UUID
    severity: AlertSeverity
    reason: str = Field(max_length=500)
    raised_at: AwareDatetime
    escalate_at: AwareDatetime


class SafetyAlertAcknowledged(EventPayload):
    event_type = "SafetyAlertAcknowledged"

    alert_id: uuid.UUID
    acknowledged_at: AwareDatetime
    acknowledged_by: str = Field(max_length=100)


class SafetyAlertEscalated(EventPayload):
    event_type = "SafetyAlertEscalated"

    alert_id: uuid.UUID
    escalated_at: AwareDatetime
    escalated_to: str = Field(max_length=100)
