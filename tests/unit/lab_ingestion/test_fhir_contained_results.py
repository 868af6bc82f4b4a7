"""A trial result contained in a DiagnosticReport or in another Observation is never
silently lost (review 157).

FHIR lets a report carry its results as contained resources (``DiagnosticReport.contained``
with ``result: [{"reference": "#anc"}]``) and a panel its members (``Observation.contained``
with ``hasMember``). Only a Bundle's Observation entries were read: a DiagnosticReport
carrying a grade-4 neutrophil count was answered 200 "read as the report's context only",
and a panel holding it 200 "ignored" (posted alone, 422 "holds no result of a trial
analyte", untrue). Such an Observation is refused (400 ``not-supported``, kept) at
``contained[i]``, as a trial result in a component is: send each result as its own
Observation. Contained Observations of other tests are ignored, as other tests are; one in a
Patient's contained resources is no result and is not looked at.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.entrypoints.fhir_responses import CONTEXT_TEXT, batch_response
from tests.unit.lab_ingestion.fhir_samples import crp_observation, lab_observation, quantity

PATIENT = {"resourceType": "Patient", "id": "p1",
           "identifier": [{"system": "urn:hosp", "value": "MRN4711"}]}  # fmt: skip
ANC_CODE = {"coding": [{"system": "http://loinc.org", "code": "751-8"}]}
LL = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                   "code": "LL"}]}]  # fmt: skip


def anc(**more: Any) -> dict[str, Any]:
    """A contained neutrophil count of 0.3 x10^9/L, flagged critical."""
    return {"id": "anc", **lab_observation("ANC-1", "751-8", **quantity(0.3, "10*9/L")),
            "interpretation": LL, **more}  # fmt: skip


def sodium(**more: Any) -> dict[str, Any]:
    return {"id": "na", **lab_observation("NA-1", "2951-2", **quantity(140, "mmol/L")), **more}


def report(*contained: dict[str, Any], listed: bool = True, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport", "id": "r1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
        "subject": {"reference": "urn:uuid:pat"},
        "contained": list(contained),
        **({"result": [{"reference": f"#{c['id']}"} for c in contained]} if listed else {}),
        **more,
    }  # fmt: skip


def panel(*contained: dict[str, Any], **more: Any) -> dict[str, Any]:
    return lab_observation("PANEL-9", "58410-2", contained=list(contained),
                           hasMember=[{"reference": f"#{c['id']}"} for c in contained],
                           **more)  # fmt: skip


def bundle(kind: str, *resources: dict[str, Any]) -> Any:
    entries = [{"fullUrl": "urn:uuid:pat", "resource": PATIENT}] + [
        {"fullUrl": f"urn:uuid:{i}", "resource": r,
         "request": {"method": "POST", "url": r["resourceType"]}}
        for i, r in enumerate(resources, start=1)
    ]  # fmt: skip
    return parse_bundle({"resourceType": "Bundle", "type": kind, "entry": entries},
                        "central-lab", "FHIR", lambda s: f"h({s})")  # fmt: skip


def issues(error: FhirInputError) -> list[tuple[str, str | None]]:
    return [(i.code, i.expression) for i in error.issues]


@pytest.mark.parametrize("listed", [True, False], ids=["in-result", "not-listed"])
def test_a_report_containing_a_trial_result_fails_a_transaction(listed: bool) -> None:
    with pytest.raises(FhirInputError) as refused:
        bundle("transaction", report(anc(), listed=listed), crp_observation())
    assert issues(refused.value) == [("not-supported", "Bundle.entry[1].resource.contained[0]")]
    assert "its own Observation" in str(refused.value)


def test_in_a_batch_only_the_report_containing_a_trial_result_is_refused() -> None:
    _, rep, crp = bundle("batch", report(sodium(), anc()), crp_observation()).entries
    assert rep.error is not None and not rep.ignored
    assert issues(rep.error) == [("not-supported", "Bundle.entry[1].resource.contained[1]")]
    assert crp.message is not None


def test_a_void_report_containing_a_trial_result_still_voids_its_listed_entries() -> None:
    """Refused for what it contains, the report is still read: the results it lists stay
    refused (its void status) rather than stored."""
    voided = report(anc(), status="entered-in-error")
    voided["result"] += [{"reference": "urn:uuid:2"}]
    _, rep, crp = bundle("batch", voided, crp_observation()).entries
    assert rep.error is not None and crp.error is not None
    assert crp.message is None


@pytest.mark.parametrize("status", ["final", "registered", "cancelled"])
def test_a_panel_containing_a_trial_result_is_refused_alone_and_in_bundles(status: str) -> None:
    """Whatever the panel's own status: the contained result has its own."""
    resource = panel(anc(), status=status)
    with pytest.raises(FhirInputError) as refused:
        parse_observation(resource, "central-lab", "FHIR")
    assert issues(refused.value) == [("not-supported", "Observation.contained[0]")]
    assert "its own Observation" in str(refused.value)
    with pytest.raises(FhirInputError):
        bundle("transaction", resource, crp_observation())
    _, entry, crp = bundle("batch", resource, crp_observation()).entries
    assert entry.error is not None and not entry.ignored
    assert issues(entry.error) == [("not-supported", "Bundle.entry[1].resource.contained[0]")]
    assert crp.message is not None


