"""A rejected FHIR payload pruned to what FHIR R4 defines, before ``fhir_redaction`` redacts
what is about a person (PROTOCOL section 6).

Element names come from the fhir.resources R4B models (R4's technical correction; the
package ships no R4 models): an element that the resource or datatype it sits in does not
define is dropped, choice types (``valueQuantity``) and primitive extensions (``_birthDate``)
being elements like any other; so is a structure where a primitive belongs, and a bare value
where a structure belongs (but for an identifier, or a reference to a person, which the
redaction hashes). A resource of a type R4 does not know keeps only what every resource may
have (id, meta, narrative, contained resources, extensions), and its ``resourceType`` only
when that is the name of a resource type (free text there, a name, is ``REDACTED``, not
searched for elsewhere, as a status that is no code). Every string of what is dropped
becomes a secret, so that its copies elsewhere are scrubbed.

Extensions are free-form: each keeps its ``url`` (and those of its parts), never a value; the
values of one whose URL suggests a person (patient, name, birth date, address, phone,
mother, contact...) or a place (``residence``, ``wohnort``: ``fhir_extension_urls``) become
secrets. A narrative's ``div`` is replaced by ``NARRATIVE``.
A note (Annotation), free text that can name or reach anyone and that no result is read
from, keeps neither its text (replaced by ``REDACTED``) nor its author's name; their copies
elsewhere are scrubbed. Encoded data (every base64Binary element: an Attachment's ``data``, a
printed report in ``DiagnosticReport.presentedForm``, ``Binary.data``, a signature) is dropped:
a report names the patient one decode away, and no scrubbing reads it. So are an
Attachment's ``url`` and ``title`` (``Report of John Smith``), their copies scrubbed. Base64
text in any other string kept (``base64_text``: a report sent as an Observation's
``valueString`` or a document's ``description``) is replaced, but in ids, codes, systems,
urls, references and identifiers, and in what a trial Observation (one whose code names a
trial analyte) is read from: its code, value, unit, range, interpretation, status and time.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from fhir.resources.R4B import fhirtypes, get_fhir_model_class
from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.attachment import Attachment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.coding import Coding as CodingModel
from fhir.resources.R4B.domainresource import DomainResource
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.narrative import Narrative
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from fhir_core.types import Base64Binary

from services.lab_ingestion.adapters.base64_text import masked_base64
from services.lab_ingestion.adapters.fhir_extension_urls import ExtensionUrls
from services.lab_ingestion.adapters.redaction import REDACTED, Secrets, copy_json, kept_code
from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import Coding
from shared.jsonlog import is_phi_field

NARRATIVE = '<div xmlns="http://www.w3.org/1999/xhtml">[redacted]</div>'
FREE_NOTE = frozenset({"text", "authorString"})  # an Annotation's (a note's) free text
_ATTACHMENT_NAMING = frozenset({"url", "title"})  # where an attachment may name its patient
PERSON_REFS = frozenset({"subject", "patient", "subscriber", "beneficiary", "policyHolder"})
NAME_TEXT = frozenset({"family", "given", "text"})  # HumanName
PERSON_TEXT = NAME_TEXT | {"line", "value", "display", "prefix"}
# Address and ContactPoint: what places or reaches a person (not its `use`, `type`, `system`)
DETAIL_TEXT = frozenset({"line", "text", "city", "district", "state", "postalCode", "value"})
_RESOURCE_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
_PRIMITIVE, _RESOURCE, _ENCODED = "primitive", "resource", "base64Binary"
_GONE = object()  # what a dropped value becomes before it is left out
# where no base64 is looked for: names, codes and pointers, never text
_UNMASKED = frozenset({"id", "system", "code", "url", "reference", "fullUrl", "version",
                       "resourceType", "contentType", "language"})  # fmt: skip
_CODED = (Identifier, CodingModel, Reference)
# what a trial Observation is read from and no base64 can be part of, besides effective[x]:
# its value[x] and reference range are searched (base64 there is no measurement, and may be
# a report naming the patient, one decode away: review 105)
_TRIAL_READS = frozenset({"code", "status", "interpretation", "issued"})

Model = type[FHIRAbstractModel]
Kind = Model | str  # a datatype's model, ``_PRIMITIVE``, ``_ENCODED`` or ``_RESOURCE``


def prune(payload: dict[Any, Any], secrets: Secrets) -> dict[Any, Any]:
    """A copy of a FHIR resource (or Bundle) with only the elements R4 defines, extension
    values and narratives removed; what is removed is added to ``secrets``."""
    return _Pruner(secrets).resource(payload)


def resource_model(kind: object) -> Model | None:
    """The R4B model of a resource type, whatever its case; None if not a resource's."""
    if not isinstance(kind, str) or not _RESOURCE_TYPE.fullmatch(kind):
        return None
    name = kind if hasattr(fhirtypes, f"{kind}Type") else _type_names().get(kind.lower())
    try:
        model = get_fhir_model_class(name) if name else None
    except (ValueError, ImportError, AttributeError):
        return None
    return model if model is not None and model.has_resource_base() else None


