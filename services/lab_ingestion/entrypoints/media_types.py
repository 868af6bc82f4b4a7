"""Which bodies each HTTP route takes, by their ``Content-Type`` (415 for any other).

A body declared as another format than the route's (an XML FHIR resource, an HTML page, a
form, a multipart upload, JSON sent to the HL7 route) is refused with a reason naming the
media type the route takes, rather than answered as an invalid message of the route's own
format. A body declaring no type, or ``application/octet-stream`` (RFC 9110 8.3: what a
recipient may take a body without one to be; what HTTP libraries send for bytes), is read
as the route's own format: it is validated as strictly as any. JSON is UTF-8 (RFC 8259
8.1; FHIR's too): a ``charset`` other than ``utf-8`` is refused. HL7 takes ER7 and
``text/plain``; its character set is MSH-18's, so a ``charset`` is not checked there.

The refusal is an ``UnreadableBody`` (415): kept as a rejection by the body's length and
SHA-256 only, never its content (the route's redaction cannot vouch for another format).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.request_body import UnreadableBody, fingerprint

UNDECLARED = "application/octet-stream"
_TOKEN = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}")  # RFC 9110's token, shown when short


@dataclass(frozen=True)
class MediaRule:
    """The media types a route takes, and what it says to a body of any other."""

    accepted: frozenset[str]
    takes: str  # "JSON (application/json)": named in every refusal
    utf8_only: bool = True
    subtype_suffix: str | None = None  # "+json": any such type is taken too
    # media types named in a refusal's own words (FHIR XML: "only JSON is supported")
    told: tuple[tuple[frozenset[str], str], ...] = ()


JSON_RULE = MediaRule(
    frozenset({"application/json"}),
    "JSON (application/json)",
    subtype_suffix="+json",
)
FHIR_XML = frozenset(
    {"application/fhir+xml", "application/xml+fhir", "application/xml", "text/xml"}
)
FHIR_RULE = MediaRule(
    frozenset({"application/fhir+json", "application/json", "application/json+fhir"}),
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


def check_media_type(declared: list[str], rule: MediaRule, raw: bytes) -> None:
    """Nothing when the body's ``Content-Type`` header(s) (``declared``) name a type the
    route takes, or none; else ``UnreadableBody`` (415) naming what the route takes."""
    values = [value for value in declared if value.strip()]
    if not values:
        return
    if len(set(values)) > 1:
        _refuse(raw, "the body declares more than one Content-Type", rule)
    media, params = _parsed(values[0])
    if media is None:
        _refuse(raw, "its Content-Type is no media type (type/subtype)", rule)
    shown = media if _TOKEN.fullmatch(media.replace("/", "", 1)) else "another type"
    if media != UNDECLARED and not _taken(media, rule):
        for types, words in rule.told:
            if media in types:
                _refuse(raw, f"{words} (the body is declared {shown})", rule)
        _refuse(raw, f"the body is declared {shown}", rule)
    charset = params.get("charset", "utf-8").lower()
    if rule.utf8_only and charset not in ("utf-8", "utf8"):
        why = "JSON is UTF-8 (RFC 8259)"
        named = charset if _TOKEN.fullmatch(charset) else "another"
        _refuse(raw, f"{why}: the body is declared in the character set {named}", rule)


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
