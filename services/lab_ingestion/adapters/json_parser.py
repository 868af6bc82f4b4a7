"""The platform's own JSON lab-result format (``POST /v1/lab-results``) and its redaction.

The request models are strict (no type coercion, unknown fields rejected) and are validated in
JSON mode, so timestamps must be ISO 8601 strings with an offset. Error messages name the
field and the problem but never echo the submitted value (it may be PHI).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput
from shared.contracts.events.lab import Channel

LOINC_SYSTEM = "http://loinc.org"
MAX_RESULTS = 1000
_MAX_ERRORS = 20

_Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_SourcePart = Annotated[str, StringConstraints(min_length=1, max_length=49)]
_Short = Annotated[str, StringConstraints(max_length=64)]
_Loinc = Annotated[str, StringConstraints(max_length=20, pattern=r"^[0-9]{1,7}-[0-9]$")]
_Flag = Annotated[str, StringConstraints(max_length=10)]

JsonStatus = Literal["final", "corrected", "preliminary", "cancelled", "entered-in-error"]
STATUS_CODES: dict[str, str] = {
    "final": "F",
    "corrected": "C",
    "preliminary": "P",
    "cancelled": "X",
    "entered-in-error": "D",
}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class SourceIn(_Strict):
    application: _SourcePart
    facility: _SourcePart


class PatientIn(_Strict):
    identifier: _Id = Field(description="hospital identifier (MRN); hashed on receipt")


class ResultIn(_Strict):
    result_id: _Id = Field(description="stable across corrections and cancellations")
    loinc: _Loinc
    value: _Short = ""
    unit: _Short | None = None
    reference_range: _Short | None = None
    abnormal_flag: _Flag | None = None
    status: JsonStatus
    collected_at: AwareDatetime | None = None
    reported_at: AwareDatetime | None = None


class LabResultsIn(_Strict):
    """Body of ``POST /v1/lab-results``."""

    message_id: _Id
    source: SourceIn
    patient: PatientIn
    results: list[ResultIn] = Field(min_length=1, max_length=MAX_RESULTS)

    @model_validator(mode="after")
    def _unique_result_ids(self) -> LabResultsIn:
        ids = [r.result_id for r in self.results]
        if len(set(ids)) != len(ids):
            raise ValueError("result_id values must be unique within a message")
        return self


class JsonInputError(ValueError):
    """The body is not a valid lab-results message; ``errors`` holds (location, message)."""

    def __init__(self, errors: str | list[tuple[str, str]]) -> None:
        self.errors = [("", errors)] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(f"{loc}: {m}" if loc else m for loc, m in self.errors))


def parse_lab_results(payload: bytes | dict[str, Any]) -> LabMessage:
    """Validate a JSON body (raw bytes or decoded object) and turn it into a ``LabMessage``."""
    body = _validate(payload)
    return LabMessage(
        channel=Channel.JSON,
        source_application=body.source.application,
        source_facility=body.source.facility,
        control_id=body.message_id,
        patient_identifier=body.patient.identifier,
        observations=tuple(_observation(r) for r in body.results),
    )


def _validate(payload: object) -> LabResultsIn:
    if isinstance(payload, bytes | bytearray):
        raw = bytes(payload)
    elif isinstance(payload, dict):
        try:
            raw = json.dumps(payload, allow_nan=False).encode()
        except (TypeError, ValueError, RecursionError):
            raise JsonInputError([("", "body is not representable as JSON")]) from None
    else:
        raise JsonInputError([("", "body must be a JSON object")])
    try:
        return LabResultsIn.model_validate_json(raw)
    except ValidationError as exc:
        raise JsonInputError(_field_errors(exc)) from None


def _field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    out = [(_location(err["loc"]), err["msg"].removeprefix("Value error, ")) for err in errors]
    if len(out) > _MAX_ERRORS:
        out = [*out[:_MAX_ERRORS], ("", f"... and {len(out) - _MAX_ERRORS} more errors")]
    return out


def _location(loc: tuple[int | str, ...]) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return text.removeprefix(".")


def _observation(result: ResultIn) -> ObservationInput:
    return ObservationInput(
        result_key=result.result_id,
        codes=(Coding(result.loinc, LOINC_SYSTEM),),
        value=result.value,
        unit=(result.unit,) if result.unit else (),
        reference_range=result.reference_range or None,
        abnormal_flag=result.abnormal_flag or None,
        status=STATUS_CODES[result.status],
        collected_at=result.collected_at,
        reported_at=result.reported_at,
    )
