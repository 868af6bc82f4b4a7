"""Payloads of `lab.results.v1` and `lab.rejected.v1` (produced by lab-ingestion)."""

from __future__ import annotations

import uuid
from typing import Any, Final, Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from shared.contracts.base import EventPayload
from shared.contracts.events.lab_codes import (
    CANONICAL_UNITS,
    Analyte,
    Channel,
    Comparator,
    ResultStatus,
)

__all__ = [
    "CANONICAL_UNITS", "Analyte", "Channel", "Comparator", "LabMessageRejected",
    "LabResultCancelled", "LabResultRecorded", "ResultStatus",
]  # fmt: skip


_UNIT_DESCRIPTION: Final = (
    "the analyte's canonical unit (PROTOCOL section 6), exactly one of: "
    + ", ".join(f"{analyte.value} `{unit}`" for analyte, unit in CANONICAL_UNITS.items())
    + ". Counts are written as the UCUM code `10*9/L`, which is the PROTOCOL table's "
    "`x10^9/L`; compare strings exactly"
)


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

    Its envelope: ``subject_id`` the trial subject, ``occurred_at`` the specimen's
    collection time (``collected_at``), ``correlation_id`` the stored message's id (shared
    by the results and cancellations of one message), ``causation_id`` null.

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

    result_id: uuid.UUID = Field(
        description=(
            "this result's id (a correction has its own and names the one it replaces in "
            "`supersedes_result_id`); a `LabResultCancelled` withdraws it by naming it in "
            "`cancelled_result_id`, never in its own `result_id`"
        )
    )
    analyte: Analyte = Field(description="the trial analyte (codes: the Analyte definition)")
    loinc: str = Field(
        max_length=20,
        description=(
            "the LOINC code that named the analyte, as the laboratory sent it (or as the "
            "mapping of its local code gives it): one of the Analyte definition's codes"
        ),
    )
    value: float = Field(
        description=(
            "the value in `unit`, converted exactly (in decimal) from the value sent and "
            "never rounded (5 umol/L bilirubin is 0.29239766081871343 mg/dL); with "
            "`comparator` set, the limit the laboratory reported, not a measurement"
        )
    )
    unit: str = Field(max_length=20, description=_UNIT_DESCRIPTION)
    original_value: str = Field(
        max_length=64,
        description=(
            "the value as the laboratory wrote it, trimmed, its comparator included (`<5`), "
            "in `original_unit`; cut to 64 characters"
        ),
    )
    original_unit: str = Field(
        max_length=64,
        description=(
            "the unit as the laboratory wrote it (the OBX-6 component or FHIR code or unit "
            "that decided the conversion: `umol/L`, `x10^9/L`, `K/uL`), trimmed; cut to 64 "
            "characters"
        ),
    )
    reference_low: float | None = Field(
        default=None,
        description=(
            "the laboratory's lower reference limit (LLN) in `unit`, converted as `value` is "
            "(from the range's own unit when it names one), never rounded; null when the "
            "laboratory sent none (`<5` has an upper limit only) or its range could not be "
            "read surely (one range per sex or age, a unit that cannot be converted, limits "
            "no laboratory uses): PROTOCOL's LLN applies then"
        ),
    )
    reference_high: float | None = Field(
        default=None,
        description=(
            "the laboratory's upper reference limit (ULN) in `unit`, as `reference_low` "
            "(`>40` has a lower limit only); null: PROTOCOL's ULN applies"
        ),
    )
    abnormal_flag: str | None = Field(
        default=None,
        max_length=10,
        description=(
            "the most severe of the laboratory's flags, as an HL7 table 0078 or FHIR "
            "ObservationInterpretation code in upper case: LL, HH, AA, LU, HU, L, H, LX, HX, A "
            "in that order, then any other code (`<`, `>`: off the instrument's scale, "
            "`comparator` is set), N only when nothing else was said; null when the "
            "laboratory sent no code"
        ),
    )
    status: ResultStatus = Field(description="final or corrected (the ResultStatus definition)")
    supersedes_result_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "the `result_id` of the result this one replaces (a correction's, now; the "
            "class description tells older events): drop that result, whatever `status` says"
        ),
    )
    collected_at: AwareDatetime = Field(
        description=(
            "the specimen's collection time, in UTC (a local time the sender wrote without "
            "an offset is read in the sender's configured time zone, else with MSH-7's "
            "offset); the envelope's `occurred_at` is the same time"
        )
    )
    reported_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "when the laboratory released the result (HL7 OBR-22, else OBX-19; FHIR issued; "
            "JSON reported_at), in UTC; null when not sent or not readable"
        ),
    )
    source: str = Field(
        max_length=100,
        description=(
            "the sender the result is kept under, `application^facility` (HL7 MSH-3^MSH-4; "
            "for FHIR and JSON the allowed sender the caller's token delivers as); cut to 100 "
            "characters"
        ),
    )
    channel: Channel = Field(description="how the result came in")
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
    """An earlier result withdrawn by the laboratory, every version of it: HL7 OBX-11 X
    (reason ``cannot-be-obtained``), D or W (``deleted``); FHIR and JSON status
    ``cancelled`` (``cannot-be-obtained``) or ``entered-in-error`` (``deleted``).

    The withdrawn result is ``cancelled_result_id``. ``result_id`` is this cancellation's
    own id, drawn afresh: it names no result and never appears in another event, so a
    consumer keying results on ``result_id`` across both event types must not store it.

    Its envelope: ``subject_id`` the trial subject, ``occurred_at`` when the event was
    built (the cancellation's processing time; no time of the lab's is carried),
    ``correlation_id`` the stored message's id, ``causation_id`` null."""

    event_type = "LabResultCancelled"

    result_id: uuid.UUID = Field(
        description=(
            "this cancellation's own id, drawn afresh for the event: it names no result "
            "(the withdrawn one is `cancelled_result_id`); never key a result on it"
        )
    )
    cancelled_result_id: uuid.UUID = Field(
        description=(
            "the `result_id` of the result withdrawn: the last version published of it (a "
            "correction's own id when it was corrected); the versions it superseded are "
            "withdrawn with it. Drop it from the subject's series"
        )
    )
    analyte: Analyte = Field(description="the withdrawn result's analyte")
    reason: Literal["cannot-be-obtained", "deleted"] = Field(
        description=(
            "`cannot-be-obtained`: HL7 X, FHIR or JSON cancelled (e.g. a clumped sample); "
            "`deleted`: HL7 D or W (posted as wrong, e.g. for the wrong patient), FHIR or "
            "JSON entered-in-error"
        )
    )
    source: str = Field(
        max_length=100,
        description="the sender, `application^facility`, as on the result it withdraws",
    )


