"""OpenAPI description of lab-ingestion's routes."""

from __future__ import annotations

from typing import Any

from services.lab_ingestion.adapters.json_schema import LabResultsIn
from services.lab_ingestion.entrypoints.openapi_answers import (
    BUNDLE_SCHEMA,
    ER7,
    FHIR_ERRORS,
    FHIR_JSON,
    NOT_ACCEPTABLE,
    OUTCOME,
    PROBLEM_ERRORS,
    SECURED,
    UNREADABLE,
    ack_answer,
    ack_or_problem_answer,
    fhir_answer,
    method_not_allowed,
    problem_answer,
    with_retry_after,
)

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


_NOT_SERVED = {
    "responses": {"404": fhir_answer("not served by this service (issue code not-found)")}
}
# another method on /fhir/metadata: 405 (issue code not-supported)
_METADATA_NOT_ALLOWED = {"responses": {"405": method_not_allowed(OUTCOME, "GET, HEAD")}}

OPENAPI_PATHS: dict[str, Any] = {
    "/v1/hl7": {
        "post": {
            **SECURED,
            "summary": "One HL7 v2 ORU^R01 message (ER7); returns its ACK",
            "requestBody": {"content": {ER7: {"schema": {"type": "string"}}}},
            "responses": {
                "200": ack_answer("AA: accepted and durably stored"),
                "400": ack_or_problem_answer(
                    f"AR: malformed, unsupported or unknown sender; or a problem: {UNREADABLE}"
                ),
                "422": ack_answer("AE: well-formed but unusable (reason in MSA-3/ERR)"),
                **PROBLEM_ERRORS,
                "503": with_retry_after(
                    ack_or_problem_answer(
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
            **SECURED,
            "summary": "One FHIR R4 Observation",
            "description": "POST /fhir/Observation/ (a trailing slash) is the same route.",
            "requestBody": {"content": {FHIR_JSON: {"schema": {"type": "object"}}}},
            "responses": {
                "201": {
                    **fhir_answer("accepted and stored"),
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
                "200": fhir_answer(
                    "accepted, nothing created (no Location): a duplicate, the patient is"
                    " not enrolled, or an earlier result withdrawn (entered-in-error,"
                    " cancelled)"
                ),
                "422": fhir_answer("valid but unusable result, kept as a rejection"),
                **FHIR_ERRORS,
            },
        }
    },
    "/fhir": {
        "post": {
            **SECURED,
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
            "requestBody": {"content": {FHIR_JSON: {"schema": {"type": "object"}}}},
            "responses": {
                "200": {
                    "description": "transaction-response or batch-response Bundle",
                    "content": {FHIR_JSON: {"schema": BUNDLE_SCHEMA}},
                },
                "422": fhir_answer("transaction rejected as a whole: nothing was stored"),
                **FHIR_ERRORS,
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
                        FHIR_JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {"resourceType": {"const": "CapabilityStatement"}},
                            }
                        }
                    },
                },
                "406": fhir_answer(NOT_ACCEPTABLE),
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
            **SECURED,
            "summary": "Lab results in the platform's JSON format",
            "requestBody": {"content": {"application/json": {"schema": _LAB_RESULTS_SCHEMA}}},
            "responses": {
                "202": _json_answer("accepted (stored, or discarded: patient not enrolled)"),
                "200": _json_answer("duplicate of a stored message"),
                "400": problem_answer(
                    "invalid body, kept as a rejection; the detail names each field (an"
                    " unparseable body is kept by its length and SHA-256 only); or"
                    f" {UNREADABLE}"
                ),
                "422": problem_answer(
                    "unusable result, or a source not on the allow-list that holds the"
                    " patient's hospital number; kept as a rejection"
                ),
                **PROBLEM_ERRORS,
                "403": problem_answer(
                    "the token lacks the role lab, or it is bound to other senders than the"
                    " body's source, or to it while it is not (or no longer) on the"
                    " allow-list (then kept as a rejection)"
                ),
            },
        }
    },
}
