"""Which parts of a FHIR payload are about a person, for ``fhir_redaction``: the resources
(Patient, RelatedPerson, Person, Coverage) and what each keeps, how a payload refers to them
besides ``Patient/id``, and which identifier authorities may be shown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from services.lab_ingestion.domain.authority_names import showable_authority

PERSON_KEPT = {  # what a resource about a person keeps besides its common elements and identifiers
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


def person_type(node: dict[Any, Any]) -> str | None:
    kind = node.get("resourceType")
    name = kind.strip().lower() if isinstance(kind, str) else None
    return name if name in PERSON_KEPT else None


def person_urls(payload: dict[Any, Any]) -> Iterator[str]:
    """How the people of a resource or Bundle are referred to besides ``Patient/id``: an
    entry's fullUrl, a contained resource's ``#id``."""
    entries = dicts_in(payload.get("entry"))
    resources = [payload, *dicts_in([e.get("resource") for e in entries])]
    for entry in entries:
        resource = entry.get("resource")
        url = entry.get("fullUrl")
        if isinstance(resource, dict) and person_type(resource) and isinstance(url, str):
            yield url
    for resource in resources:
        for contained in dicts_in(resource.get("contained")):
            if person_type(contained) and isinstance(contained.get("id"), str):
                yield f"#{contained['id']}"


def dicts_in(value: object) -> list[dict[Any, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def showable_authority_of(authority: object) -> bool:
    """An identifier's system, or its assigner, that may be kept: a system that is an
    organisation's URI or OID, an assigner whose every value (display, reference, its own
    identifier) is an organisation's name, URI or id (``showable_authority``); never what
    may be a person's number or birth date (``urn:x:04MAR1961``), nor a value of another
    shape (a number, a list)."""
    if isinstance(authority, str):
        return showable_authority(authority)
    if not isinstance(authority, dict):
        return False
    found = list(leaves(authority))
    return bool(found) and all(isinstance(leaf, str) and showable_authority(leaf) for leaf in found)


def leaves(value: object) -> Iterator[object]:
    """Every value below a JSON object's elements (not its keys)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from leaves(item)
    else:
        yield value
