"""Payloads of `crp.assessments.v1` and `crp.overdue.v1` (produced by crp-monitor)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload


class CrpResponse(StrEnum):
    RESPONSE = "response"
    PARTIAL = "partial"
    NON_RESPONSE = "non-response"
    NO_VALID_CRP = "no-valid-crp"


class CrpAssessed(EventPayload):
    """A scheduled twice-weekly CRP assessment of one subject."""

    event_type = "CrpAssessed"

    assessment_id: uuid.UUID
    study_day: int = Field(ge=1, le=120)
    assessed_at: AwareDatetime
    baseline_crp_mg_l: float | None = Field(default=None, ge=0)
    crp_mg_l: float | None = Field(default=None, ge=0)
    crp_result_id: uuid.UUID | None = None
    ratio_to_baseline: float | None = Field(default=None, ge=0)
    response: CrpResponse
    protocol_version: str = Field(max_length=32)


class CrpWentOverdue(EventPayload):
    """No valid CRP in the 72 hours before an assessment."""

    # The wire name is older than the class's past-tense name and stays: the topic's JSON
    # Schema (schemas/crp.overdue.v1/CrpOverdue.v1.schema.json) and its $id are named by it
    event_type = "CrpOverdue"

    assessment_id: uuid.UUID
    study_day: int = Field(ge=1, le=120)
    due_at: AwareDatetime
    last_crp_collected_at: AwareDatetime | None = None
