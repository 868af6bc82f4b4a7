"""The platform's own JSON lab-result format (``POST /v1/lab-results``): its request models
and the constrained values of their fields (``json_parser`` reads a body by them).

The request models are strict (no type coercion, unknown fields rejected) and are validated in
JSON mode, so timestamps must be ISO 8601 strings with an offset.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from services.lab_ingestion.domain.abnormal_flags import published_flag
from services.lab_ingestion.domain.sample_times import MAX_UTC_OFFSET

MAX_RESULTS = 1000
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


def is_schema_key(name: str) -> bool:
    """Whether ``name`` is a key of the format (which a reason may quote; any other key may
    be a person's detail)."""
    return name in _SCHEMA_KEYS
