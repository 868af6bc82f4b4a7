"""OpenAPI description of lab-ingestion's routes."""

from __future__ import annotations

from typing import Any

from services.lab_ingestion.adapters.json_schema import LabResultsIn

_SECURED: dict[str, Any] = {"security": [{"bearer": []}]}
_FHIR = "application/fhir+json"
_PROBLEM = "application/problem+json"
_ER7 = "x-application/hl7-v2+er7"
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
_BUNDLE_SCHEMA = {
    "type": "object",
    "description": "FHIR R4 Bundle: one entry per request entry, in order",
    "required": ["resourceType", "type"],
    "properties": {
        "resourceType": {"const": "Bundle"},
        "type": {"enum": ["transaction-response", "batch-response"]},
        "entry": {"type": "array", "items": {"type": "object"}},
    },
}
_OUTCOME = {_FHIR: {"schema": _OUTCOME_SCHEMA}}
_PROBLEM_BODY = {_PROBLEM: {"schema": _PROBLEM_SCHEMA}}
_ACK = {_ER7: {"schema": {"type": "string", "description": "the HL7 v2 ACK (ER7)"}}}
_TOO_LARGE = "body larger than 2 MiB, once decoded if it was sent compressed; kept as a rejection"
_UNREADABLE = (
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


def _fhir(description: str) -> dict[str, Any]:
    return {"description": f"{description} (OperationOutcome)", "content": _OUTCOME}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PROBLEM_BODY}


def _ack(description: str) -> dict[str, Any]:
    return {"description": f"{description}; the body is the ACK", "content": _ACK}


def _ack_or_problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {**_ACK, **_PROBLEM_BODY}}


def _unauthorised(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "headers": _WWW_AUTHENTICATE}


def _resend(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "headers": _RETRY_AFTER}


def _allow(methods: str) -> dict[str, Any]:
    description = f"the methods this path takes: {methods}"
    return {"Allow": {"description": description, "schema": {"type": "string"}}}


def _not_allowed(content: dict[str, Any], methods: str = "POST") -> dict[str, Any]:
    return {
        "description": f"another method (no token needed); the path takes {methods} only",
        "content": content,
        "headers": _allow(methods),
    }


_NOT_ACCEPTABLE = (
    "Accept allows XML alone (application/fhir+xml, application/xml), or _format asks for"
    " XML: only JSON is answered; the body is not read, nothing is kept (issue code"
    " not-supported)"
)
_FHIR_ERRORS: dict[str, Any] = {
    "400": _fhir(
        "invalid or unparseable body; the issues name each location (expression); kept as a"
        f" rejection (an unparseable body by its length and SHA-256 only); or {_UNREADABLE}"
    ),
    "401": _unauthorised(_fhir("no or unknown bearer token (issue code login)")),
    "403": _fhir(
        "the token lacks the role lab; or it is bound to several senders and none is"
        " <token name>^FHIR: which one sent the resource cannot be told; or the one sender"
        " it is bound to is not (or no longer) on the allow-list (both then kept as a"
        " rejection; issue code forbidden)"
    ),
    "405": _not_allowed(_OUTCOME),
    "406": _fhir(_NOT_ACCEPTABLE),
    "408": _fhir(f"{_TIMED_OUT} (issue code timeout)"),
    "413": _fhir(f"{_TOO_LARGE} (issue code too-costly)"),
    "415": _fhir(
        f"{_UNSUPPORTED}: FHIR JSON only (application/fhir+json, application/json); FHIR XML"
        " is not supported (issue code not-supported)"
    ),
    "503": _resend(
        _fhir(
            "temporary internal error, nothing was stored: resend; or stored, but its answer"
            " was lost: resend it to learn what was stored (issue code transient)"
        )
    ),
}
_PROBLEM_ERRORS: dict[str, Any] = {
    "401": _unauthorised(_problem("no or unknown bearer token")),
    "403": _problem("the token lacks the role lab"),
    "405": _not_allowed({_TEXT: {"schema": {"type": "string"}}}),
    "408": _problem(_TIMED_OUT),
    "413": _problem(_TOO_LARGE),
    "415": _problem(
        f"{_UNSUPPORTED}: /v1/lab-results takes application/json or application/*+json,"
        " /v1/hl7 ER7 (x-application/hl7-v2+er7, application/hl7-v2, application/x-hl7,"
        " text/plain)"
    ),
    "503": _resend(
        _problem(
            "temporary internal error, nothing was stored: resend; or stored, but its answer"
            " was lost: resend it to learn what was stored"
        )
    ),
}

# the request model's own JSON Schema; its $id makes its "#/$defs/..." references its own
_LAB_RESULTS_SCHEMA = {"$id": "urn:lena-ccs:lab-results-in", **LabResultsIn.model_json_schema()}


def _json_answer(description: str) -> dict[str, Any]:
    answer = {
        "type": "object",
        "required": ["status", "enrolled", "results_stored", "results_cancelled"],
        "properties": {
            "status": {"enum": ["accepted", "duplicate"]},
            "enrolled": {"type": "boolean", "description": "false: discarded, nothing kept"},
            "results_stored": {"type": "integer", "minimum": 0},
            "results_cancelled": {
                "type": "integer",
                "minimum": 0,
                "description": "earlier results cancelled or deleted by this message",
            },
        },
    }
    return {"description": description, "content": {"application/json": {"schema": answer}}}


_NOT_SERVED = {"responses": {"404": _fhir("not served by this service (issue code not-found)")}}
# another method on /fhir/metadata: 405 (issue code not-supported)
_METADATA_NOT_ALLOWED = {"responses": {"405": _not_allowed(_OUTCOME, "GET, HEAD")}}

