"""OpenAPI description of lab-ingestion's routes."""

from __future__ import annotations

from typing import Any

_SECURED: dict[str, Any] = {"security": [{"bearer": []}]}

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
            },
        }
    },
    "/fhir/Observation": {
        "post": {
            **_SECURED,
            "summary": "One FHIR R4 Observation",
            "responses": {
                "201": {"description": "accepted (OperationOutcome)"},
                "400": {"description": "invalid resource (OperationOutcome)"},
                "422": {"description": "unusable result (OperationOutcome)"},
            },
        }
    },
    "/fhir": {
        "post": {
            **_SECURED,
            "summary": "A FHIR R4 transaction or batch Bundle of Observations",
            "responses": {"200": {"description": "response Bundle, one entry per Observation"}},
        }
    },
    "/v1/lab-results": {
        "post": {
            **_SECURED,
            "summary": "Lab results in the platform's JSON format",
            "responses": {
                "202": {"description": "accepted"},
                "200": {"description": "duplicate of a stored message"},
                "400": {"description": "invalid body"},
                "422": {"description": "unusable result"},
            },
        }
    },
}
