"""Payloads of `trial.subjects.v1` (blinded) and `trial.randomisation.v1` (unblinded)."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload

# the longest site id an enrolment carries (a site token names one: shared.site_ids)
SITE_ID_MAX_LENGTH = 32


class Arm(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class SubjectEnrolled(EventPayload):
    """A randomised subject. The hospital identifier travels only as a keyed hash."""

    event_type = "SubjectEnrolled"

    site_id: str = Field(max_length=SITE_ID_MAX_LENGTH)
    site_timezone: str = Field(max_length=64, description="IANA zone, e.g. Europe/Zurich")
    hospital_id_hmac: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="HMAC-SHA256 of the normalised hospital identifier (shared.contracts.identity)",
    )
    enrolled_at: AwareDatetime
    day1: dt.date = Field(description="study day 1, the first dose")
    baseline_crp_mg_l: float | None = Field(default=None, ge=0)


class SubjectWithdrawn(EventPayload):
    event_type = "SubjectWithdrawn"

    withdrawn_at: AwareDatetime
    reason: str = Field(max_length=200)


class SubjectRandomised(EventPayload):
    """Unblinded: the arm and list position of one subject."""

    event_type = "SubjectRandomised"

    randomisation_id: uuid.UUID
    site_id: str = Field(max_length=SITE_ID_MAX_LENGTH)
    arm: Arm
    allocation_number: int = Field(ge=1)
    block_number: int = Field(ge=1)
    block_size: int = Field(ge=5, le=10)
    randomised_at: AwareDatetime
