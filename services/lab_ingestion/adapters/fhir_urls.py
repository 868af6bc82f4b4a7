"""References and conditional URLs in redacted FHIR copies (``fhir_redaction``): the
identifiers of a query and the logical ids of a person's resources hashed, any other search
(by a name, a birth date) replaced whole."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from services.lab_ingestion.adapters.redaction import REDACTED, Secrets
from shared.jsonlog import is_phi_field

# a person's resource and its logical id in a reference or URL (a type segment of its own)
PERSON_ID = re.compile(r"(?<![^/])(Patient|RelatedPerson|Person|Coverage)/([^/?#|]+)", re.I)
IDENTIFIER_PARAM = re.compile(r"(?:[\w.:-]*[.:])?identifier(?::[A-Za-z-]+)?", re.I)


def redacted_url(text: str, secrets: Secrets, hash_identifier: Callable[[str], str]) -> str:
    """A reference or conditional URL: the identifiers of its query hashed
    (``Patient?identifier=sys|MRN``); one with any other parameter (a search by name or
    birth date) is replaced whole, its values made secrets."""
    base, mark, query = text.partition("?")
    if not mark:
        if "=" not in text:
            return hashed_person_ids(text, secrets, hash_identifier)
        base, query = "", text
    params, whole = [], False
    for param in query.split("&"):
        name, equals, value = param.partition("=")
        if not equals or not IDENTIFIER_PARAM.fullmatch(unquote(name)):
            whole = True
            if equals and is_phi_field(unquote(name).rsplit(".", 1)[-1]):
                secrets.name(unquote(value))
            continue
        system, bar, identifier = unquote(value).rpartition("|")
        if identifier:
            identifier = secrets.hashed(identifier, hash_identifier)
        params.append(f"{name}={system}{bar}{identifier}")
    if whole:
        return REDACTED
    return f"{hashed_person_ids(base, secrets, hash_identifier)}{mark}{'&'.join(params)}"


def hashed_person_ids(text: str, secrets: Secrets, hash_identifier: Callable[[str], str]) -> str:
    """A reference or URL with the logical id of a person's resource (``Patient/MRN4711``,
    ``.../Patient/MRN4711/_history/2``: a hospital number may be one) replaced by its
    keyed hash, as an identifier is: its copies too (the resource's own ``id``, a
    Bundle entry's ``fullUrl`` and request), so that references still match."""
    return PERSON_ID.sub(
        lambda found: f"{found[1]}/{secrets.hashed(found[2], hash_identifier)}", text
    )
