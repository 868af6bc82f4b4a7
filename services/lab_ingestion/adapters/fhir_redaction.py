"""Redacted copies of rejected FHIR payloads (PROTOCOL section 6).

Patients and the other resources about a person (RelatedPerson, Person, Coverage) keep only
their identifiers, hashed, and what identifies nobody (gender, links, codes). Identifiers
are hashed in references and conditional URLs too; a URL that searches by anything else
(``Patient?family=Roe``) is replaced whole. The display of every reference to a person,
every element named like a person's detail and every extension about a patient are
dropped; what is not in its expected shape there is hashed or dropped. Each removed value
is then replaced wherever else it occurs (a note, a narrative). The result is still
FHIR-shaped, for inspection and replay. Never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from services.lab_ingestion.adapters.redaction import (
    REDACTED,
    Secrets,
    copy_json,
    dump_json,
    scrub_secrets,
)
from services.lab_ingestion.domain.patient_identity import showable_authority
from shared.jsonlog import is_phi_field

_COMMON = frozenset({"resourceType", "id", "meta", "implicitRules", "language", "contained"})
_KEPT = {  # what a resource about a person keeps besides _COMMON and its identifiers
    "patient": frozenset({"active", "gender", "deceasedBoolean", "maritalStatus", "link",
        "multipleBirthBoolean", "multipleBirthInteger", "communication",
        "generalPractitioner", "managingOrganization"}),
    "relatedperson": frozenset({"active", "patient", "relationship", "gender", "period",
        "communication"}),
    "person": frozenset({"active", "gender", "managingOrganization", "link"}),
    "coverage": frozenset({"status", "type", "policyHolder", "subscriber", "beneficiary",
        "dependent", "relationship", "period", "payor", "class", "order", "network",
        "costToBeneficiary", "subrogation", "contract"}),
}  # fmt: skip
_IDENTIFIER_KEYS = frozenset({"identifier", "subscriberId"})
_IDENTIFIER_FIELDS = frozenset({"id", "extension", "use", "type", "system", "period", "assigner"})
_AUTHORITY_FIELDS = frozenset({"system", "assigner"})  # kept when ``showable_authority``
_PERSON_REFS = frozenset({"subject", "patient", "subscriber", "beneficiary", "policyHolder"})
_PERSON_TARGET = re.compile(r"(?:^|/)(?:Patient|RelatedPerson|Person|Coverage)(?:[/?]|$)", re.I)
_EXTENSION_KEYS = frozenset({"extension", "modifierExtension"})
_PERSONAL_EXTENSION = ("patient-", "mothersmaidenname", "birthplace")  # in a url, any case
_NAME_TEXT = frozenset({"family", "given", "text"})
_PERSON_TEXT = frozenset({"family", "given", "text", "line", "value", "display", "prefix"})
_DETAIL_TEXT = frozenset({"line", "text", "postalCode", "value"})  # address, telecom
_URL_KEYS = ("reference", "url", "ifNoneExist", "fullUrl")
_IDENTIFIER_PARAM = re.compile(r"(?:[\w.:-]*[.:])?identifier(?::[A-Za-z-]+)?", re.I)


def redact_fhir(payload: object, hash_identifier: Callable[[str], str]) -> dict[str, Any]:
    """A copy safe to store with a rejection: personal details dropped, identifiers hashed.

    Also hashes identifiers in references and conditional URLs, drops the display of every
    reference to a person, and replaces any other copy of a removed name, display, birth
    date, phone, address or identifier. Never raises (non-objects give ``{}``).
    """
    if not isinstance(payload, dict):
        return {}
    try:
        redactor = _FhirRedactor(hash_identifier, set(_person_urls(payload)))
        result: dict[str, Any] = scrub_secrets(redactor.node(payload), redactor.secrets)
    except RecursionError:
        return {}
    return result


class _FhirRedactor:
    def __init__(self, hash_identifier: Callable[[str], str], person_urls: set[str]) -> None:
        self.hash_identifier = hash_identifier
        self.person_urls = person_urls
        self.secrets = Secrets()

    def node(self, node: object, key: object = None) -> Any:
        if isinstance(node, list | tuple):
            if key in _EXTENSION_KEYS:
                node = [item for item in node if not self.personal_extension(item)]
            return [self.node(item, key) for item in node]
        if not isinstance(node, dict):
            # a bare identifier where a reference to a person belongs is hashed
            hashed = self.hashed(node) if key in _PERSON_REFS else None
            return copy_json(node) if hashed is None else hashed
        if key in _EXTENSION_KEYS and self.personal_extension(node):
            return None  # one extension where a list belongs
        kind = _person_type(node)
        if kind is not None:
            return self.person(node, _KEPT[kind])
        if key in _PERSON_REFS or self.is_person_reference(node):
            return self.reference(node)
        out = {}
        for name, value in node.items():
            if name not in _PERSON_REFS and is_phi_field(str(name)):
                # an element named like a person's detail ("patientName", an unknown element
                # that got the input rejected, or a contained Practitioner's name)
                self.names(value)
            else:
                out[name] = self.node(value, name)
        for name in _URL_KEYS:
            if isinstance(out.get(name), str):
                out[name] = self.url(out[name])
        return out

    def person(self, resource: dict[Any, Any], kept: frozenset[str]) -> dict[Any, Any]:
        """A Patient, RelatedPerson, Person or Coverage: identifiers hashed, what identifies
        nobody kept, anything else dropped (its texts are secrets)."""
        out = {}
        for name, value in resource.items():
            if name in _IDENTIFIER_KEYS:
                out[name] = self.identifier(value)
            elif name in _COMMON or name in kept:
                out[name] = self.node(value, name)
            elif name == "name":
                self.names(value, _NAME_TEXT)
            elif name == "contact":  # next of kin: their names, phones and addresses
                for contact in _dicts(value if isinstance(value, list) else [value]):
                    self.names(contact.get("name"), _NAME_TEXT)
                    self.texts(contact.get("telecom"), contact.get("address"))
            elif name in _EXTENSION_KEYS:
                self.node(value, name)  # the values of the personal ones become secrets
            elif name in {"address", "telecom", "birthDate", "deceasedDateTime"}:
                self.texts(value)
            elif is_phi_field(str(name)):
                self.names(value)
        return out

    def reference(self, ref: dict[Any, Any]) -> dict[Any, Any]:
        """A reference to a person: its identifier hashed, its display and anything that a
        Reference has not (or not in its shape) dropped, their texts made secrets."""
        out = {}
        for name, value in ref.items():
            if name == "identifier":
                out[name] = self.identifier(value)
            elif name in {"reference", "type"} and isinstance(value, str):
                out[name] = self.url(value) if name == "reference" else value
            elif name in {"id", "extension"}:
                out[name] = self.node(value, name)
            else:
                self.names(value)
        return out

    def identifier(self, value: object) -> Any:
        """A person's identifier in any shape: its values hashed; what an Identifier has
        not is dropped (its strings and numbers hashed wherever else they occur)."""
        if isinstance(value, list | tuple):
            return [self.identifier(item) for item in value]
        if not isinstance(value, dict):
            return self.hashed(value)  # a bare identifier: hashed as if in its `value`
        out = {}
        for name, item in value.items():
            hashed = self.hashed(item) if name == "value" else None
            if hashed is not None:
                out[name] = hashed
            elif name in _AUTHORITY_FIELDS and not _showable(item):
                for leaf in _leaves(item):  # as HL7's CX-4: a birth date or a person's
                    self.hashed(leaf)  # number there is never kept, nor copies of it
            elif name in _IDENTIFIER_FIELDS:
                out[name] = self.node(item, name)
            else:
                for leaf in _texts(item, frozenset(), inside=True):
                    self.hashed(leaf)
        return out

    def hashed(self, value: object) -> str | None:
        """The keyed hash of an identifier-like value (a string or a number), else None."""
        if isinstance(value, str) and value.strip():
            return self.secrets.hashed(value, self.hash_identifier)
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return self.secrets.hashed(str(value), self.hash_identifier)
        return None

    def is_person_reference(self, ref: dict[Any, Any]) -> bool:
        if "resourceType" in ref:  # a resource (a Group of type "person"), not a reference
            return False
        target, kind = ref.get("reference"), ref.get("type")
        if isinstance(kind, str) and kind.rsplit("/", 1)[-1].lower() in _KEPT:
            return True
        return isinstance(target, str) and (
            bool(_PERSON_TARGET.search(target)) or target in self.person_urls
        )

    def personal_extension(self, extension: object) -> bool:
        """Is this an extension about a patient (mother's maiden name, birth place, ...)?
        If so, its values become secrets."""
        url = extension.get("url") if isinstance(extension, dict) else None
        if not isinstance(url, str) or not any(m in url.lower() for m in _PERSONAL_EXTENSION):
            return False
        self.extension_values(extension, as_name="name" in url.lower())
        return True

    def extension_values(self, extension: object, *, as_name: bool) -> None:
        for item in _dicts(extension if isinstance(extension, list) else [extension]):
            for name, value in item.items():
                if name in _EXTENSION_KEYS:  # a complex extension's parts
                    self.extension_values(value, as_name=as_name)
                elif str(name).startswith("value"):
                    (self.names if as_name else self.texts)(value)

    def names(self, value: object, parts: frozenset[str] = _PERSON_TEXT) -> None:
        for text in _texts(value, parts):
            self.secrets.name(text)

    def texts(self, *values: object) -> None:
        for value in values:
            for text in _texts(value, _DETAIL_TEXT | _PERSON_TEXT):
                self.secrets.text(text)

    def url(self, text: str) -> str:
        """A reference or conditional URL: the identifiers of its query hashed
        (``Patient?identifier=sys|MRN``); one with any other parameter (a search by name or
        birth date) is replaced whole, its values made secrets."""
        base, mark, query = text.partition("?")
        if not mark:
            if "=" not in text:
                return text
            base, query = "", text
        params, whole = [], False
        for param in query.split("&"):
            name, equals, value = param.partition("=")
            if not equals or not _IDENTIFIER_PARAM.fullmatch(unquote(name)):
                whole = True
                if equals and is_phi_field(unquote(name).rsplit(".", 1)[-1]):
                    self.secrets.name(unquote(value))
                continue
            system, bar, identifier = unquote(value).rpartition("|")
            if identifier:
                identifier = self.secrets.hashed(identifier, self.hash_identifier)
            params.append(f"{name}={system}{bar}{identifier}")
        return REDACTED if whole else f"{base}{mark}{'&'.join(params)}"


def _person_type(node: dict[Any, Any]) -> str | None:
    kind = node.get("resourceType")
    name = kind.strip().lower() if isinstance(kind, str) else None
    return name if name in _KEPT else None


def _person_urls(payload: dict[Any, Any]) -> Iterator[str]:
    """How the people of a resource or Bundle are referred to besides ``Patient/id``: an
    entry's fullUrl, a contained resource's ``#id``."""
    entries = _dicts(payload.get("entry"))
    resources = [payload, *_dicts([e.get("resource") for e in entries])]
    for entry in entries:
        resource = entry.get("resource")
        url = entry.get("fullUrl")
        if isinstance(resource, dict) and _person_type(resource) and isinstance(url, str):
            yield url
    for resource in resources:
        for contained in _dicts(resource.get("contained")):
            if _person_type(contained) and isinstance(contained.get("id"), str):
                yield f"#{contained['id']}"


def _texts(
    value: object, parts: frozenset[str], *, wanted: bool = True, inside: bool = False
) -> Iterator[str]:
    """The texts of a dropped element: itself if a string or a number, else every string
    below its elements named in ``parts`` (not codes such as a name's ``use``)."""
    if isinstance(value, str) or (
        isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    ):
        if wanted:
            yield str(value)
    elif isinstance(value, dict):
        for name, item in value.items():
            below = inside or name in parts
            yield from _texts(item, parts, wanted=below, inside=below)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item, parts, wanted=wanted, inside=inside)


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


def _showable(authority: object) -> bool:
    """An identifier's system, or its assigner, that may be kept: a system that is an
    organisation's URI or OID, an assigner whose every value (display, reference, its own
    identifier) is an organisation's name, URI or id (``showable_authority``); never what
    may be a person's number or birth date (``urn:x:04MAR1961``), nor a value of another
    shape (a number, a list)."""
    if isinstance(authority, str):
        return showable_authority(authority)
    if not isinstance(authority, dict):
        return False
    leaves = list(_leaves(authority))
    return bool(leaves) and all(
        isinstance(leaf, str) and showable_authority(leaf) for leaf in leaves
    )


def _leaves(value: object) -> Iterator[object]:
    """Every value below a JSON object's elements (not its keys)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    else:
        yield value
