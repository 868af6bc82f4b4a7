"""FHIR resources the screening tests send: a final CRP Observation and the test-data label."""

from __future__ import annotations

from typing import Any

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
HTEST = {"security": [{"system": ACT_REASON, "code": "HTEST"}]}


def crp_observation(**changes: Any) -> dict[str, Any]:
    """A final CRP of 20 mg/L for the hospital number MRN4711; a change to None drops the
    element."""
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:lab", "value": "OBS-1"}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN4711"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 20, "unit": "mg/L", "system": "http://unitsofmeasure.org",
                          "code": "mg/L"},
    }  # fmt: skip
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


def lab_observation(identifier: str, code: str, **more: Any) -> dict[str, Any]:
    """A final Observation of LOINC ``code`` for patient MRN4711 under ``urn:hosp``."""
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:lab", "value": identifier}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN4711"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        **more,
    }


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit,
                              "system": "http://unitsofmeasure.org", "code": unit}}  # fmt: skip


def parsed_bundle(kind: str, *resources: dict[str, Any], sender: str = "central-lab") -> Any:
    """A ``kind`` Bundle of ``resources`` (each created), parsed as ``sender``'s FHIR."""
    return parse_bundle(
        {
            "resourceType": "Bundle", "type": kind,
            "entry": [
                {"fullUrl": f"urn:uuid:{i}", "resource": resource,
                 "request": {"method": "POST", "url": "Observation"}}
                for i, resource in enumerate(resources, start=1)
            ],
        },
        sender, "FHIR", lambda s: f"h({s})",
    )  # fmt: skip
