"""Which Observations a DiagnosticReport's times reach (review 134): only one its reference
resolves to alone, as a Patient reference is resolved, and of the subject the report names."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle

WHEN = "2026-11-20T07:30:00+01:00"


def _patient(pid: str, mrn: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid,
            "identifier": [{"system": "urn:hosp", "value": mrn}]}  # fmt: skip


def _crp(oid: str, ident: str, subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": oid, "status": "final",
        "identifier": [{"system": "urn:lab", "value": ident}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": 20, "unit": "mg/L", "system": "http://unitsofmeasure.org",
                          "code": "mg/L"},
    }  # fmt: skip


def _report(subject: str, *results: str) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
        "subject": {"reference": subject}, "effectiveDateTime": WHEN, "issued": WHEN,
        "result": [{"reference": r} for r in results],
    }  # fmt: skip


def _collected(*entries: tuple[str, dict[str, Any]]) -> list[datetime | None]:
    """Each Observation entry's collection time (None: refused or none)."""
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"fullUrl": url, "resource": copy.deepcopy(resource),
         "request": {"method": "POST", "url": resource["resourceType"]}}
        for url, resource in entries
    ]}  # fmt: skip
    parsed = parse_bundle(bundle, "LIS", "LAB")
    return [
        e.message.observations[0].collected_at if e.message is not None else None
        for e, (_, resource) in zip(parsed.entries, entries, strict=True)
        if resource["resourceType"] == "Observation"
    ]


def test_a_report_places_the_observation_it_lists_of_its_subject() -> None:
    placed = datetime.fromisoformat(WHEN)
    assert _collected(
        ("urn:uuid:pa", _patient("pa", "MRN-A")),
        ("urn:uuid:ra", _report("urn:uuid:pa", "urn:uuid:oa")),
        ("urn:uuid:oa", _crp("crp", "A-1", "urn:uuid:pa")),
    ) == [placed]
    assert _collected(  # relative, from a server's report: that server's Observation
        ("https://a.example/fhir/Patient/p1", _patient("p1", "MRN-A")),
        ("https://a.example/fhir/DiagnosticReport/r1", _report("Patient/p1", "Observation/1")),
        ("https://a.example/fhir/Observation/1", _crp("1", "A-1", "Patient/p1")),
    ) == [placed]


def test_a_relative_reference_resolves_against_the_reports_own_server() -> None:
    assert _collected(
        ("https://a.example/fhir/Patient/p1", _patient("p1", "MRN-A")),
        ("https://b.example/fhir/Patient/p1", _patient("p1", "MRN-B")),
        ("https://b.example/fhir/DiagnosticReport/r1", _report("Patient/p1", "Observation/1")),
        ("https://a.example/fhir/Observation/1", _crp("1", "A-1", "Patient/p1")),
    ) == [None]


def test_a_reference_two_observations_claim_places_neither() -> None:
    assert _collected(
        ("urn:uuid:pa", _patient("pa", "MRN-A")),
        ("urn:uuid:pb", _patient("pb", "MRN-B")),
        ("urn:uuid:ra", _report("urn:uuid:pa", "Observation/crp")),
        ("urn:uuid:oa", _crp("crp", "A-1", "urn:uuid:pa")),
        ("urn:uuid:ob", _crp("crp", "B-1", "urn:uuid:pb")),
    ) == [None, None]


def test_a_report_of_another_patient_places_nothing() -> None:
    assert _collected(
        ("urn:uuid:pa", _patient("pa", "MRN-A")),
        ("urn:uuid:pb", _patient("pb", "MRN-B")),
        ("urn:uuid:ra", _report("urn:uuid:pa", "urn:uuid:ob")),
        ("urn:uuid:ob", _crp("crp", "B-1", "urn:uuid:pb")),
    ) == [None]


def test_a_subject_written_another_way_or_by_identifier_alone_still_takes_the_reports_time() -> (
    None
):
    """Review 135: the report's subject compared as written refused results whose subject
    names the same Patient otherwise, or by identifier alone, or a report with no subject."""
    placed = datetime.fromisoformat(WHEN)
    by_identifier = {"identifier": {"system": "urn:hosp", "value": "MRN-A"}}
    report = _report("unused", "urn:uuid:oa")
    report["subject"] = by_identifier
    crp = _crp("crp", "A-1", "unused")
    crp["subject"] = by_identifier
    assert _collected(("urn:uuid:ra", report), ("urn:uuid:oa", crp)) == [placed]
    no_subject = _report("unused", "urn:uuid:oa")
    del no_subject["subject"]
    assert _collected(
        ("urn:uuid:pa", _patient("pa", "MRN-A")),
        ("urn:uuid:ra", no_subject),
        ("urn:uuid:oa", _crp("crp", "A-1", "urn:uuid:pa")),
    ) == [placed]
    assert _collected(  # one Patient entry, named relatively by one and absolutely by the other
        ("https://a.example/fhir/Patient/p1", _patient("p1", "MRN-A")),
        ("https://a.example/fhir/DiagnosticReport/r1", _report("Patient/p1", "Observation/1")),
        ("https://a.example/fhir/Observation/1",
         _crp("1", "A-1", "https://a.example/fhir/Patient/p1")),
    ) == [placed]  # fmt: skip