class _Pruner:
    def __init__(self, secrets: Secrets) -> None:
        self.secrets = secrets
        self.reading = 0  # inside what a trial result is read from: no base64 masked

    def resource(self, node: dict[Any, Any]) -> dict[Any, Any]:
        model = resource_model(node.get("resourceType"))
        out = self.element(node, model or DomainResource)
        if model is None and "resourceType" in out:  # free text there (a name) is masked
            out["resourceType"] = kept_code(out["resourceType"], _is_resource_type)
        return out

    def element(self, node: dict[Any, Any], model: Model) -> dict[Any, Any]:
        if model is Extension:
            return self.extension(node, ExtensionUrls())
        elements = _elements(model)
        trial = model is Observation and _names_a_trial_analyte(node.get("code"))
        out = {}
        for name, value in node.items():
            kind = elements.get(name) if isinstance(name, str) else None
            if kind is None:  # (a resource where a datatype belongs: its type is no secret)
                self.drop(name, value, secret=name != "resourceType" or not _is_type(value))
            elif kind == _ENCODED:  # a document, one decode away: never searched, never kept
                self.drop(name, value, secret=False)
            elif model is Attachment and name in _ATTACHMENT_NAMING:
                self.drop(name, value)
            elif model is Narrative and name == "div":
                out[name] = NARRATIVE  # free text: often the patient's name, birth date
            elif model is Annotation and name in FREE_NOTE:
                # a note: free text about anyone ("call back on 079 ..."), never read
                self.secrets.strings(value, as_name=name == "authorString")
                if name == "text":
                    out[name] = REDACTED  # an Annotation's text is required: kept in shape
            else:
                read = trial and _is_trial_read(name)
                masked = not (read or self.reading or model in _CODED or name in _UNMASKED)
                self.reading += read
                kept = self.value(value, kind, name, masked=masked)
                self.reading -= read
                if kept is not _GONE:
                    out[name] = kept
        return out

    def extension(self, node: dict[Any, Any], urls: ExtensionUrls) -> dict[Any, Any]:
        """An extension's url and id, and its parts' (never a value); the values of one
        about a person or a place (by its or its parent's url) become secrets."""
        urls = urls.within(node.get("url"))
        out: dict[Any, Any] = {}
        for name, value in node.items():
            if name in {"url", "id"} and isinstance(value, str):
                out[name] = value
            elif name == "extension":  # a complex extension's parts
                items = value if isinstance(value, list) else [value]
                out[name] = [self.extension(i, urls) for i in items if isinstance(i, dict)]
                self.drop(name, [i for i in items if not isinstance(i, dict)])
            elif urls.personal and str(name).lstrip("_").startswith("value"):
                parts = PERSON_TEXT if urls.names else DETAIL_TEXT | PERSON_TEXT
                for text in texts_below(value, parts):
                    self._secret(urls)(text)
            else:
                self.drop(name, value, secret=not str(name).lstrip("_").startswith("value"))
        return out

    def _secret(self, urls: ExtensionUrls) -> Callable[[object], None]:
        """How an extension's removed value is searched for: a name's parts, a birth place
        or an address as a place (not in codes or ids: review 192), anything else as written."""
        if urls.names:
            return self.secrets.name
        return self.secrets.address if urls.places else self.secrets.text

    def value(self, value: object, kind: Kind, name: str, *, masked: bool = False) -> Any:
        if isinstance(value, list | tuple):
            items = [self.item(item, kind, name, masked=masked) for item in value]
            if kind == _PRIMITIVE:  # kept in place: `_given` lines up with `given`
                return [None if item is _GONE else item for item in items]
            return [item for item in items if item is not _GONE]
        return self.item(value, kind, name, masked=masked)

    def item(self, value: object, kind: Kind, name: str, *, masked: bool = False) -> Any:
        if value is None:
            return None
        if isinstance(value, list | tuple) or (kind == _PRIMITIVE and isinstance(value, dict)):
            self.drop(name, value)  # a list in a list, a structure where a value belongs
            return _GONE
        if kind == _PRIMITIVE:
            return masked_base64(value) if masked and isinstance(value, str) else copy_json(value)
        if isinstance(value, dict):
            return self.element(value, kind) if not isinstance(kind, str) else self.resource(value)
        if kind is Identifier or (kind is Reference and name in PERSON_REFS):
            return copy_json(value)  # a bare identifier: hashed by the redaction
        self.drop(name, value)  # a bare value where a structure belongs
        return _GONE

    def drop(self, name: object, value: object, *, secret: bool = True) -> None:
        """Leave out an element; its strings become secrets (parts of a name if it is
        named like a person's detail)."""
        if secret:
            self.secrets.strings(value, as_name=is_phi_field(str(name)))


