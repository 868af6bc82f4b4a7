"""The platform's own JSON lab-result format (``POST /v1/lab-results``); its redaction is in
``json_redaction``.

Its request models are ``json_schema``'s. Error messages name the field and the problem but
never echo the submitted value (it may be PHI), nor the name of a key the schema does not
know (``"Smith, John *04.03.1961": ...``): that is written ``UNKNOWN_KEY``, in the reason
and in the redacted copy alike.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from services.lab_ingestion.adapters.json_schema import (
    STATUS_CODES,
    UNKNOWN_KEY,
    LabResultsIn,
    ResultIn,
)
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput
from services.lab_ingestion.domain.report_fields import ReportField
from shared.contracts.events.lab import Channel

LOINC_SYSTEM = "http://loinc.org"
_MAX_ERRORS = 20


class JsonInputError(ValueError):
    """The body is not a valid lab-results message; ``errors`` holds (location, message)."""

    def __init__(self, errors: str | list[tuple[str, str]]) -> None:
        self.errors = [("", errors)] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(f"{loc}: {m}" if loc else m for loc, m in self.errors))


def parse_lab_results(payload: bytes | dict[str, Any]) -> LabMessage:
    """Validate a JSON body and turn it into a ``LabMessage``. The route passes the object
    it decoded (refusing a repeated key, ``json_body.decode_json``): the bytes are not
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
        report_time_written=result.reported_at is not None,
        laboratory_comment=result.laboratory_comment,
    )
