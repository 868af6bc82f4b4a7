"""Redacted copies of rejected JSON and FHIR payloads (PROTOCOL section 6).

A rejected input is kept for inspection and replay, but never with a person's identity:
the hospital identifier is replaced by its keyed hash and demographics are dropped, and
any other copy of a removed value found elsewhere in the payload is replaced too. Both
functions are best effort on malformed input and never raise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import unquote


def copy_json(node: object) -> Any:
    """A deep copy of a JSON-like tree; values that are not JSON scalars become ``None``."""
    if isinstance(node, dict):
        return {key: copy_json(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [copy_json(value) for value in node]
    if node is None or isinstance(node, str | int | float | Decimal):
        return node
    return None


def scrub_secrets(node: Any, secrets: Mapping[str, str]) -> Any:
    """Replace every occurrence of a secret (3+ characters) inside any string of the tree."""
    pairs = sorted(((s, r) for s, r in secrets.items() if len(s) >= 3), key=lambda p: -len(p[0]))
    keep = set(secrets.values())
    if not pairs:
        return node

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, str) and value not in keep:
            for secret, replacement in pairs:
                value = value.replace(secret, replacement)
        return value

    return walk(node)


_PATIENT_KEPT = frozenset({"identifier"})


def redact_json(payload: object, hash_identifier: Callable[[str], str]) -> dict[str, Any]:
    """A copy safe to store with a rejection: MRN hashed, other patient fields dropped.

    Best effort on malformed input; never raises (non-object input gives ``{}``).
    """
    if not isinstance(payload, dict):
        return {}
    try:
        out: dict[str, Any] = copy_json(payload)
        patient = out.pop("patient", None)
        secrets: dict[str, str] = {}
        if isinstance(patient, str) and patient:
            secrets[patient] = hash_identifier(patient)
        if not isinstance(patient, dict):
            scrubbed_out: dict[str, Any] = scrub_secrets(out, secrets)
            return scrubbed_out
        kept = {k: v for k, v in patient.items() if k in _PATIENT_KEPT}
        identifier = kept.get("identifier")
        if isinstance(identifier, str) and identifier:
            kept["identifier"] = secrets[identifier] = hash_identifier(identifier)
        else:
            kept.pop("identifier", None)
        out["patient"] = kept
        scrubbed: dict[str, Any] = scrub_secrets(out, secrets)
        return scrubbed
    except RecursionError:
        return {}


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
_URL_KEYS = ("reference", "url", "ifNoneExist", "fullUrl")
_IDENTIFIER_QUERY = re.compile(r"(identifier(?::[A-Za-z-]+)?=)([^&#]*)")
_REDACTED = "[redacted]"


def redact_fhir(payload: object, hash_identifier: Callable[[str], str]) -> dict[str, Any]:
    """A copy safe to store with a rejection: Patient demographics dropped, identifiers hashed.

    Also hashes identifiers in references and conditional URLs, and replaces any other
    occurrence of a removed name, birth date, phone or identifier. Never raises on JSON-like
    input (non-objects give ``{}``).
    """
    if not isinstance(payload, dict):
        return {}
    redactor = _Redactor(hash_identifier)
    try:
        result: dict[str, Any] = scrub_secrets(redactor.node(payload), redactor.secrets)
    except RecursionError:
        return {}
    return result


class _Redactor:
    def __init__(self, hash_identifier: Callable[[str], str]) -> None:
        self.hash_identifier = hash_identifier
        self.secrets: dict[str, str] = {}  # original text -> its hash or _REDACTED

    def node(self, node: object) -> Any:
        if isinstance(node, list | tuple):
            return [self.node(item) for item in node]
        if not isinstance(node, dict):
            return copy_json(node)
        out = {key: self.node(value) for key, value in node.items()}
        if out.get("resourceType") == "Patient":
            self.patient(out)
        for reference in (out.get("subject"), out.get("patient")):
            if isinstance(reference, dict):
                reference.pop("display", None)
                if isinstance(reference.get("identifier"), dict):
                    self.hash_value(reference["identifier"])
        for key in _URL_KEYS:
            if isinstance(out.get(key), str):
                out[key] = self.query(out[key])
        return out

    def patient(self, patient: dict[Any, Any]) -> None:
        for text in _demographics(patient):
            if isinstance(text, str) and text:
                self.secrets.setdefault(text, _REDACTED)
        for key in _PATIENT_PHI:
            patient.pop(key, None)
        for identifier in _dicts(patient.get("identifier")):
            self.hash_value(identifier)

    def hash_value(self, holder: dict[Any, Any]) -> None:
        value = holder.get("value")
        if isinstance(value, str) and value:
            holder["value"] = self.hashed(value)
        else:
            holder.pop("value", None)

    def hashed(self, value: str) -> str:
        if self.secrets.get(value, _REDACTED) == _REDACTED:
            self.secrets[value] = self.hash_identifier(value)
        return self.secrets[value]

    def query(self, text: str) -> str:
        """Hash the identifier in a conditional URL such as ``Patient?identifier=sys|MRN``."""

        def replace(match: re.Match[str]) -> str:
            system, bar, value = unquote(match.group(2)).rpartition("|")
            if not value:
                return match.group(0)
            return f"{match.group(1)}{system}{bar}{self.hashed(value)}"

        return _IDENTIFIER_QUERY.sub(replace, text) if "identifier" in text else text


def _demographics(patient: dict[Any, Any]) -> Iterator[object]:
    for name in _dicts(patient.get("name")):
        given = name.get("given")
        yield from (
            name.get("family"),
            name.get("text"),
            *(given if isinstance(given, list) else ()),
        )
    yield from (t.get("value") for t in _dicts(patient.get("telecom")))
    yield patient.get("birthDate")


def _dicts(value: object) -> list[dict[Any, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
