"""An assigning authority's names: which may be kept and shown (a sender's CX-4 or FHIR
system is free text, a person's number or birth date misplaced in it must never be), and the
names a sender's configured authority is known by (``cachexia source add
--identifier-authority``, repeatable: one authority written differently per standard)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeAlias

from services.lab_ingestion.domain.model import authority_name

AUTHORITY_TEXT_LENGTH = 40
_UNSHOWN = re.compile(r"[^A-Za-z0-9 .:/_-]")
_NUMBER_LIKE = re.compile(r"\d{5,}")
# ISO object identifiers start with arc 0, 1 or 2 and have four arcs or more (1.3.1961 is a
# date); an assigning authority's are long (2.16.756.5.30.1...)
_OID = re.compile(r"[0-2](?:\.\d+){3,}")
# dates in digits (4.3.1961, 1961-03-04, 61-3-4, 4 3 61) and person numbers (123-45-6789)
_DATE_OR_PERSON_NUMBER = re.compile(r"\d{1,4}[-./ ]\d{1,2}[-./ ]\d{1,4}|\d{3}-\d{2}-\d{4}")
# a month's name (04MAR1961, Mar 4 1961, 1961 March 4): with any digit, taken for a date
_MONTH = re.compile(
    r"(?:^|[^A-Z])(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)", re.IGNORECASE
)
MAX_AUTHORITY_DIGITS = 5  # an organisation's name holds a few digits, a person's number more
# the sender's configured assigning authority: its name, its names (one authority's), or none
Authority: TypeAlias = str | Sequence[str] | None


def configured_names(authority: Authority) -> tuple[str, ...]:
    """The configured authority's names (a text is one), those naming nothing left out."""
    names = (authority,) if isinstance(authority, str) else tuple(authority or ())
    return tuple(name for name in names if authority_name(name))


def is_oid(text: str) -> bool:
    """An ISO object identifier as written (``2.16.840.1.113883.3.72``): no personal value,
    though an arc may be any number (a patient's too)."""
    return _OID.fullmatch(text) is not None


def showable_authority(text: str) -> bool:
    """An authority's name that may be kept and shown: an organisation's name or URI (a
    letter; outside OIDs no run of five digits, at most five digits in all, no date) or an
    OID; never what may be a person's number or birth date misplaced in its place
    (123-45-6789, SSN 123-45-6789, 756.1234.5678.97, 7601001234567, 04MAR1961, 1.3.1961,
    Mar 4 1961: a month's name with any digit)."""
    name = text.strip().removeprefix("urn:oid:")
    if is_oid(name):
        return True
    outside_oids = _OID.sub("", name)
    digits = sum(c.isdigit() for c in outside_oids)
    return (
        any(c.isalpha() for c in outside_oids)
        and not _NUMBER_LIKE.search(outside_oids)
        and not _DATE_OR_PERSON_NUMBER.search(outside_oids)
        and not (digits and _MONTH.search(outside_oids))
        and digits <= MAX_AUTHORITY_DIGITS
    )


def shown_names(names: Sequence[str]) -> str:
    """The configured authority's names as a reason names them (the operator's words, never
    a patient's, each as ``_shown``, quoted): all when short, else the first and how many
    others (MSA-3 shows 80 characters)."""
    shown = [repr(_shown(name)) for name in names]
    every = " or ".join(shown)
    if len(shown) == 1 or len(every) <= AUTHORITY_TEXT_LENGTH:
        return every
    others = len(shown) - 1
    return f"{shown[0]} (or {others} other name{'s' if others > 1 else ''})"


def _shown(authority: str) -> str:
    """The authority's name as a reason may carry it: a sender's free text, so limited to
    the characters of organisation names, OIDs and URIs, and short."""
    if authority.strip() and not showable_authority(authority):  # a number misplaced in CX-4
        return "(not shown)"
    text = _UNSHOWN.sub("?", authority.strip())
    return text if len(text) <= AUTHORITY_TEXT_LENGTH else text[: AUTHORITY_TEXT_LENGTH - 3] + "..."
