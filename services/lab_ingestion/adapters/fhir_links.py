"""The record a FHIR ``Patient.link.other`` (``Person.link.target``) names, in kept copies.

A link names another record of the patient: its number is the patient's as much as the
record's own (review 190). A reference written as a resource reference (``Patient/MRN5555``,
absolute, with ``_history``, ``#id``, ``urn:uuid:``) is reduced as any reference to a person
(its logical id hashed); one written otherwise, as an identifier where the reference
belongs (``urn:hosp|MRN6666``, ``MRN6666``: invalid FHIR, but sent), is hashed as the
patient's own number, its system kept when it may be shown (review 192: it was kept as
sent).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from services.lab_ingestion.domain.authority_names import showable_authority

_ID = r"[A-Za-z0-9\-.]{1,64}"
# a literal reference FHIR R4 defines: [base/]Type/id[/_history/version], a contained
# resource's #id, a Bundle entry's urn:uuid: or urn:oid:; a conditional one (``?``) is read
# by the redaction as a search by identifier
_RESOURCE_REFERENCE = re.compile(
    rf"(?:https?://[^\s|]+/)?[A-Z][A-Za-z]{{1,63}}/{_ID}(?:/_history/{_ID})?"
    rf"|#{_ID}|urn:uuid:[0-9a-fA-F-]{{36}}|urn:oid:[0-2](?:\.\d+)+|[^?]*\?.*",
    re.ASCII,
)
_LAST_PART = re.compile(r"^(.*[|:/#=])?([^|:/#=]*)$", re.DOTALL)


def resource_reference(text: str) -> bool:
    """A reference that is a resource's (or a conditional one), not an identifier."""
    return _RESOURCE_REFERENCE.fullmatch(text.strip()) is not None


def linked_number(target: str, hashed: Callable[[str], str]) -> str:
    """A link's reference written as an identifier: its last part (after ``|``, ``:``,
    ``/``...) replaced by its keyed hash (``hashed``, which also makes it a secret whose
    copies are replaced), what comes before kept when it may be shown as a system
    (``urn:hosp|``), else hashed too and dropped."""
    found = _LAST_PART.match(target.strip())
    prefix, number = (found.group(1) or "", found.group(2)) if found else ("", target)
    if not number.strip():
        return hashed(target.strip())
    if prefix and not showable_authority(prefix.rstrip("|:/#=")):
        hashed(prefix.rstrip("|:/#="))  # a number or a birth date where a system belongs
        prefix = ""
    return f"{prefix}{hashed(number.strip())}"
