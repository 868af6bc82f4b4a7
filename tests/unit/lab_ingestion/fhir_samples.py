"""FHIR resources the screening tests send: a final CRP Observation and the test-data label."""

from __future__ import annotations

from typing import Any

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