OPENAPI_PATHS: dict[str, Any] = {
    "/v1/hl7": {
        "post": {
            **_SECURED,
            "summary": "One HL7 v2 ORU^R01 message (ER7); returns its ACK",
            "requestBody": {"content": {_ER7: {"schema": {"type": "string"}}}},
            "responses": {
                "200": _ack("AA: accepted and durably stored"),
                "400": _ack_or_problem(
                    f"AR: malformed, unsupported or unknown sender; or a problem: {_UNREADABLE}"
                ),
                "422": _ack("AE: well-formed but unusable (reason in MSA-3/ERR)"),
                **_PROBLEM_ERRORS,
                "503": _resend(
                    _ack_or_problem(
                        "nothing was stored, resend: AR with HL7 error 207 (application internal"
                        " error) when storing the message failed; a problem when the token could"
                        " not be checked or an unreadable body could not be kept"
                    )
                ),
            },
        }
    },
    "/fhir/Observation": {
        "post": {
            **_SECURED,
            "summary": "One FHIR R4 Observation",
            "description": "POST /fhir/Observation/ (a trailing slash) is the same route.",
            "requestBody": {"content": {_FHIR: {"schema": {"type": "object"}}}},
            "responses": {
                "201": {
                    **_fhir("accepted and stored"),
                    "headers": {
                        "Location": {
                            "description": (
                                "Observation/<id>/_history/1: the stored result's id and"
                                " version (a stored result is never updated)"
                            ),
                            "schema": {"type": "string"},
                        },
                        "ETag": {
                            "description": 'W/"1": the version',
                            "schema": {"type": "string"},
                        },
                    },
                },
                "200": _fhir(
                    "accepted, nothing created (no Location): a duplicate, the patient is"
                    " not enrolled, or an earlier result withdrawn (entered-in-error,"
                    " cancelled)"
                ),
                "422": _fhir("valid but unusable result, kept as a rejection"),
                **_FHIR_ERRORS,
            },
        }
    },
    "/fhir": {
        "post": {
            **_SECURED,
            "summary": "A FHIR R4 transaction or batch Bundle of Observations (and Patients)",
            "description": (
                "Patient entries only match the Observations' subject and are never stored;"
                " other resource types are not supported. A transaction is all or nothing:"
                " any invalid or unsupported entry fails it with 400, a rejected result with"
                " 422 (one OperationOutcome each, one rejection kept). A batch takes each"
                " entry on its own: valid Observations are ingested, each invalid entry is"
                " answered 400 in its response entry and kept as its own rejection. The"
                " response Bundle has one entry per request entry, in order: 201 Created"
                " (stored; response.location Observation/<id>/_history/1 of the stored result,"
                ' response.etag W/"1"), 200 OK'
                " (duplicate, patient not enrolled, an earlier result withdrawn, an"
                " Observation of no trial analyte, or a Patient entry),"
                " 400, 422 or 503, each with an OperationOutcome. POST /fhir/ (a trailing"
                " slash) is the same route."
            ),
            "requestBody": {"content": {_FHIR: {"schema": {"type": "object"}}}},
            "responses": {
                "200": {
                    "description": "transaction-response or batch-response Bundle",
                    "content": {_FHIR: {"schema": _BUNDLE_SCHEMA}},
                },
                "422": _fhir("transaction rejected as a whole: nothing was stored"),
                **_FHIR_ERRORS,
            },
        }
    },
    "/fhir/metadata": {
        "get": {
            "summary": "The FHIR endpoint's CapabilityStatement (no token)",
            "description": (
                "A static FHIR 4.0.1 CapabilityStatement: JSON, Observation create, the"
                " transaction and batch interactions, bearer-token security. GET"
                " /fhir/metadata/ (a trailing slash) is the same route."
            ),
            "responses": {
                "200": {
                    "description": "FHIR R4 CapabilityStatement",
                    "content": {
                        _FHIR: {
                            "schema": {
                                "type": "object",
                                "properties": {"resourceType": {"const": "CapabilityStatement"}},
                            }
                        }
                    },
                },
                "406": _fhir(_NOT_ACCEPTABLE),
            },
        },
        **{method: _METADATA_NOT_ALLOWED for method in ("put", "post", "delete", "patch")},
    },
    "/fhir/{path}": {
        "summary": "Any other path under /fhir: not served",
        "description": (
            "This service takes POST /fhir/Observation, POST /fhir and GET /fhir/metadata"
            " only: any other path"
            " under /fhir, with any method and without a token, is answered 404 with an"
            " OperationOutcome (issue code not-found)."
        ),
        "parameters": [
            {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        **{method: _NOT_SERVED for method in ("get", "put", "post", "delete", "patch")},
    },
    "/v1/lab-results": {
        "post": {
            **_SECURED,
            "summary": "Lab results in the platform's JSON format",
            "requestBody": {"content": {"application/json": {"schema": _LAB_RESULTS_SCHEMA}}},
            "responses": {
                "202": _json_answer("accepted (stored, or discarded: patient not enrolled)"),
                "200": _json_answer("duplicate of a stored message"),
                "400": _problem(
                    "invalid body, kept as a rejection; the detail names each field (an"
                    " unparseable body is kept by its length and SHA-256 only); or"
                    f" {_UNREADABLE}"
                ),
                "422": _problem(
                    "unusable result, or a source not on the allow-list that holds the"
                    " patient's hospital number; kept as a rejection"
                ),
                **_PROBLEM_ERRORS,
                "403": _problem(
                    "the token lacks the role lab, or it is bound to other senders than the"
                    " body's source, or to it while it is not (or no longer) on the"
                    " allow-list (then kept as a rejection)"
                ),
            },
        }
    },
}
