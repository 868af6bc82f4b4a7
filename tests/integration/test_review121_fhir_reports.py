"""Review 121 through the real endpoints (PostgreSQL, broker): CRP in moles (76485-2) on
FHIR and HL7; a trial LOINC code under a misspelt system refused, not ignored, in a Bundle;
the standard lab-report transaction (Patient, DiagnosticReport, Specimen, Observations)
stored, the report's printed form never kept; a void report's results refused; the
Specimen's collection time read, and refused when effective[x] contradicts it."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from tests.integration.lab_fixtures import MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


def _obs(
    ident: str | None,
    loinc: str = "1988-5",
    value: Any = 20,
    unit: str = "mg/L",
    system: str = "http://loinc.org",
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": system, "code": loinc}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
    }  # fmt: skip
    if ident:
        resource["identifier"] = [{"system": "urn:lab", "value": ident}]
    resource.update(extra)
    return resource


def _bundle(kind: str, *entries: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [
        {"fullUrl": url, "resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
        for url, r in entries
    ]}  # fmt: skip


async def _count(lab: Lab, table: str) -> int:
    return int(await lab.pool.fetchval(f"SELECT count(*) FROM {table}"))


async def test_crp_in_moles_is_stored_as_crp_over_fhir_and_hl7(lab: Lab) -> None:
    status, _ = await lab.post_fhir("/fhir/Observation", _obs("M-1", "76485-2", 95.24, "nmol/L"))
    assert status == 201
    status, body = await lab.post_fhir("/fhir", _bundle(
        "transaction", ("urn:uuid:hb", _obs("M-2", "718-7", 12, "g/dL")),
        ("urn:uuid:crp", _obs("M-3", "76485-2", 190.48, "nmol/L")),
    ))  # fmt: skip
    assert status == 200, body
    client = await lab.mllp()
    try:
        ack = await client.exchange(oru("R121-M", [obx("76485-2", "285.72", "nmol/L")]))
    finally:
        await client.close()
    assert msa(ack)[1] == "AA", ack
    rows = await lab.pool.fetch("SELECT loinc, value FROM results WHERE analyte = 'crp'")
    assert sorted((r["loinc"], round(r["value"], 1)) for r in rows) == [
        ("76485-2", 10.0), ("76485-2", 20.0), ("76485-2", 30.0)
    ]  # fmt: skip


async def test_a_trial_code_under_a_misspelt_system_is_refused_in_a_batch(lab: Lab) -> None:
    status, body = await lab.post_fhir("/fhir", _bundle(
        "batch", ("urn:uuid:hb", _obs("S-1", "718-7", 12, "g/dL")),
        ("urn:uuid:crp", _obs("S-2", system="https://loinc.org")),
    ))  # fmt: skip
    assert status == 200, body
    assert [e["response"]["status"][:3] for e in body["entry"]] == ["201", "422"]
    (reason,) = [r["reason"] for r in await lab.pool.fetch("SELECT reason FROM rejections")]
    assert "http://loinc.org" in reason


def _report(status: str, pdf: str) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport", "id": "r1", "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
        "subject": {"reference": "urn:uuid:pat"},
        "result": [{"reference": "urn:uuid:crp"}, {"reference": "urn:uuid:hb"}],
        "specimen": [{"reference": "urn:uuid:sp"}],
        "conclusion": "CRP raised: SMITH JOHN to see Dr Who",
        "presentedForm": [{"contentType": "application/pdf", "data": pdf}],
    }  # fmt: skip


PATIENT = {"resourceType": "Patient", "id": "p1",
           "identifier": [{"system": "urn:hosp", "value": MRN}]}  # fmt: skip
SPECIMEN = {"resourceType": "Specimen", "id": "sp1", "status": "available",
            "collection": {"collectedDateTime": "2026-11-20T07:30:00+01:00"}}  # fmt: skip


def _report_bundle(kind: str, report_status: str, pdf: str, **crp: Any) -> dict[str, Any]:
    subject = {"subject": {"reference": "urn:uuid:pat"}, "specimen": {"reference": "urn:uuid:sp"}}
    crp_obs = {**_obs(None), **subject}
    crp_obs.pop("effectiveDateTime")  # the specimen's collection time alone, unless given
    crp_obs.update(crp)
    return _bundle(
        kind, ("urn:uuid:pat", PATIENT), ("urn:uuid:rep", _report(report_status, pdf)),
        ("urn:uuid:sp", copy.deepcopy(SPECIMEN)), ("urn:uuid:crp", crp_obs),
        ("urn:uuid:hb", {**_obs("HB-1", "718-7", 12, "g/dL"), "subject": subject["subject"]}),
        ("urn:uuid:org", {"resourceType": "Organization", "id": "o1", "name": "Lab AG"}),
    )  # fmt: skip


async def test_the_lab_report_transaction_is_stored_with_the_specimens_time(lab: Lab) -> None:
    pdf = base64.b64encode(b"%PDF-1.4 report of SMITH JOHN").decode()
    status, body = await lab.post_fhir("/fhir", _report_bundle("transaction", "final", pdf))
    assert status == 200, body
    rows = await lab.pool.fetch("SELECT analyte, collected_at FROM results ORDER BY analyte")
    assert [r["analyte"] for r in rows] == ["crp", "haemoglobin"]
    assert rows[0]["collected_at"].isoformat() == "2026-11-20T06:30:00+00:00"  # the specimen's
    assert await _count(lab, "rejections") == 0


async def test_a_void_report_refuses_its_results_and_keeps_no_printed_form(lab: Lab) -> None:
    pdf = base64.b64encode(b"%PDF-1.4 report of SMITH JOHN").decode()
    status, body = await lab.post_fhir(
        "/fhir", _report_bundle("transaction", "entered-in-error", pdf)
    )
    assert 400 <= status < 500, body
    assert await _count(lab, "results") == 0
    kept = "\n".join(r["payload"] for r in await lab.pool.fetch("SELECT payload FROM rejections"))
    assert kept and pdf not in kept and "presentedForm" not in kept and "SMITH" not in kept


async def test_a_specimen_time_contradicting_effective_is_refused(lab: Lab) -> None:
    pdf = base64.b64encode(b"%PDF").decode()
    bundle = _report_bundle(
        "batch", "final", pdf, identifier=[{"system": "urn:lab", "value": "T-1"}],
        effectiveDateTime="2026-11-20T12:00:00+01:00",
    )  # fmt: skip
    status, body = await lab.post_fhir("/fhir", bundle)
    assert status == 200, body
    crp = body["entry"][3]["response"]
    assert crp["status"].startswith("422"), crp
    (issue,) = crp["outcome"]["issue"]
    assert "implausible-time" in issue["diagnostics"]
    assert "Specimen.collection.collectedDateTime" in issue["diagnostics"]
    assert [r["analyte"] for r in await lab.pool.fetch("SELECT analyte FROM results")] == [
        "haemoglobin"
    ]
