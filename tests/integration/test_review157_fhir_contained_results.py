"""Review 157 through the real endpoints (PostgreSQL, broker): a trial result contained in a
DiagnosticReport (``result: [{"reference": "#anc"}]``) or in a panel Observation
(``hasMember``) was answered 200 and neither stored nor refused; alone on
/fhir/Observation the panel was 422 "holds no result of a trial analyte". Each is refused
400 ``not-supported`` at ``contained[i]`` and kept (a batch that entry only, a transaction
whole), as a trial result in a component is; other tests' contained Observations are
ignored, and the answer says so."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.lab_fixtures import MRN
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
SUBJECT = {"identifier": {"system": "urn:hosp", "value": MRN}}
PATIENT = {"resourceType": "Patient", "id": "p1",
           "identifier": [{"system": "urn:hosp", "value": MRN}]}  # fmt: skip


def _obs(ident: str, loinc: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab", "value": ident}],
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": SUBJECT, "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        **extra,
    }  # fmt: skip


def _anc() -> dict[str, Any]:
    """A grade-4 neutrophil count, flagged critical."""
    return {"id": "anc", **_obs("C-ANC", "751-8", 0.3, "10*9/L"),
            "interpretation": [{"coding": [{"system": V3, "code": "LL"}]}]}  # fmt: skip


def _sodium() -> dict[str, Any]:
    return {"id": "na", **_obs("C-NA", "2951-2", 140, "mmol/L")}


def _report(inner: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport", "id": "r1", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "58410-2"}]},
        "subject": {"reference": "urn:uuid:pat"}, "contained": [inner],
        "result": [{"reference": f"#{inner['id']}"}],
    }  # fmt: skip


def _panel(inner: dict[str, Any]) -> dict[str, Any]:
    panel = _obs("PANEL-9", "58410-2", 0, "1", contained=[inner],
                 hasMember=[{"reference": f"#{inner['id']}"}])  # fmt: skip
    del panel["valueQuantity"]
    return panel


def _bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    entries = [("urn:uuid:pat", PATIENT)] + [(f"urn:uuid:{i}", r) for i, r in enumerate(resources)]
    return {"resourceType": "Bundle", "type": kind, "entry": [
        {"fullUrl": url, "resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
        for url, r in entries
    ]}  # fmt: skip


async def _rows(lab: Lab) -> tuple[list[str], list[tuple[str, str]]]:
    results = await lab.pool.fetch("SELECT analyte FROM results ORDER BY analyte")
    rejections = await lab.pool.fetch("SELECT reason_code, reason FROM rejections")
    return [r["analyte"] for r in results], [(r["reason_code"], r["reason"]) for r in rejections]


@pytest.mark.parametrize("holder", [_report, _panel], ids=["report", "panel"])
async def test_a_contained_trial_result_fails_a_transaction_and_is_kept(
    lab: Lab, holder: Any
) -> None:
    crp = _obs("C-CRP", "1988-5", 80, "mg/L")
    status, body = await lab.post_fhir("/fhir", _bundle("transaction", holder(_anc()), crp))
    assert status == 400, body
    (issue,) = body["issue"]
    assert issue["code"] == "not-supported"
    assert issue["expression"] == ["Bundle.entry[1].resource.contained[0]"]
    assert "its own Observation" in issue["diagnostics"]
    results, rejections = await _rows(lab)
    assert results == []
    ((code, reason),) = rejections
    assert code == "unsupported-message-type" and "contained[0]" in reason


@pytest.mark.parametrize("holder", [_report, _panel], ids=["report", "panel"])
async def test_in_a_batch_only_the_entry_holding_it_is_refused(lab: Lab, holder: Any) -> None:
    crp = _obs("C-CRP", "1988-5", 80, "mg/L")
    status, body = await lab.post_fhir("/fhir", _bundle("batch", holder(_anc()), crp))
    assert status == 200, body
    answers = [e["response"] for e in body["entry"]]
    assert [a["status"][:3] for a in answers] == ["200", "400", "201"]
    assert answers[1]["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[1].resource.contained[0]"
    ]
    results, rejections = await _rows(lab)
    assert results == ["crp"]
    assert [code for code, _ in rejections] == ["unsupported-message-type"]


async def test_a_panel_posted_alone_is_refused_for_its_contained_result(lab: Lab) -> None:
    status, body = await lab.post_fhir("/fhir/Observation", _panel(_anc()))
    assert status == 400, body
    (issue,) = body["issue"]
    assert (issue["code"], issue["expression"]) == ("not-supported", ["Observation.contained[0]"])
    results, rejections = await _rows(lab)
    assert results == [] and [code for code, _ in rejections] == ["unsupported-message-type"]


async def test_a_report_posted_to_observation_is_refused_as_another_type(lab: Lab) -> None:
    status, body = await lab.post_fhir("/fhir/Observation", _report(_anc()))
    assert status == 400, body
    assert body["issue"][0]["expression"] == ["Observation.resourceType"]
    assert len((await _rows(lab))[1]) == 1


async def test_other_tests_contained_observations_are_ignored_and_said_so(lab: Lab) -> None:
    crp = _obs("C-CRP", "1988-5", 80, "mg/L")
    status, body = await lab.post_fhir(
        "/fhir", _bundle("transaction", _report(_sodium()), _panel(_sodium()), crp)
    )
    assert status == 200, body
    answers = [e["response"] for e in body["entry"]]
    assert [a["status"][:3] for a in answers] == ["200", "200", "200", "201"]
    texts = [a["outcome"]["issue"][0]["diagnostics"] for a in answers]
    assert "contained Observations" in texts[1] and "ignored" in texts[1]
    assert "ignored" in texts[2]
    assert await _rows(lab) == (["crp"], [])


async def test_an_observation_contained_in_the_patient_is_no_result(lab: Lab) -> None:
    crp = _obs("C-CRP", "1988-5", 80, "mg/L", subject={"reference": "urn:uuid:pat"})
    body = _bundle("transaction", crp)
    body["entry"][0]["resource"] = {**PATIENT, "contained": [_anc()]}
    status, answer = await lab.post_fhir("/fhir", body)
    assert status == 200, answer
    assert await _rows(lab) == (["crp"], [])
