"""``GET /fhir/metadata``: what lab-ingestion's FHIR endpoint does, as a FHIR R4
CapabilityStatement (static; FHIR clients ask for it before their first request). Its
``format`` is JSON alone: a request taking XML alone is answered 406 (``fhir_accept``).

Answered without a token: it says nothing of any patient or result."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.lab_ingestion.entrypoints.fhir_responses import fhir_json

CAPABILITY_STATEMENT: dict[str, Any] = {
    "resourceType": "CapabilityStatement",
    "status": "active",
    "date": "2026-01-01",
    "kind": "instance",
    "software": {"name": "LENA-CCS lab-ingestion"},
    "implementation": {"description": "lab results intake of the LENA-CCS trial platform"},
    "fhirVersion": "4.0.1",
    "format": ["json"],
    "rest": [
        {
            "mode": "server",
            "documentation": (
                "Observations are created (POST /fhir/Observation) or sent in a transaction or"
                " batch Bundle (POST /fhir) with Patients to match their subject; nothing is"
                " read back. Results labelled HTEST, with a focus, or of another sender than"
                " the token's are refused."
            ),
            "security": {
                "service": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                "code": "Bearer",
                            }
                        ],
                    }
                ],
                "description": "Authorization: Bearer <lab token> (role lab)",
            },
            # a create is answered with its version (Location .../_history/1, ETag W/"1"):
            # a stored result is never updated, nor read back (review 131)
            "resource": [
                {
                    "type": "Observation",
                    "interaction": [{"code": "create"}],
                    "versioning": "versioned",
                    "readHistory": False,
                    "updateCreate": False,
                }
            ],
            "interaction": [{"code": "transaction"}, {"code": "batch"}],
        }
    ],
}


async def capability_statement(request: web.Request) -> web.Response:
    return fhir_json(CAPABILITY_STATEMENT)
