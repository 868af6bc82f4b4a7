"""OpenAPI description of lab-ingestion's routes."""

from __future__ import annotations

from typing import Any

from services.lab_ingestion.adapters.json_parser import LabResultsIn

_SECURED: dict[str, Any] = {"security": [{"bearer": []}]}
_FHIR = "application/fhir+json"
_PROBLEM = "application/problem+json"
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before resending",
        "schema": {"type": "integer"},
    }
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
    "properties": {
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}
_OUTCOME = {_FHIR: {"schema": _OUTCOME_SCHEMA}}
_PROBLEM_BODY = {_PROBLEM: {"schema": _PROBLEM_SCHEMA}}


def _fhir(description: str) -> dict[str, Any]:
    return {"description": f"{description} (OperationOutcome)", "content": _OUTCOME}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PROBLEM_BODY}


_FHIR_ERRORS: dict[str, Any] = {
    "400": _fhir(
        "invalid or unparseable body; the issues name each location (expression); kept as a"
        " rejection (an unparseable body by its length and SHA-256 only)"
    ),
    "401": _fhir("no or unknown bearer token (issue code login)"),
    "403": _fhir("the token lacks the role lab (issue code forbidden)"),
    "413": _fhir("body larger than 2 MiB (issue code too-costly)"),
    "503": {
        **_fhir("temporary internal error, nothing was stored: resend (issue code transient)"),
        "headers": _RETRY_AFTER,
    },
}
_PROBLEM_ERRORS: dict[str, Any] = {
    "401": _problem("no or unknown bearer token"),
    "403": _problem("the token lacks the role lab"),
    "413": _problem("body larger than 2 MiB"),
    "503": {
        **_problem("temporary internal error, nothing was stored: resend"),
        "headers": _RETRY_AFTER,
    },
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


OPENAPI_PATHS: dict[str, Any] = {
    "/v1/hl7": {
        "post": {
            **_SECURED,
            "summary": "One HL7 v2 ORU^R01 message (ER7); returns its ACK",
            "requestBody": {
                "content": {"x-application/hl7-v2+er7": {"schema": {"type": "string"}}}
            },
            "responses": {
                "200": {"description": "AA: accepted and durably stored"},
                "400": {"description": "AR: malformed, unsupported or unknown sender"},
                "422": {"description": "AE: well-formed but unusable (reason in MSA-3/ERR)"},
                **_PROBLEM_ERRORS,
                "503": {
                    "description": "AR with ERR-3 207 (application internal error): nothing"
                    " was stored, resend; the body is the ACK",
                    "headers": _RETRY_AFTER,
                },
            },
        }
    },
    "/fhir/Observation": {
        "post": {
            **_SECURED,
            "summary": "One FHIR R4 Observation",
            "requestBody": {"content": {_FHIR: {"schema": {"type": "object"}}}},
            "responses": {
                "201": _fhir("accepted and stored"),
                "200": _fhir(
                    "accepted, nothing created: a duplicate, or the patient is not enrolled"
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
                " (stored), 200 OK (duplicate, patient not enrolled, or a Patient entry),"
                " 400, 422 or 503, each with an OperationOutcome."
            ),
            "requestBody": {"content": {_FHIR: {"schema": {"type": "object"}}}},
            "responses": {
                "200": {
                    "description": "transaction-response or batch-response Bundle",
                    "content": {_FHIR: {"schema": {"type": "object"}}},
                },
                "422": _fhir("transaction rejected as a whole: nothing was stored"),
                **_FHIR_ERRORS,
            },
        }
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
                    " unparseable body is kept by its length and SHA-256 only)"
                ),
                "422": _problem("unusable result, kept as a rejection"),
                **_PROBLEM_ERRORS,
                "403": _problem(
                    "the token lacks the role lab, or it is bound to other senders than the"
                    " body's source (then kept as a rejection)"
                ),
            },
        }
    },
}