# lab-ingestion's rejection codes (RejectionCode in services/lab_ingestion/domain/model.py; a
# test keeps the two lists equal)
_REASON_CODES_LIST: Final = (
    "malformed-message", "unsupported-message-type", "unsupported-processing-id",
    "unknown-source", "unknown-analyte", "ambiguous-analyte", "missing-unit",
    "unconvertible-unit", "non-numeric-value", "censored-value", "implausible-value",
    "missing-collection-time", "implausible-time", "unknown-result-status",
    "missing-patient-identifier", "unknown-corrected-result", "result-of-another-patient",
    "several-patients-in-message", "ambiguous-patient", "ambiguous-patient-identifier",
    "result-of-another-analyte", "result-of-another-sample", "conflicting-result-identifiers",
    "reused-message-id", "ambiguous-version", "subject-withdrawn", "processing-failed",
    "kept-copy-of-a-rejection",
)  # fmt: skip
_REASON_CODES: Final = (
    "why, as a bounded code (the list may grow: read an unknown code as a rejection all "
    "the same): " + ", ".join(f"`{code}`" for code in _REASON_CODES_LIST)
)


class LabMessageRejected(EventPayload):
    """An inbound message or result the platform could not use, kept (redacted) for
    inspection and replay. Carries no PHI.

    Its envelope: ``subject_id`` null (a rejection names no patient; the topic is not keyed
    by subject), ``occurred_at`` when the event was built (``received_at`` is when the
    message came), ``correlation_id`` the ``rejection_id``, ``causation_id`` null; its
    ``event_id`` follows from the ``rejection_id``, so it is published once."""

    event_type = "LabMessageRejected"

    rejection_id: uuid.UUID = Field(
        description="the kept rejection's id (`cachexia rejection show ID`, replay)"
    )
    channel: Channel = Field(description="how the message came in")
    source: str | None = Field(
        default=None,
        max_length=100,
        description=(
            "the sender, `application^facility`, as the kept copy names it (a sender not "
            "on the allow-list may be shown scrubbed); null when none could be read"
        ),
    )
    message_control_id: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "always null: a sender's message id may be built from the patient's name or "
            "birth date; the rejection is known by rejection_id (`cachexia rejection show`)"
        ),
    )
    reason_code: str = Field(max_length=64, description=_REASON_CODES)
    reason: str = Field(
        max_length=500,
        description=(
            "why, in words for the laboratory (the ACK's or OperationOutcome's text); "
            "quotes no free text of the message; cut to 500 characters"
        ),
    )
    received_at: AwareDatetime = Field(description="when the platform received the message")
