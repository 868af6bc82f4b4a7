"""Payloads of `dose.decisions.v1` (blinded) and `dose.dispensing.v1` (unblinded)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload


class DoseAction(StrEnum):
    START = "start"
    ESCALATE = "escalate"
    MAINTAIN = "maintain"
    HOLD = "hold"
    RESUME = "resume"
    CAP = "cap"
    DISCONTINUE = "discontinue"
    OVERRIDE = "override"


class DoseDecided(EventPayload):
    """Blinded: a dose level (0 = hold) and a kit code, never mg or arm."""

    event_type = "DoseDecided"

    decision_id: uuid.UUID
    assessment_id: uuid.UUID | None = None
    study_day: int = Field(ge=1, le=120)
    level: int = Field(ge=0, le=5)
    previous_level: int = Field(ge=0, le=5)
    action: DoseAction
    kit_code: str = Field(max_length=32)
    explanation: str = Field(max_length=2000)
    protocol_version: str = Field(max_length=32)
    decided_at: AwareDatetime
    needs_review: bool = False


class DoseDispensed(EventPayload):
    """Unblinded: what the kit behind a decision actually contains."""

    event_type = "DoseDispensed"

    decision_id: uuid.UUID
    level: int = Field(ge=0, le=5)
    actual_mg: float = Field(ge=0, le=25)
    kit_code: str = Field(max_length=32)
    decided_at: AwareDatetime