@pytest.mark.parametrize(
    "inner",
    [
        anc(status="cancelled"),  # a withdrawal is no less lost
        anc(code={"coding": [{"system": "https://loinc.org", "code": "751-8"}]}),  # misspelt
        {**sodium(), "component": [{**quantity(0.3, "10*9/L"), "code": ANC_CODE}]},
    ],
    ids=["cancelled", "misspelt-system", "in-its-component"],
)
def test_any_contained_observation_that_would_be_a_trial_result_is_refused(
    inner: dict[str, Any],
) -> None:
    with pytest.raises(FhirInputError) as refused:
        bundle("transaction", report(inner))
    assert issues(refused.value) == [("not-supported", "Bundle.entry[1].resource.contained[0]")]


def test_a_trial_result_in_a_contained_panel_is_found_where_it_is() -> None:
    inner_panel = {**panel(anc()), "id": "cbc"}
    with pytest.raises(FhirInputError) as refused:
        bundle("transaction", report(sodium(), inner_panel))
    assert issues(refused.value) == [
        ("not-supported", "Bundle.entry[1].resource.contained[1].contained[0]")
    ]


def test_a_trial_observation_containing_a_trial_result_is_refused() -> None:
    with pytest.raises(FhirInputError) as refused:
        parse_observation(crp_observation(contained=[anc()]), "central-lab", "FHIR")
    assert issues(refused.value) == [("not-supported", "Observation.contained[0]")]


def test_contained_observations_of_other_tests_are_ignored_and_said_so() -> None:
    _, rep, pan, crp = bundle("batch", report(sodium()), panel(sodium()), crp_observation()).entries
    assert rep.error is None and rep.context == "DiagnosticReport" and rep.ignored
    assert pan.ignored and pan.error is None
    assert crp.message is not None
    texts = [
        e["response"]["outcome"]["issue"][0]["diagnostics"]
        for e in _answer(bundle("batch", report(sodium()), panel(sodium())))["entry"]
    ]
    assert "contained Observations" in texts[1] and "ignored" in texts[1]
    assert "ignored" in texts[2]
    # alone, the panel is the whole message: no trial result (422 unknown-analyte, later)
    message = parse_observation(panel(sodium()), "central-lab", "FHIR")
    assert [c.code for c in message.observations[0].codes] == ["58410-2"]


def test_a_pending_contained_result_is_ignored_as_a_pending_one_is() -> None:
    (_, rep) = bundle("transaction", report(anc(status="registered"))).entries
    assert rep.error is None and rep.context == "DiagnosticReport"


def test_a_report_without_contained_observations_answers_as_before() -> None:
    plain = report()
    del plain["contained"]
    _, rep = bundle("batch", plain).entries
    assert rep.error is None and not rep.ignored
    text = _answer(bundle("batch", plain))["entry"][1]["response"]["outcome"]["issue"][0]
    assert text["diagnostics"] == CONTEXT_TEXT.format("DiagnosticReport")


def test_an_observation_contained_in_a_bundle_patient_is_no_result() -> None:
    patient = {**PATIENT, "contained": [anc()]}
    entries = [
        {"fullUrl": "urn:uuid:pat", "resource": patient},
        {"fullUrl": "urn:uuid:1", "request": {"method": "POST", "url": "Observation"},
         "resource": crp_observation(subject={"reference": "urn:uuid:pat"})},
    ]  # fmt: skip
    parsed = parse_bundle({"resourceType": "Bundle", "type": "transaction", "entry": entries},
                          "central-lab", "FHIR", lambda s: f"h({s})")  # fmt: skip
    assert parsed.entries[0].is_patient and parsed.entries[1].message is not None


def _answer(parsed: Any) -> dict[str, Any]:
    outcomes = [None] * len(parsed.entries)
    body: dict[str, Any] = json.loads(batch_response(parsed, outcomes).text or "")
    return body
