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


class Comparator(StrEnum):
    """A censored value's relation to the number published (FHIR Quantity.comparator, HL7
    SN.1): the laboratory reported a limit, not a measurement."""

    BELOW = "<"
    AT_MOST = "<="
    ABOVE = ">"
    AT_LEAST = ">="


class Channel(StrEnum):
    MLLP = "mllp"
    HL7_HTTP = "hl7-http"
    FHIR = "fhir"
    JSON = "json"


def _coherence_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema says what ``LabResultRecorded.coherent`` checks: the unit is the
    analyte's canonical one."""
    schema["allOf"] = [
        {
            "if": {"properties": {"analyte": {"const": analyte.value}}, "required": ["analyte"]},
            "then": {"properties": {"unit": {"const": unit}}},
        }
        for analyte, unit in CANONICAL_UNITS.items()
    ]


class LabResultRecorded(EventPayload):
    """A final or corrected result, normalised to the protocol's canonical unit.

    ``supersedes_result_id`` names the result this one replaces, whatever the status: a
    consumer drops that result from its series. lab-ingestion names one only for a
    correction now, but schema_version 1 carried others, and its outbox keeps and
    republishes published events for 14 days, so a consumer still reads them and they mean
    what they say. Before 2026-12-03 a second final result under one key was published as
    ``final`` naming the final one it replaced (it supersedes it); before 2026-12-02 a
    correction of a result that was never stored was published naming none (it supersedes
    nothing).

    ``laboratory_comment`` (optional, written only when true) says the laboratory commented
    on the result, never what it wrote: events published before it was read, and those of
    results without a comment, do not carry it.

    ``comparator`` (optional, written only when set) says ``value`` is a limit the laboratory
    could not measure beyond, not a measurement: ``<`` 0.1 neutrophils is below 0.1 x10^9/L
    (grade 4 whatever it is), ``>`` 1000 ALT above 1000 U/L, ``<`` 5 CRP below 5 mg/L. A
    consumer must never read such a value as its number: decide on the interval, or treat
    the result as unknown where the interval does not decide. Absent: a measured value.
    Events published before censored values were accepted never carry it (they were
    refused then)."""

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
        default=None, description="the result it replaces (a correction's, now)"
    )
    collected_at: AwareDatetime
    reported_at: AwareDatetime | None = None
    source: str = Field(max_length=100, description="sending application^facility")
    channel: Channel
    laboratory_comment: bool = Field(
        default=False,
        # written only when true: an event without a comment is the event it always was, and
        # a consumer built before the field (payloads forbid unknown fields) still reads it
        exclude_if=lambda commented: not commented,
        description=(
            "true: the laboratory commented on this result (platelet clumps seen, sample "
            "haemolysed; HL7 NTE, FHIR Observation.note): read the comment in the hospital's "
            "system before acting on the value. The text is never carried. Absent means "
            "false: no comment, or the result was published before comments were read"
        ),
    )

    comparator: Comparator | None = Field(
        default=None,
        # written only when set: a measured value's event is the event it always was
        exclude_if=lambda comparator: comparator is None,
        description=(
            "set: the laboratory reported a limit (HL7 SN `<^5`, `<5`, a value flagged off "
            "the instrument's scale; FHIR valueQuantity.comparator): the true value is below "
            "(<, <=) or above (>, >=) `value`, in the canonical unit. Absent: `value` was "
            "measured"
        ),
    )

    @model_validator(mode="after")
    def coherent(self) -> Self:
        """Consumers grade ``value`` against thresholds in the canonical unit, which every
        lab.results.v1 event ever published was in. Status and ``supersedes_result_id`` are
        not checked against each other: events published before the rules of 2026-12-02 and
        2026-12-03 (the class's docstring) must still be read, not dead-lettered."""
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