def _names_a_trial_analyte(code: object) -> bool:
    """Whether an Observation's code (a CodeableConcept) names a trial analyte."""
    codings = code.get("coding") if isinstance(code, dict) else None
    found = [
        Coding(c["code"], c.get("system") if isinstance(c.get("system"), str) else None)
        for c in (codings if isinstance(codings, list) else [])
        if isinstance(c, dict) and isinstance(c.get("code"), str)
    ]
    return identify_analyte(found) is not None


def _is_trial_read(name: str) -> bool:
    return name in _TRIAL_READS or name.startswith("effective")


def _is_resource_type(name: str) -> bool:
    return resource_model(name) is not None


def _is_type(value: object) -> bool:
    return isinstance(value, str) and bool(_RESOURCE_TYPE.fullmatch(value))


def texts_below(
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
            yield from texts_below(item, parts, wanted=below, inside=below)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from texts_below(item, parts, wanted=wanted, inside=inside)


@cache
def _elements(model: Model) -> dict[str, Kind]:
    """The JSON names of a model's elements (primitive extensions ``_x`` included) and what
    each holds."""
    out: dict[str, Kind] = {"resourceType": _PRIMITIVE} if model.has_resource_base() else {}
    names = set(model.elements_sequence())
    for name, field in model.model_fields.items():
        alias = field.alias or name
        if alias in names or (alias.startswith("_") and alias[1:] in names):
            out[alias] = _kind(field.annotation)
    return out


def _kind(annotation: object) -> Kind:
    if isinstance(annotation, Base64Binary):  # the metadata of an Annotated base64Binary
        return _ENCODED
    for arg in typing.get_args(annotation):
        found = _kind(arg)
        if found != _PRIMITIVE:
            return found
    get_model = getattr(annotation, "get_model_klass", None)
    if not callable(get_model):
        return _PRIMITIVE
    model: Model = get_model()
    return _RESOURCE if model.has_resource_base() else model


def is_element_name(name: str) -> bool:
    """Whether ``name`` is the JSON name of an element of what this service reads (a Bundle,
    an Observation, a Patient and their datatypes): such a name may be quoted in a reason,
    any other key may be a person's detail."""
    return name in _element_names()


@lru_cache(maxsize=1)
def _element_names() -> frozenset[str]:
    names: set[str] = set()
    pending: list[Model] = [Bundle, Observation, Patient]
    seen: set[Model] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, kind in _elements(model).items():
            names.add(name)
            if not isinstance(kind, str):
                pending.append(kind)
    return frozenset(names)


@lru_cache(maxsize=1)
def _type_names() -> dict[str, str]:
    names = (name.removesuffix("Type") for name in dir(fhirtypes) if name.endswith("Type"))
    return {name.lower(): name for name in names}
