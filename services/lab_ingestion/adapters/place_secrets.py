"""The patient's places in kept FHIR and JSON copies, scrubbed from every string but codes,
coding systems, units, ids, URLs and the sender's name.

A city, a birth place or a street's name (``redaction.Secrets.places``) is often the name of
the hospital or laboratory too, of its coding systems and ids (``urn:lab:bern``, a JSON
``source`` of ``LIS^BERN``: what an unlisted sender's rejection is listed under), so it is
kept there (``CODE_KEYS`` and the ids a redactor names) and scrubbed everywhere else, as HL7
copies scrub it everywhere but where the copy is read back (``hl7_places``; review 192: a
patient living in Bern made the JSON sender ``LIS^BERN`` ``LIS^[redacted]``). Whole phrases,
any case (``scrub``). Which removed values are places is the redactor's to say, from the
element or key it was read under (a FHIR Address's, JSON's exact place keys: review 199)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from services.lab_ingestion.adapters.scrub import MIN_LENGTH, REDACTED, Scrubber

# where a place is never searched for: codes, coding systems, units, versions, profiles and
# types (besides the ids a redactor names)
CODE_KEYS = frozenset({"code", "system", "unit", "version", "profile", "url", "resourceType",
                       "status", "language", "contentType", "type"})  # fmt: skip
_IDENTIFIER_VALUE = "identifier.value"  # as ``redaction`` names an identifier's value


def places_scrubbed(node: Any, places: Collection[str], kept_keys: Collection[str]) -> Any:
    """``node`` with every copy of a place replaced in each string but those under one of
    ``kept_keys`` or ``CODE_KEYS`` (``identifier.value``: an identifier's value)."""
    scrub = Scrubber(dict.fromkeys(places, REDACTED), min_length=MIN_LENGTH)
    if not scrub:
        return node
    kept = frozenset(kept_keys) | CODE_KEYS

    def walk(value: Any, key: object) -> Any:
        if isinstance(value, dict):
            return {name: walk(item, _key(key, name)) for name, item in value.items()}
        if isinstance(value, list):
            return [walk(item, key) for item in value]
        if isinstance(value, str) and key not in kept and value != REDACTED:
            return scrub(value)
        return value

    return walk(node, None)


def _key(parent: object, name: object) -> object:
    return _IDENTIFIER_VALUE if (parent, name) == ("identifier", "value") else name
