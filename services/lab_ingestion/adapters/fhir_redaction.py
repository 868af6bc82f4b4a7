"""Redacted copies of rejected FHIR payloads (PROTOCOL section 6).

Patient demographics are dropped and identifiers hashed (in references and conditional URLs
too); the display of every reference to a patient and every element named like a person's
detail are dropped; each removed value is then replaced wherever else it occurs (a note, a
narrative). The result is still FHIR-shaped, for inspection and replay. Never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

from services.lab_ingestion.adapters.redaction import Secrets, copy_json, dump_json, scrub_secrets
from shared.jsonlog import is_phi_field

_PATIENT_DEMOGRAPHICS = ("name", "birthDate", "_birthDate", "address", "telecom", "photo")
_PATIENT_PHI = frozenset(
    {
        *_PATIENT_DEMOGRAPHICS,
        "contact",
        "text",
        "extension",
        "modifierExtension",
        "deceasedDateTime",
    }
)
_PATIENT_REFERENCE_KEYS = frozenset({"subject", "patient"})
_PERSON_TEXT_KEYS = frozenset({"family", "given", "text", "line", "value", "display", "prefix"})
_URL_KEYS = ("reference", "url", "ifNoneExist", "fullUrl")
_IDENTIFIER_QUERY = re.compile(r"(identifier(?::[A-Za-z-]+)?=)([^&#]*)")


def redact_fhir(payload: object, hash_identifier: Callable[[str], str]) -> dict[str, Any]:
    """A copy safe to store with a rejection: Patient demographics dropped, identifiers hashed.

    Also hashes identifiers in references and conditional URLs, drops the display of every
    reference to a patient, and replaces any other occurrence of a removed name, display,
    birth date, phone or identifier. Never raises on JSON-like input (non-objects give ``{}``).
    """
    if not isinstance(payload, dict):
        return {}
    redactor = _FhirRedactor(hash_identifier, set(_patient_urls(payload)))
    try:
        result: dict[str, Any] = scrub_secrets(redactor.node(payload), redactor.secrets)
    except RecursionError:
        return {}
    return result


class _FhirRedactor:
    def __init__(self, hash_identifier: Callable[[str], str], patient_urls: set[str]) -> None:
        self.hash_identifier = hash_identifier
        self.patient_urls = patient_urls
        self.secrets = Secrets()

    def node(self, node: object, key: object = None) -> Any:
        if isinstance(node, list | tuple):
            return [self.node(item, key) for item in node]
        if not isinstance(node, dict):
            return copy_json(node)
        is_patient = node.get("resourceType") == "Patient"
        out = {}
        for name, value in node.items():
            if not is_patient and name not in _PATIENT_REFERENCE_KEYS and is_phi_field(str(name)):
                # an element named like a person's detail ("patientName", an unknown element
                # that got the input rejected, or a contained Practitioner's name)
                for text in _person_strings(value):
                    self.secrets.name(text)
                continue
            out[name] = self.node(value, name)
        if is_patient:
            self.patient(out)
        elif self.is_patient_reference(key, out):
            self.secrets.name(out.pop("display", None))
            if isinstance(out.get("identifier"), dict):
                self.hash_value(out["identifier"])
        for name in _URL_KEYS:
            if isinstance(out.get(name), str):
                out[name] = self.query(out[name])
        return out

    def is_patient_reference(self, key: object, ref: dict[Any, Any]) -> bool:
        if "resourceType" in ref:
            return False
        if key in _PATIENT_REFERENCE_KEYS:
            return True
        target, kind = ref.get("reference"), ref.get("type")
        if isinstance(kind, str) and kind.rsplit("/", 1)[-1] == "Patient":
            return True
        return isinstance(target, str) and (
            target.startswith(("Patient/", "Patient?"))
            or "/Patient/" in target
            or target in self.patient_urls
        )

    def patient(self, patient: dict[Any, Any]) -> None:
        for is_name, text in _demographics(patient):
            if is_name:
                self.secrets.name(text)
            else:
                self.secrets.text(text)
        for key in _PATIENT_PHI:
            patient.pop(key, None)
        for identifier in _dicts(patient.get("identifier")):
            self.hash_value(identifier)

    def hash_value(self, holder: dict[Any, Any]) -> None:
        value = holder.get("value")
        if isinstance(value, str) and value:
            holder["value"] = self.secrets.hashed(value, self.hash_identifier)
        else:
            holder.pop("value", None)

    def query(self, text: str) -> str:
        """Hash the identifier in a conditional URL such as ``Patient?identifier=sys|MRN``."""

        def replace(match: re.Match[str]) -> str:
            system, bar, value = unquote(match.group(2)).rpartition("|")
            if not value:
                return match.group(0)
            hashed = self.secrets.hashed(value, self.hash_identifier)
            return f"{match.group(1)}{system}{bar}{hashed}"

        return _IDENTIFIER_QUERY.sub(replace, text) if "identifier" in text else text


def _patient_urls(payload: dict[Any, Any]) -> Iterator[str]:
    """How the Patients of a resource or Bundle are referred to besides ``Patient/id``: an
    entry's fullUrl, a contained resource's ``#id``."""
    entries = _dicts(payload.get("entry"))
    resources = [payload, *_dicts([e.get("resource") for e in entries])]
    for entry in entries:
        resource = entry.get("resource")
        is_patient = isinstance(resource, dict) and resource.get("resourceType") == "Patient"
        if is_patient and isinstance(entry.get("fullUrl"), str):
            yield entry["fullUrl"]
    for resource in resources:
        for contained in _dicts(resource.get("contained")):
            if contained.get("resourceType") == "Patient" and isinstance(contained.get("id"), str):
                yield f"#{contained['id']}"


def _person_strings(value: object, key: object = None) -> Iterator[str]:
    """The texts of a dropped element: itself if a string, else its names, lines and values
    (not its codes, such as a name's ``use``)."""
    if isinstance(value, str):
        if key is None or key in _PERSON_TEXT_KEYS:
            yield value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _person_strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _person_strings(item, key)


def _demographics(patient: dict[Any, Any]) -> Iterator[tuple[bool, object]]:
    """(is a name, text) of every demographic value of a Patient."""
    for name in _dicts(patient.get("name")):
        given = name.get("given")
        for part in (
            name.get("family"),
            name.get("text"),
            *(given if isinstance(given, list) else ()),
        ):
            yield True, part
    for address in _dicts(patient.get("address")):
        lines = address.get("line")
        for line in (address.get("text"), *(lines if isinstance(lines, list) else ())):
            yield False, line
    for telecom in _dicts(patient.get("telecom")):
        yield False, telecom.get("value")
    yield False, patient.get("birthDate")


def _dicts(value: object) -> list[dict[Any, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


class RedactedFhir:
    """The redacted copy of a FHIR body as JSON text, made once and only when a rejection
    needs it: the whole of it, or one Bundle entry."""

    def __init__(self, body: dict[str, Any], hash_identifier: Callable[[str], str]) -> None:
        self._body = body
        self._hash = hash_identifier
        self._redacted: dict[str, Any] | None = None

    def _value(self) -> dict[str, Any]:
        if self._redacted is None:
            self._redacted = redact_fhir(self._body, self._hash)
        return self._redacted

    def whole(self) -> str:
        return dump_json(self._value())

    def entry(self, index: int) -> str:
        """One entry, redacted with what the whole Bundle tells (a Patient's name in one
        entry is removed from the notes of another)."""
        entries = self._value().get("entry")
        if isinstance(entries, list) and 0 <= index < len(entries):
            return dump_json(entries[index])
        return ""
