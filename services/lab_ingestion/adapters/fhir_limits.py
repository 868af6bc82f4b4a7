"""How many resources and identifiers one posted FHIR body may hold (review 132).

A laboratory's Observation contains its Patient, a Specimen, maybe a Practitioner: not
thousands. One of 1.2 MB with 16,000 contained Patients held a worker for 31 s (its
redaction was quadratic in the numbers named; it is linear now, and the models validate
every contained resource); six of them held every thread. A resource (a lone one or a
Bundle entry's) with more contained resources or identifiers than a Bundle has entries
(``fhir_bundle.MAX_BUNDLE_ENTRIES``) is refused before it is validated, as too costly, and
so is a body naming more than ten times that in all. Counted on the JSON as sent, in time
linear in its size.
"""

from __future__ import annotations

from services.lab_ingestion.adapters.fhir_outcome import input_error

MAX_CONTAINED = 1000  # contained resources in one resource (as a Bundle's entries)
MAX_IDENTIFIERS = 1000  # identifiers in one resource, its contained resources' too
MAX_NAMED = 10_000  # contained resources and identifiers in one body, all entries together


def refuse_too_many(resource: object, where: str) -> None:
    """Raise ``FhirInputError`` (too-costly) for a resource holding more than MAX_CONTAINED
    contained resources or MAX_IDENTIFIERS identifiers."""
    contained = resource.get("contained") if isinstance(resource, dict) else None
    if isinstance(contained, list) and len(contained) > MAX_CONTAINED:
        raise input_error(
            "too-costly",
            f"a resource contains at most {MAX_CONTAINED} resources: send them as their own",
            f"{where}.contained",
        )
    if _count(resource)[1] > MAX_IDENTIFIERS:
        raise input_error(
            "too-costly", f"a resource holds at most {MAX_IDENTIFIERS} identifiers", where
        )


def refuse_too_many_in_all(body: object, where: str) -> None:
    """Raise ``FhirInputError`` (too-costly) for a body (a Bundle) whose resources hold more
    than MAX_NAMED contained resources and identifiers together."""
    contained, identifiers = _count(body)
    if contained + identifiers > MAX_NAMED:
        raise input_error(
            "too-costly",
            f"a body holds at most {MAX_NAMED} contained resources and identifiers: split it",
            where,
        )


def _count(node: object) -> tuple[int, int]:
    """The contained resources and the identifiers (each item of an ``identifier`` list, or
    one not in a list) anywhere in ``node`` (an explicit stack: no recursion)."""
    contained = identifiers = 0
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "contained" and isinstance(value, list):
                    contained += len(value)
                elif key == "identifier" and value is not None:
                    identifiers += len(value) if isinstance(value, list) else 1
                if isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(value for value in item if isinstance(value, dict | list))
    return contained, identifiers
