"""Which bodies each HTTP route takes, by their ``Content-Type`` (415 for any other).

A body declared as another format than the route's (an XML FHIR resource, an HTML page, a
form, a multipart upload, JSON sent to the HL7 route) is refused with a reason naming the
media type the route takes, rather than answered as an invalid message of the route's own
format. A body declaring no type, or ``application/octet-stream`` (RFC 9110 8.3: what a
recipient may take a body without one to be; what HTTP libraries send for bytes), is read
as the route's own format: it is validated as strictly as any. The JSON and FHIR routes
take ``text/json`` and ``text/plain`` too (Mirth's and Java's StringEntity's default): the
body is parsed as JSON and refused 400 if it is none. JSON is UTF-8 (RFC 8259 8.1; FHIR's
too): ``utf-8`` and ``us-ascii`` (a subset) are taken; a body declared in another character
set (``ISO-8859-1``) is taken when it is pure ASCII (read the same in either), refused when
it holds another byte (it would be misread). HL7 takes ER7 and ``text/plain``; its character
set is MSH-18's, so a ``charset`` is not checked there. Repeated ``Content-Type`` headers,
or one a proxy folded (``application/json, application/json``), are taken when they all
name the same type and character set (review 118).

The refusal is an ``UnreadableBody`` (415): kept as a rejection by the body's length and
SHA-256 only, never its content (the route's redaction cannot vouch for another format).
The reason names the declared type (and character set) only when it is one of a known list
(``NAMED_TYPES``, ``NAMED_CHARSETS``); any other is told by its length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.request_body import UnreadableBody, fingerprint

UNDECLARED = "application/octet-stream"


@dataclass(frozen=True)
class MediaRule:
    """The media types a route takes, and what it says to a body of any other."""

    accepted: frozenset[str]
    takes: str  # "JSON (application/json)": named in every refusal
    utf8_only: bool = True
    subtype_suffix: str | None = None  # "+json": any such type is taken too
    # media types named in a refusal's own words (FHIR XML: "only JSON is supported")
    told: tuple[tuple[frozenset[str], str], ...] = ()


# what senders declare JSON as: text/json, and text/plain (a Java StringEntity's default)
JSON_AS_TEXT = frozenset({"text/json", "text/plain"})
JSON_RULE = MediaRule(
    frozenset({"application/json", *JSON_AS_TEXT}),
    "JSON (application/json)",
    subtype_suffix="+json",
)
FHIR_XML = frozenset(
    {"application/fhir+xml", "application/xml+fhir", "application/xml", "text/xml"}
)
FHIR_RULE = MediaRule(
    frozenset(
        {"application/fhir+json", "application/json", "application/json+fhir", *JSON_AS_TEXT}
    ),
    "FHIR JSON (application/fhir+json or application/json)",
    told=((FHIR_XML, "FHIR XML is not supported: only JSON is"),),
)
ER7_TYPES = frozenset({
    "x-application/hl7-v2+er7", "application/hl7-v2", "application/hl7-v2+er7",
    "application/x-hl7", "text/plain",
})  # fmt: skip
HL7_RULE = MediaRule(
    ER7_TYPES,
    "one HL7 v2 message in ER7 (x-application/hl7-v2+er7 or text/plain)",
    utf8_only=False,
)


UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})  # ASCII is UTF-8
_WIDE_CHARSETS = ("utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs-4", "iso-10646-ucs")

# The media types and character sets a refusal names (the routes' own, the formats senders
# mistake for them, the common ones): the header is the sender's text, and a token-shaped
# one may be anything (``text/mrn4711-19580214``: review 125), so any other is told by its
# length only, as the route's reasons tell a sender's text.
NAMED_TYPES = frozenset({
    *JSON_RULE.accepted, *FHIR_RULE.accepted, *ER7_TYPES, *FHIR_XML, UNDECLARED,
    "application/hl7v2+xml", "text/html", "multipart/form-data",
    "application/x-www-form-urlencoded", "text/csv", "application/pdf",
})  # fmt: skip
NAMED_CHARSETS = frozenset({
    *UTF8_CHARSETS, "utf-16", "utf-16le", "utf-16be", "utf-32", "utf-32le", "utf-32be",
    "ucs-2", "iso-8859-1", "iso-8859-15", "latin-1", "latin1", "windows-1252", "cp1252",
})  # fmt: skip


def check_media_type(declared: list[str], rule: MediaRule, raw: bytes) -> None:
    """Nothing when the body's ``Content-Type`` header(s) (``declared``) name a type the
    route takes, or none; else ``UnreadableBody`` (415) naming what the route takes."""
    values = [value for header in declared for value in _folded(header) if value.strip()]
    if not values:
        return
    parsed = [_parsed(value) for value in values]
    if any(media is None for media, _ in parsed):
        _refuse(raw, "its Content-Type is no media type (type/subtype)", rule)
    if len({(media, _charset(params)) for media, params in parsed}) > 1:
        _refuse(raw, "the body declares more than one Content-Type", rule)
    media, params = parsed[0]
    assert media is not None
    shown = media if media in NAMED_TYPES else f"another media type ({len(media)} characters)"
    if media != UNDECLARED and not _taken(media, rule):
        for types, words in rule.told:
            if media in types:
                _refuse(raw, f"{words} (the body is declared {shown})", rule)
        _refuse(raw, f"the body is declared {shown}", rule)
    charset = params.get("charset", "utf-8").lower()
    if not rule.utf8_only or charset in UTF8_CHARSETS:
        return
    named = (
        f"the character set {charset}"
        if charset in NAMED_CHARSETS
        else f"another character set ({len(charset)} characters)"
    )
    why = f"JSON is UTF-8 (RFC 8259): the body is declared in {named}"
    if charset.startswith(_WIDE_CHARSETS):  # two or four bytes a character: never ASCII text
        _refuse(raw, why, rule)
    if not raw.isascii():  # ISO-8859-1's é is no UTF-8: read either way, one is wrong
        _refuse(raw, f"{why} and holds bytes beyond ASCII, which would be misread", rule)


def _charset(params: dict[str, str]) -> str:
    """The declared character set, UTF-8 for none and for ASCII (which is UTF-8)."""
    charset = params.get("charset", "utf-8").lower()
    return "utf-8" if charset in UTF8_CHARSETS else charset


def _folded(header: str) -> list[str]:
    """A header's values: a proxy may fold repeated headers into one, joined by commas
    (outside a quoted parameter)."""
    return re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', header)


def _taken(media: str, rule: MediaRule) -> bool:
    if media in rule.accepted:
        return True
    return rule.subtype_suffix is not None and (
        media.startswith("application/") and media.endswith(rule.subtype_suffix)
    )


def _parsed(value: str) -> tuple[str | None, dict[str, str]]:
    """The media type (lower case) and its parameters (names in lower case, values
    unquoted); None for the type when the header names none."""
    head, *rest = value.split(";")
    media = head.strip().lower()
    kind, slash, subtype = media.partition("/")
    if not slash or not kind or not subtype or "/" in subtype or " " in media:
        return None, {}
    params: dict[str, str] = {}
    for part in rest:
        name, equals, text = part.partition("=")
        if equals:
            params[name.strip().lower()] = text.strip().strip('"')
    return media, params


def _refuse(raw: bytes, why: str, rule: MediaRule) -> NoReturn:
    raise UnreadableBody(
        415,
        f"unsupported media type: {why}; this route takes {rule.takes}; {fingerprint(raw)}",
        RejectionCode.UNSUPPORTED_MESSAGE,
    )
