"""Redacted copies of rejected FHIR payloads (PROTOCOL section 6).

First pruned to the elements FHIR R4 defines (``fhir_elements``): an element the resource
or datatype does not define is dropped, every extension keeps its url but no value, a
narrative's div is replaced. Patients and the other resources about a person
(RelatedPerson, Person, Coverage) keep only their identifiers, hashed, and what identifies
nobody (gender, links, codes). Identifiers are hashed in references and conditional URLs
too; a URL that searches by anything else (``Patient?family=Roe``) is replaced whole. The
display of every reference (an identifier's assigner's but for an organisation's name), a
note's text and author, and every element named like a person's detail are dropped; what
is not in its expected shape there is hashed or dropped. An interpretation (an abnormal
flag) keeps only flag codes: any other code, display or text is masked, as is an
Observation's status that is none of R4's. Each removed value (an unknown element's, a
personal extension's too) is then replaced wherever else it occurs (a code's text); a hashed
number run into an id is masked (``redaction.scrubbed_copy``). The result is still
FHIR-shaped, for inspection and replay. Never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from services.lab_ingestion.adapters.fhir_context import (
    COLLECTION_KEPT,
    CONTEXT_IDENTIFIERS,
    CONTEXT_KEPT,
    context_type,
)
from services.lab_ingestion.adapters.fhir_elements import (
    DETAIL_TEXT,
    NAME_TEXT,
    PERSON_REFS,
    PERSON_TEXT,
    prune,
    texts_below,
)
from services.lab_ingestion.adapters.fhir_interpretation import kept_flag
from services.lab_ingestion.adapters.fhir_links import linked_number, resource_reference
from services.lab_ingestion.adapters.fhir_persons import (
    PERSON_KEPT,
    dicts_in,
    leaves,
    person_type,
    person_urls,
    showable_authority_of,
)
from services.lab_ingestion.adapters.fhir_status import OBSERVATION_STATUSES
from services.lab_ingestion.adapters.fhir_urls import redacted_url
from services.lab_ingestion.adapters.redaction import (
    IDENTIFIER_VALUE,
    Secrets,
    copy_json,
    kept_code,
    scrubbed_copy,
)
from shared.jsonlog import is_phi_field

_COMMON = frozenset({"resourceType", "id", "meta", "implicitRules", "language", "contained"})
_IDENTIFIER_KEYS = frozenset({"identifier", "subscriberId"})
_IDENTIFIER_FIELDS = frozenset({"id", "extension", "use", "type", "system", "period", "assigner"})
_AUTHORITY_FIELDS = frozenset({"system", "assigner"})  # kept when ``showable_authority``
_PERSON_TARGET = re.compile(r"(?:^|/)(?:Patient|RelatedPerson|Person|Coverage)(?:[/?]|$)", re.I)
_URL_KEYS = ("reference", "url", "ifNoneExist", "fullUrl")
_POSTAL = frozenset({"city", "postalCode"})  # an Address's, read as PID-11.3 and 11.5 are
# where a number is masked: ids, URLs, identifiers and ``meta.source`` (the sending system,
# which a lab may name by the patient's number, as it does ids: read by nobody here)
_ID_KEYS = frozenset({"id", *_URL_KEYS, IDENTIFIER_VALUE, "source"})
# where a name's word or a birth date is found run in too (a URL's last segment): not an
# extension's or a profile's ``url``, whose words a short name would cut
_RUN_IN_KEYS = _ID_KEYS - {"url"}
# the person a Patient's (``other``) or a Person's (``target``) link names: another record
# of the patient, whose number is the patient's as much as the record's own (review 190)
_LINKED = frozenset({"other", "target"})


def redact_fhir(payload: object, hash_identifier: Callable[[str], str]) -> dict[str, Any]:
    """A copy safe to store with a rejection: personal details dropped, identifiers hashed.

    Also drops what FHIR R4 does not define there, extension values and narratives, hashes
    identifiers in references and conditional URLs, drops the display of every reference
    to a person, and replaces any other copy of a removed name, display, birth date, phone,
    address, identifier or unknown element. The display of any other reference goes too
    (its copies scrubbed), and so do notes (``fhir_elements``). Never raises (non-objects
    give ``{}``).
    """
    if not isinstance(payload, dict):
        return {}
    try:
        secrets = Secrets()
        pruned = prune(payload, secrets)
        redactor = _FhirRedactor(hash_identifier, set(person_urls(pruned)), secrets)
        node = redactor.node(pruned)
        return scrubbed_copy(node, secrets, hash_identifier, _ID_KEYS, _RUN_IN_KEYS)
    except RecursionError:
        return {}


class _FhirRedactor:
    def __init__(
        self, hash_identifier: Callable[[str], str], person_urls: set[str], secrets: Secrets
    ) -> None:
        self.hash_identifier = hash_identifier
        self.person_urls = person_urls
        self.secrets = secrets

    def node(self, node: object, key: object = None) -> Any:
        if isinstance(node, list | tuple):
            return [self.node(item, key) for item in node]
        if not isinstance(node, dict):
            # a bare identifier where a reference to a person belongs is hashed
            hashed = self.hashed(node) if key in PERSON_REFS else None
            return copy_json(node) if hashed is None else hashed
        if key == "interpretation":  # an abnormal flag (Observation's, a component's)
            return kept_flag(node, self.node)
        resource = self.kept_resource(node)
        if resource is not None:
            return resource
        if key in PERSON_REFS or self.is_person_reference(node):
            return self.reference(node)
        if _has_free_display(node, key):  # "Blood of John Smith": its copies are scrubbed
            self.secrets.text(node["display"])
            node = {name: value for name, value in node.items() if name != "display"}
        out = {}
        for name, value in node.items():
            if name not in PERSON_REFS and is_phi_field(str(name)):
                # an element named like a person's detail (a contained Practitioner's name
                # or telecom; unknown elements are gone already)
                self.names(value)
            else:
                out[name] = self.node(value, name)
        for name in _URL_KEYS:
            if isinstance(out.get(name), str):
                out[name] = self.url(out[name])
        if str(out.get("resourceType")).lower() == "observation" and "status" in out:
            out["status"] = kept_code(out["status"], OBSERVATION_STATUSES.__contains__)
        return out

    def person(self, resource: dict[Any, Any], kept: frozenset[str]) -> dict[Any, Any]:
        """A Patient, RelatedPerson, Person or Coverage: identifiers hashed, what identifies
        nobody kept, anything else dropped (its texts are secrets)."""
        out = {}
        for name, value in resource.items():
            if name in _IDENTIFIER_KEYS:
                out[name] = self.identifier(value)
            elif name == "link" and name in kept:
                out[name] = self.link(value)
            elif name in _COMMON or name in kept:
                out[name] = self.node(value, name)
            elif name == "name":
                self.names(value, NAME_TEXT)
            elif name == "contact":  # next of kin: their names, phones and addresses
                for contact in dicts_in(value if isinstance(value, list) else [value]):
                    self.names(contact.get("name"), NAME_TEXT)
                    self.texts(contact.get("telecom"))
                    self.address(contact.get("address"))
            elif name == "address":  # the patient's street lines: words too, as PID-11's
                self.address(value, streets=person_type(resource) == "patient")
            elif name in {"telecom", "birthDate", "deceasedDateTime"}:
                self.texts(value)
            elif is_phi_field(str(name)):
                self.names(value)
        return out

    def address(self, value: object, *, streets: bool = False) -> None:
        """A removed address: a street and its house number searched for everywhere, its
        city, district, state or street's name but in codes and ids (``Secrets.address``: review
        192, a city that names the sender); ``streets``: a street line's words too."""
        for text in texts_below(value, _POSTAL, wanted=False):  # a number first: a postcode
            self.secrets.address(text, postal_first=True)
        for text in texts_below(value, (DETAIL_TEXT | PERSON_TEXT) - _POSTAL):
            self.secrets.address(text)
        for line in texts_below(value, frozenset({"line"})) if streets else ():
            self.secrets.street(line)

    def link(self, value: object) -> Any:
        """A Patient's or Person's links: the record each names is reduced as a reference to
        a person is (its identifier hashed, its display dropped), a reference written as an
        identifier hashed (``fhir_links``); its type is kept."""
        if isinstance(value, list | tuple):
            return [self.link(item) for item in value]
        if not isinstance(value, dict):
            return self.node(value, "link")
        out = {}
        for name, item in value.items():
            if name not in _LINKED:
                out[name] = self.node(item, name)
            elif isinstance(item, dict) and "resourceType" not in item:
                target = item.get("reference")
                out[name] = self.reference(item)
                if isinstance(target, str) and not resource_reference(target):
                    out[name]["reference"] = linked_number(target, self.hash_text)
            else:  # a bare identifier where the reference belongs, or no reference at all
                hashed = self.hashed(item)
                out[name] = self.node(item, name) if hashed is None else hashed
        return out

    def kept_resource(self, node: dict[Any, Any]) -> dict[Any, Any] | None:
        """What a resource about a person, or a lab report's context resource, keeps; None
        for any other node."""
        kind = person_type(node)
        if kind is not None:
            return self.person(node, PERSON_KEPT[kind])
        context = context_type(node)
        return None if context is None else self.context(node, CONTEXT_KEPT[context])

    def context(self, resource: dict[Any, Any], kept: frozenset[str]) -> dict[Any, Any]:
        """A lab report's context resource (``fhir_context``): identifiers hashed, what
        tells the results, tests, times and statuses kept, anything else dropped: a
        report's printed form (its base64 data never read) and its conclusion, a
        practitioner's name, a specimen's collector (their texts are secrets)."""
        out = {}
        for name, value in resource.items():
            if name in CONTEXT_IDENTIFIERS:
                out[name] = self.identifier(value)
            elif name == "collection" and isinstance(value, dict):
                out[name] = {k: self.node(v, k) for k, v in value.items() if k in COLLECTION_KEPT}
                self.texts({k: v for k, v in value.items() if k not in COLLECTION_KEPT})
            elif name in _COMMON or name in kept:
                out[name] = self.node(value, name)
            elif name == "presentedForm":
                for form in dicts_in(value if isinstance(value, list) else [value]):
                    self.texts(form.get("title"))
            elif name == "name":
                self.names(value, NAME_TEXT)
            else:
                self.texts(value)
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
            elif name in _AUTHORITY_FIELDS and not showable_authority_of(item):
                for leaf in leaves(item):  # as HL7's CX-4: a birth date or a person's
                    self.hashed(leaf)  # number there is never kept, nor copies of it
            elif name in _IDENTIFIER_FIELDS:
                out[name] = self.node(item, name)
            else:
                for leaf in texts_below(item, frozenset(), inside=True):
                    self.hashed(leaf)
        return out

    def hashed(self, value: object) -> str | None:
        """The keyed hash of an identifier-like value (a string or a number), else None."""
        if isinstance(value, str) and value.strip():
            return self.secrets.hashed(value, self.hash_identifier)
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return self.secrets.hashed(str(value), self.hash_identifier)
        return None

    def hash_text(self, value: str) -> str:
        return self.secrets.hashed(value, self.hash_identifier)

    def is_person_reference(self, ref: dict[Any, Any]) -> bool:
        if "resourceType" in ref:  # a resource (a Group of type "person"), not a reference
            return False
        target, kind = ref.get("reference"), ref.get("type")
        if isinstance(kind, str) and kind.rsplit("/", 1)[-1].lower() in PERSON_KEPT:
            return True
        return isinstance(target, str) and (
            bool(_PERSON_TARGET.search(target)) or target in self.person_urls
        )

    def names(self, value: object, parts: frozenset[str] = PERSON_TEXT) -> None:
        for text in texts_below(value, parts):
            self.secrets.name(text)

    def texts(self, *values: object) -> None:
        for value in values:
            for text in texts_below(value, DETAIL_TEXT | PERSON_TEXT):
                self.secrets.text(text)

    def url(self, text: str) -> str:
        return redacted_url(text, self.secrets, self.hash_identifier)


def _has_free_display(node: dict[Any, Any], key: object) -> bool:
    """A reference's display (any other than an identifier's assigner, an organisation
    whose display the identifier's redaction checks): free text that can name anyone and
    that no result is read from. Of the datatypes, only a Reference and a Coding have a
    display, and a Coding has its code or system."""
    return "display" in node and key != "assigner" and not {"code", "system"} & node.keys()
