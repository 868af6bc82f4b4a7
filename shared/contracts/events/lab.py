"""Payloads of `lab.results.v1` and `lab.rejected.v1` (produced by lab-ingestion)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload


class Analyte(StrEnum):
    CRP = "crp"
    NEUTROPHILS = "neutrophils"
    PLATELETS = "platelets"
    HAEMOGLOBIN = "haemoglobin"
    ALT = "alt"
    AST = "ast"
    BILIRUBIN = "bilirubin"
    CREATININE = "creatinine"


class ResultStatus(StrEnum):
    FINAL = "final"
    CORRECTED = "corrected"


class Channel(StrEnum):
    MLLP = "mllp"
    HL7_HTTP = "hl7-http"
    FHIR = "fhir"
    JSON = "json"


class LabResultRecorded(EventPayload):
    """A final or corrected result, normalised to the protocol's canonical unit."""

    event_type = "LabResultRecorded"

    result_id: uuid.UUID
    analyte: Analyte
    loinc: str = Field(max_length=20)
    value: float
    unit: str = Field(max_length=20, description="canonical unit (PROTOCOL section 6)")
    original_value: str = Field(max_length=64)
    original_unit: str = Field(max_length=64)
    reference_low: float | None = None
    reference_high: float | None = None
    abnormal_flag: str | None = Field(default=None, max_length=10)
    status: ResultStatus
    supersedes_result_id: uuid.UUID | None = Field(
        default=None, description="for a correction: the result it replaces"
    )
    collected_at: AwareDatetime
    reported_at: AwareDatetime | None = None
    source: str = Field(max_length=100, description="sending application^facility")
    channel: Channel


class LabResultCancelled(EventPayload):
    """An earlier result withdrawn by the lab (HL7 OBX-11 X or D)."""

    event_type = "LabResultCancelled"

    result_id: uuid.UUID
    cancelled_result_id: uuid.UUID
    analyte: Analyte
    reason: Literal["cannot-be-obtained", "deleted"]
    source: str = Field(max_length=100)


class LabMessageRejected(EventPayload):
    """An inbound message or result the platform could not use. Carries no PHI."""

    event_type = "LabMessageRejected"

    rejection_id: uuid.UUID
    channel: Channel
    source: str | None = Field(default=None, max_length=100)
    message_control_id: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "always null: a sender's message id may be built from the patient's name or "
            "birth date; the rejection is known by rejection_id (`cachexia rejection show`)"
        ),
    )
    reason_code: str = Field(max_length=64)
    reason: str = Field(max_length=500)
    received_at: AwareDatetime
