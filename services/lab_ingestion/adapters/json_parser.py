"""The platform's own JSON lab-result format (``POST /v1/lab-results``); its redaction is in
``json_redaction``.

The request models are strict (no type coercion, unknown fields rejected) and are validated in
JSON mode, so timestamps must be ISO 8601 strings with an offset. Error messages name the
field and the problem but never echo the submitted value (it may be PHI), nor the name of a
key the schema does not know (``"Smith, John *04.03.1961": ...``): that is written
``UNKNOWN_KEY``, in the reason and in the redacted copy alike.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from services.lab_ingestion.domain.abnormal_flags import published_flag
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput
from services.lab_ingestion.domain.report_fields import ReportField
from services.lab_ingestion.domain.sample_times import MAX_UTC_OFFSET
from shared.contracts.events.lab import Channel

LOINC_SYSTEM = "http://loinc.org"
MAX_RESULTS = 1000
_MAX_ERRORS = 20
UNKNOWN_KEY = "<unknown element>"  # in place of a key's name that may be PHI


def _not_blank(value: str) -> str:
    """An id of blanks alone (" ", a tab) was stored as one (review 112)."""
    if not value.strip():
        raise ValueError("must hold a character that is no blank")
    return value


_Id = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_not_blank)]
# no "^": the source is application^facility, and "A^B"+"C" would be the sender "A"+"B^C";
# nor HL7's other separators (& ~ | \): a sender is named as MSH-3^MSH-4 can name it, so that
# `cachexia source add` and `token create --sender` can name it too
_SOURCE_PART = r"^[^^&~|\\]+$"
_SourcePart = Annotated[str, StringConstraints(min_length=1, max_length=49, pattern=_SOURCE_PART)]
_Short = Annotated[str, StringConstraints(max_length=64)]
LOINC_CODE_PATTERN = r"^[0-9]{1,7}-[0-9]$"
_Loinc = Annotated[str, StringConstraints(max_length=20, pattern=LOINC_CODE_PATTERN)]


def _flag_code(value: str) -> str:
    """A flag is a code of HL7 table 0078 or FHIR's ObservationInterpretation, in any case
    (``published_flag``), as OBX-8's codes are read; blank is none. A word (``Low``,
    ``High``, ``Critical``) was taken and silently dropped (no code: neither stored nor
    published), so a critical result went out unflagged; ``Critical`` names no side to map
    it to. The value is never quoted (free text there may name a person)."""
    if value.strip() and published_flag(value) is None:
        raise ValueError(
            "must be an abnormal flag code of HL7 table 0078 (L, H, LL, HH, N, A, <, >, ...), "
            "not a word such as Low, High or Critical"
        )
    return value


_Flag = Annotated[str, StringConstraints(max_length=10), AfterValidator(_flag_code)]

# a date and time of day with its UTC offset; pydantic alone also took "1763625600" (Unix
# seconds), "2026" (seconds after 1970) and an offset up to 23:59; the offset's minutes
# are 00-59 (Python carries "+00:60" into the hour, as +01:00: HL7's +0060 is refused)
_ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
                       r"(?:Z|[+-][0-9]{2}:[0-5][0-9])")  # fmt: skip


def _iso_time(value: object) -> object:
    """The time an ISO 8601 string with its offset says; refused otherwise."""
    if not isinstance(value, str) or not _ISO_TIME.fullmatch(value):
        raise ValueError(
            "must be an ISO 8601 date and time with its UTC offset (2026-11-20T08:00:00+01:00)"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is no date and time (a month, day or hour out of range)") from None
    offset = moment.utcoffset()
    if offset is None or abs(offset) > MAX_UTC_OFFSET:
        raise ValueError("its UTC offset is beyond +/-14:00, which no time zone has")
    return moment


_Time = Annotated[AwareDatetime, BeforeValidator(_iso_time)]

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
    value: _Short = Field(
        default="",
        description=(
            "as the laboratory reported it: a decimal (`12.5`), or a limit it could not "
            "measure beyond (`<5`, `>= 200`), published as that limit with its comparator"
        ),
    )
    unit: _Short | None = None
    reference_range: _Short | None = None
    abnormal_flag: _Flag | None = None
    status: JsonStatus
    collected_at: _Time | None = None
    reported_at: _Time | None = None
    laboratory_comment: bool = Field(
        default=False,
        description=(
            "true: the laboratory wrote a comment on this result (platelet clumps seen, "
            "sample haemolysed), to be read in its own system before acting on the value; "
            "never send the comment's text (it is not taken)"
        ),
    )


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


# every key of the format: a reason may quote these (any other key may be a person's detail)
_SCHEMA_KEYS = frozenset().union(
    *(model.model_fields for model in (LabResultsIn, SourceIn, PatientIn, ResultIn))
)


class JsonInputError(ValueError):
    """The body is not a valid lab-results message; ``errors`` holds (location, message)."""

    def __init__(self, errors: str | list[tuple[str, str]]) -> None:
        self.errors = [("", errors)] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(f"{loc}: {m}" if loc else m for loc, m in self.errors))


def parse_lab_results(payload: bytes | dict[str, Any]) -> LabMessage:
    """Validate a JSON body and turn it into a ``LabMessage``. The route passes the object
    it decoded (refusing a repeated key, ``request_body.decode_json``): the bytes are not
    read again, by a reader that might take them otherwise."""
    body = _validate(payload)
    return LabMessage(
        channel=Channel.JSON,
        source_application=body.source.application,
        source_facility=body.source.facility,
        control_id=body.message_id,
        patient_identifier=body.patient.identifier,
        observations=tuple(_observation(r) for r in body.results),
    )


def named_sender(body: object) -> str | None:
    """The sender (``application^facility``) a body names, read as far as it can be when the
    body is invalid (a bound token's caller may deliver only as its senders); None: none."""
    source = body.get("source") if isinstance(body, dict) else None
    if not isinstance(source, dict):
        return None
    application, facility = source.get("application"), source.get("facility")
    if not isinstance(application, str) or not isinstance(facility, str):
        return None
    return f"{application}^{facility}" if application and facility else None


def is_schema_key(name: str) -> bool:
    """Whether ``name`` is a key of the format (which a reason may quote; any other key may
    be a person's detail)."""
    return name in _SCHEMA_KEYS


def _validate(payload: object) -> LabResultsIn:
    """The message the object says, validated as it was decoded: decimals stay what they
    are (a number where text belongs is refused), never re-encoded to be read again."""
    body = _decoded(payload) if isinstance(payload, bytes | bytearray) else payload
    if not isinstance(body, dict):
        raise JsonInputError([("", "body must be a JSON object")])
    if not _is_json(body):
        raise JsonInputError([("", "body is not representable as JSON")])
    try:
        return LabResultsIn.model_validate(body)
    except ValidationError as exc:
        raise JsonInputError(_field_errors(exc)) from None
    except RecursionError:
        raise JsonInputError([("", "body is nested too deeply")]) from None


def _is_json(value: object) -> bool:
    """Whether an object given directly holds only what JSON can say (a decimal, as the
    route decodes numbers, is a JSON number; NaN and infinity are not)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return False
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, float | Decimal):
            if not Decimal(item).is_finite():
                return False
        elif item is not None and not isinstance(item, str | int):
            return False
    return True


def _decoded(raw: bytes | bytearray) -> object:
    """Bytes given directly (not by the route): decoded as strictly as the route does."""
    try:
        return json.loads(raw, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):  # invalid JSON or UTF-8, NaN, a repeated key
        raise JsonInputError([("", "body is not valid JSON")]) from None


def _no_constant(name: str) -> object:
    raise ValueError("NaN and Infinity are not JSON numbers")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    decoded = dict(pairs)
    if len(decoded) != len(pairs):
        raise ValueError("an object names one key more than once")
    return decoded


def _field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    out = [(_location(err["loc"], unknown=err["type"] == "extra_forbidden"),
            _SOURCE_PART_TEXT if _is_source_part(err) else
            err["msg"].removeprefix("Value error, ")) for err in errors]  # fmt: skip
    if len(out) > _MAX_ERRORS:
        out = [*out[:_MAX_ERRORS], ("", f"... and {len(out) - _MAX_ERRORS} more errors")]
    return out


_SOURCE_PART_TEXT = (
    "must not hold HL7's separators '^', '&', '~', '|' or '\\' (no MSH-3 or MSH-4 could "
    "name such a sender)"
)


def _is_source_part(error: Any) -> bool:
    return bool(error["type"] == "string_pattern_mismatch" and error["loc"][:1] == ("source",))


def _location(loc: tuple[int | str, ...], *, unknown: bool = False) -> str:
    """``results[0].unit``; the last key masked if the schema does not know it."""
    if unknown and loc:
        loc = (*loc[:-1], UNKNOWN_KEY)
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
        flags=(result.abnormal_flag,) if result.abnormal_flag else (),
        status=STATUS_CODES[result.status],
        collected_at=result.collected_at,
        reported_at=result.reported_at,
        report_field=ReportField.JSON_REPORTED_AT,
        laboratory_comment=result.laboratory_comment,
    )
