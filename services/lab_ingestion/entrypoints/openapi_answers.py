"""The answers lab-ingestion's routes share, as its OpenAPI description (``openapi``) says
them: media types, bodies (an OperationOutcome, a problem, an HL7 ACK) and the errors of the
FHIR routes and of the others."""

from __future__ import annotations

from typing import Any

SECURED: dict[str, Any] = {"security": [{"bearer": []}]}
FHIR_JSON = "application/fhir+json"
_PROBLEM = "application/problem+json"
ER7 = "x-application/hl7-v2+er7"
_TEXT = "text/plain"
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before resending",
        "schema": {"type": "integer"},
    }
}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"description": "the scheme to use: Bearer", "schema": {"type": "string"}}
}
_OUTCOME_SCHEMA = {
    "type": "object",
    "description": "FHIR R4 OperationOutcome",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {"type": "array", "items": {"type": "object"}},
    },
}
_PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["title", "status", "detail"],
    "properties": {
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}
BUNDLE_SCHEMA = {
    "type": "object",
    "description": "FHIR R4 Bundle: one entry per request entry, in order",
    "required": ["resourceType", "type"],
    "properties": {
        "resourceType": {"const": "Bundle"},
        "type": {"enum": ["transaction-response", "batch-response"]},
        "entry": {"type": "array", "items": {"type": "object"}},
    },
}
OUTCOME = {FHIR_JSON: {"schema": _OUTCOME_SCHEMA}}
_PROBLEM_BODY = {_PROBLEM: {"schema": _PROBLEM_SCHEMA}}
_ACK = {ER7: {"schema": {"type": "string", "description": "the HL7 v2 ACK (ER7)"}}}
_TOO_LARGE = "body larger than 2 MiB, once decoded if it was sent compressed; kept as a rejection"
UNREADABLE = (
    "the body could not be read (a Content-Encoding other than identity, gzip, x-gzip or"
    " deflate, or a corrupt one), kept as a rejection by its length and SHA-256 only; the"
    " answer closes the connection"
)
_TIMED_OUT = (
    "the body not received in full within CACHEXIA_LAB_INGESTION_HTTP_BODY_SECONDS (60 s by"
    " default) of its reading beginning: it stalled or trickled; kept as a rejection"
    " (malformed-message) by the length and SHA-256 of what came; the answer closes the"
    " connection"
)
_UNSUPPORTED = (
    "a body declared (Content-Type) as another media type than the route takes (none, or"
    " application/octet-stream, is read as the route's own; JSON only in UTF-8), kept as"
    " a rejection (unsupported-message-type) by its length and SHA-256 only"
)


def fhir_answer(description: str) -> dict[str, Any]:
    return {"description": f"{description} (OperationOutcome)", "content": OUTCOME}


def problem_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PROBLEM_BODY}


def ack_answer(description: str) -> dict[str, Any]:
    return {"description": f"{description}; the body is the ACK", "content": _ACK}


def ack_or_problem_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {**_ACK, **_PROBLEM_BODY}}


def _unauthorised(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "headers": _WWW_AUTHENTICATE}


def with_retry_after(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "headers": _RETRY_AFTER}


def _allow(methods: str) -> dict[str, Any]:
    description = f"the methods this path takes: {methods}"
    return {"Allow": {"description": description, "schema": {"type": "string"}}}


def method_not_allowed(content: dict[str, Any], methods: str = "POST") -> dict[str, Any]:
    return {
        "description": f"another method (no token needed); the path takes {methods} only",
        "content": content,
        "headers": _allow(methods),
    }


NOT_ACCEPTABLE = (
    "Accept allows XML alone (application/fhir+xml, application/xml), or _format asks for"
    " XML: only JSON is answered; the body is not read, nothing is kept (issue code"
    " not-supported)"
)
FHIR_ERRORS: dict[str, Any] = {
    "400": fhir_answer(
        "invalid or unparseable body; the issues name each location (expression); kept as a"
        f" rejection (an unparseable body by its length and SHA-256 only); or {UNREADABLE}"
    ),
    "401": _unauthorised(fhir_answer("no or unknown bearer token (issue code login)")),
    "403": fhir_answer(
        "the token lacks the role lab; or it is bound to several senders and none is"
        " <token name>^FHIR: which one sent the resource cannot be told; or the one sender"
        " it is bound to is not (or no longer) on the allow-list (both then kept as a"
        " rejection; issue code forbidden)"
    ),
    "405": method_not_allowed(OUTCOME),
    "406": fhir_answer(NOT_ACCEPTABLE),
    "408": fhir_answer(f"{_TIMED_OUT} (issue code timeout)"),
    "413": fhir_answer(f"{_TOO_LARGE} (issue code too-costly)"),
    "415": fhir_answer(
        f"{_UNSUPPORTED}: FHIR JSON only (application/fhir+json, application/json); FHIR XML"
        " is not supported (issue code not-supported)"
    ),
    "503": with_retry_after(
        fhir_answer(
            "temporary internal error, nothing was stored: resend; or stored, but its answer"
            " was lost: resend it to learn what was stored (issue code transient)"
        )
    ),
}
PROBLEM_ERRORS: dict[str, Any] = {
    "401": _unauthorised(problem_answer("no or unknown bearer token")),
    "403": problem_answer("the token lacks the role lab"),
    "405": method_not_allowed({_TEXT: {"schema": {"type": "string"}}}),
    "408": problem_answer(_TIMED_OUT),
    "413": problem_answer(_TOO_LARGE),
    "415": problem_answer(
        f"{_UNSUPPORTED}: /v1/lab-results takes application/json or application/*+json,"
        " /v1/hl7 ER7 (x-application/hl7-v2+er7, application/hl7-v2, application/x-hl7,"
        " text/plain)"
    ),
    "503": with_retry_after(
        problem_answer(
            "temporary internal error, nothing was stored: resend; or stored, but its answer"
            " was lost: resend it to learn what was stored"
        )
    ),
}
