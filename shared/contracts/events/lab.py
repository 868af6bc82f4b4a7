"""Payloads of `lab.results.v1` and `lab.rejected.v1` (produced by lab-ingestion)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

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


# PROTOCOL section 6: every result is published in its analyte's canonical unit (UCUM codes:
# the protocol's x10^9/L is 10*9/L). A contract: lab-ingestion converts to it, and consumers
# compare values with thresholds in it.
CANONICAL_UNITS: Final[Mapping[Analyte, str]] = MappingProxyType(
    {
        Analyte.CRP: "mg/L",
        Analyte.NEUTROPHILS: "10*9/L",
        Analyte.PLATELETS: "10*9/L",
        Analyte.HAEMOGLOBIN: "g/dL",
        Analyte.ALT: "U/L",
        Analyte.AST: "U/L",
        Analyte.BILIRUBIN: "mg/dL",
        Analyte.CREATININE: "mg/dL",
    }
)


class ResultStatus(StrEnum):
    FINAL = "final"
    CORRECTED = "corrected"


class Channel(StrEnum):
    MLLP = "mllp"
    HL7_HTTP = "hl7-http"
    FHIR = "fhir"
    JSON = "json"


def _coherence_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema says what ``LabResultRecorded.coherent`` checks: a correction, and
    only a correction, names the result it supersedes; the unit is the analyte's canonical
    one."""
    corrected = {"properties": {"status": {"const": ResultStatus.CORRECTED.value}}}
    supersedes = {"type": "string", "format": "uuid"}
    rules: list[dict[str, Any]] = [
        {
            "if": {**corrected, "required": ["status"]},
            "then": {"required": ["supersedes_result_id"],
                     "properties": {"supersedes_result_id": supersedes}},
            "else": {"properties": {"supersedes_result_id": {"type": "null"}}},
        }
    ]  # fmt: skip
    rules += [
        {
            "if": {"properties": {"analyte": {"const": analyte.value}}, "required": ["analyte"]},
            "then": {"properties": {"unit": {"const": unit}}},
        }
        for analyte, unit in CANONICAL_UNITS.items()
    ]
    schema["allOf"] = rules


class LabResultRecorded(EventPayload):
    """A final or corrected result, normalised to the protocol's canonical unit."""

    model_config = ConfigDict(json_schema_extra=_coherence_schema)

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

    @model_validator(mode="after")
    def coherent(self) -> Self:
        """An event read as a result must say one thing: crp-monitor drops from a series
        whatever result an event supersedes, whatever its status (a final one naming a
        result hid it; a correction naming none left the value it corrects standing), and
        consumers grade ``value`` against thresholds in the canonical unit."""
        corrected = self.status is ResultStatus.CORRECTED
        if corrected and self.supersedes_result_id is None:
            raise ValueError("a corrected result names the result it supersedes; none given")
        if not corrected and self.supersedes_result_id is not None:
            raise ValueError(
                f"a {self.status.value} result supersedes none; only a correction does"
            )
        if self.unit != CANONICAL_UNITS[self.analyte]:
            raise ValueError(
                f"{self.analyte.value} is published in {CANONICAL_UNITS[self.analyte]}, "
                "its canonical unit (PROTOCOL section 6); another unit was given"
            )
        return self


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
