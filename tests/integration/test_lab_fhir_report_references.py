"""A DiagnosticReport's times reach only the Observations its references resolve to, through
POST /fhir on real PostgreSQL and the broker (review 134: another server's report, of another
patient, listing its own relative ``Observation/1`` placed the enrolled patient's CRP of that id
on another server at its time)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_review121_fhir_reports import PATIENT, _obs

pytestmark = pytest.mark.integration


def _untimed_crp(identifier: str) -> dict[str, Any]:
    crp = {**_obs(identifier), "id": "1", "subject": {"reference": "Patient/p1"}}
    crp.pop("effectiveDateTime")
    return crp


async def test_another_servers_report_never_places_our_observation(lab: Lab) -> None:
    other_patient = {"resourceType": "Patient", "id": "p1",
                     "identifier": [{"system": "urn:hosp", "value": "MRN-OTHER-9"}]}  # fmt: skip
    report = {
        "resourceType": "DiagnosticReport", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-11-19T23:30:00+01:00", "issued": "2026-11-20T09:00:00+01:00",
        "result": [{"reference": "Observation/1"}],
    }  # fmt: skip
    entries = [
        ("https://a.example/fhir/Patient/p1", {**PATIENT, "id": "p1"}),
        ("https://a.example/fhir/Observation/1", _untimed_crp("R134-A")),
        ("https://b.example/fhir/Patient/p1", other_patient),
        ("https://b.example/fhir/DiagnosticReport/r1", report),
        ("https://b.example/fhir/Observation/1", _untimed_crp("R134-B")),
    ]
    body = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"fullUrl": url, "resource": resource,
         "request": {"method": "POST", "url": resource["resourceType"]}}
        for url, resource in entries
    ]}  # fmt: skip
    status, answer = await lab.post_fhir("/fhir", body)
    assert status == 200, answer
    ours = answer["entry"][1]["response"]
    assert ours["status"].startswith("422"), ours
    assert "missing-collection-time" in str(ours["outcome"]), ours
    assert await lab.pool.fetch("SELECT collected_at FROM results") == []
