"""Redaction of the platform's JSON lab-result format (``POST /v1/lab-results``): the copy
kept with a rejection holds only the schema's fields, the hospital identifier hashed (masked
where run into an id or the sender's name: what an unlisted sender's rejection is listed
under), and no key the schema does not know by its name (it may be PHI). Base64 text in a
result's value, unit or reference range (``base64_text``: a printed report one decode away)
is replaced, but in a trial result's (its LOINC code names a trial analyte): what a trial
result is read from is kept as sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from services.lab_ingestion.adapters.base64_text import masked_base64
from services.lab_ingestion.adapters.json_schema import (
    LOINC_CODE_PATTERN,
    STATUS_CODES,
    UNKNOWN_KEY,
    LabResultsIn,
    PatientIn,
    ResultIn,
    SourceIn,
)
from services.lab_ingestion.adapters.redaction import (
    Secrets,
    is_flag_code,
    kept_code,
    scrubbed_copy,
)
from shared.jsonlog import is_phi_field
from shared.phi_keys import is_area_key, is_place_key, is_street_key

DROPPED_KEY = "_dropped_fields"  # where the dropped keys are named (never their values)
_MAX_DROPPED = 50
_RESULT_FIELDS = frozenset(ResultIn.model_fields)
_SOURCE_FIELDS = frozenset(SourceIn.model_fields)
_PATIENT_KEPT = frozenset(PatientIn.model_fields)  # the identifier, hashed
_TOP_FIELDS = frozenset(LabResultsIn.model_fields)
# a result's coded fields: what is kept of them (anything else may be a name: ``kept_code``)
_CODES: dict[str, Callable[[str], bool]] = {
    "abnormal_flag": is_flag_code,
    "status": STATUS_CODES.__contains__,
    "loinc": lambda text: re.fullmatch(LOINC_CODE_PATTERN, text) is not None,
}
# ids some labs build from the patient's number or name, and the sender's name (a token bound
# to no sender names any: what an unlisted sender's rejection is kept and announced under)
_IDS = frozenset({"message_id", "result_id", *_SOURCE_FIELDS})
# a dropped key whose value is searched for as a name's (its parts too, from two letters)
_NAME_KEY = re.compile(r"name|given|family|surname|maiden", re.IGNORECASE)
# A dropped key whose value is a place or an address line is known by its words
# (``shared.phi_keys``, one rule with the log formatter's): a city, a postal code without
# digits and letters, a birth place are scrubbed but in the sender's name, ids and codes
# (review 192: a patient's city Bern made the source LIS^BERN LIS^[redacted]); an address
# line is searched for whole everywhere, its parts as ``address_lines`` says.
# where no place is searched for besides the ids: the result's codes and unit
_CODED = frozenset({*_CODES, "unit"})
# a result's fields base64 is looked for in, a trial result's too (base64 there is no
# measurement, and may be a report naming the patient, one decode away: review 105)
_FREE_TEXT = frozenset({"value", "unit", "reference_range"})


def redact_json(payload: object, hash_identifier: Callable[[str], str]) -> dict[str, Any]:
    """A copy safe to store with a rejection: only the fields of the schema are kept (the
    MRN hashed); the dropped keys are listed under ``DROPPED_KEY`` (a key the schema does not
    know as ``UNKNOWN_KEY``, never by its name), their values are not kept, and a dropped
    patient detail is replaced wherever else it occurs.

    Best effort on malformed input; never raises (non-object input gives ``{}``).
    """
    if not isinstance(payload, dict):
        return {}
    try:
        return _JsonRedactor(hash_identifier).message(payload)
    except RecursionError:
        return {}


class _JsonRedactor:
    def __init__(self, hash_identifier: Callable[[str], str]) -> None:
        self.hash_identifier = hash_identifier
        self.secrets = Secrets()
        self.dropped: list[str] = []

    def message(self, payload: dict[Any, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in payload.items():
            if key == "patient":
                patient = self.patient(value)
                if patient is not None:
                    out["patient"] = patient
            elif key == "source":
                out[key] = self.fields(value, _SOURCE_FIELDS, "source")
            elif key == "results" and isinstance(value, list):
                out[key] = [self.fields(r, _RESULT_FIELDS, f"results[{i}]", _FREE_TEXT)
                            for i, r in enumerate(value)]  # fmt: skip
            elif key in _TOP_FIELDS:
                out[key] = self.scalar(value, str(key))
            else:
                self.drop(key, value, "")
        if self.dropped:
            out[DROPPED_KEY] = self.dropped[:_MAX_DROPPED]
        return scrubbed_copy(out, self.secrets, self.hash_identifier, _IDS, kept_keys=_CODED)

    def patient(self, value: object) -> Any:
        """Only the identifier, hashed; a bare identifier (a string or a number) is hashed
        wherever it occurs and not kept, nor is anything else in place of the object."""
        if not isinstance(value, dict):
            if value is not None and not _is_identifier(value):
                self.dropped.append("patient")
            self.identifiers(value)
            return None
        kept: dict[str, Any] = {}
        for key, item in value.items():
            if key in _PATIENT_KEPT and _is_identifier(item):
                kept[key] = self.secrets.hashed(str(item), self.hash_identifier)
            else:  # every patient detail but the identifier is PHI
                self.drop(key, item, "patient.", phi=True, known=_PATIENT_KEPT)
                self.identifiers(item, strings=key in _PATIENT_KEPT)
        return kept

    def identifiers(self, value: object, *, strings: bool = True) -> None:
        """Every identifier-like value below ``value`` (numbers; strings too if told) is
        replaced by its keyed hash wherever else it occurs."""
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            for item in value:
                self.identifiers(item, strings=strings)
        elif _is_identifier(value) and (strings or not isinstance(value, str)):
            self.secrets.hashed(str(value), self.hash_identifier)

    def fields(
        self, value: object, known: frozenset[str], where: str, free: frozenset[str] = frozenset()
    ) -> Any:
        """The known fields of an object, its codes kept only as codes and base64 text in
        its ``free`` fields replaced."""
        if not isinstance(value, dict):
            return self.scalar(value, where)
        out = {}
        for key, item in value.items():
            if key in known:
                out[key] = self.scalar(item, f"{where}.{key}")
                if key in _CODES:  # a result's: free text there may be a name
                    out[key] = kept_code(out[key], _CODES[key])
                elif key in free and isinstance(out[key], str):
                    out[key] = masked_base64(out[key])
            else:
                self.drop(key, item, f"{where}.")
        return out

    def scalar(self, value: object, where: str) -> Any:
        """A value where the schema has a scalar; a structure there is dropped."""
        if value is None or isinstance(value, str | int | float | Decimal):
            return value
        self.dropped.append(where[:100])
        return None

    def drop(
        self,
        key: object,
        value: object,
        prefix: str,
        *,
        phi: bool = False,
        known: frozenset[str] = frozenset(),
    ) -> None:
        """Leave out a key, noting where but not its value (nor its name unless the schema
        knows it: a name may be PHI); the value of a key named like a person's detail is
        replaced wherever else it occurs."""
        self.dropped.append(f"{prefix}{key if key in known else UNKNOWN_KEY}"[:100])
        if phi or is_phi_field(str(key)):
            self.detail(key, value, None)

    def detail(self, key: object, value: object, kind: str | None, area: bool = False) -> None:
        """Every value below a dropped person's detail, searched for as the nearest key
        above it says (``_kind``): a place, a street line, a name, or any other text (an
        e-mail, an ethnicity: everywhere); ``area``: the nearest place key above it names
        an area (``is_area_key``: ``{"canton": {"value": ...}}`` too, review 262)."""
        own = _kind(key)
        kind, area = own or kind, is_area_key(key) if own else area
        if isinstance(value, dict):
            for name, item in value.items():
                self.detail(name, item, kind, area)
        elif isinstance(value, list | tuple):
            for item in value:
                self.detail(key, item, kind, area)
        elif kind == "place":  # a city, a postal code: a number first is a postal code
            self.secrets.address(value, postal_first=True, city=not area)
        elif kind == "street":
            self.secrets.street(value)
        elif kind == "name":
            self.secrets.name(value)
        else:
            self.secrets.text(value)


def _kind(key: object) -> str | None:
    """What a detail's key says its value is: an address line, a place (``phi_keys``: by
    the key's words, review 213: also ``adresse``, ``indirizzo``, ``direccion``...), a
    name, or nothing."""
    if is_street_key(key):
        return "street"
    if is_place_key(key):
        return "place"
    return "name" if _NAME_KEY.search(str(key)) else None


def _is_identifier(value: object) -> bool:
    """A non-empty string or a number (a hospital identifier may be sent as either)."""
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
