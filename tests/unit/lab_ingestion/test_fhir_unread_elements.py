"""What a FHIR transaction/batch carries that lab-ingestion must not silently ignore.

- FHIR R4 (Extensibility, modifierExtension): "Implementations processing the data in
  resources SHALL check for modifier extensions [...] and SHALL refuse to process data if
  they do not understand them". The service checks the Observation's own (and its
  referenceRange's and component's), but not those of the Patient it matches the result
  by (a Bundle Patient entry, a contained Patient), nor of the Bundle entry or its request
  that carry the Observation: the result is stored as if they were not there.
- An Observation whose trial result sits in a ``component`` (a CBC sent as one panel
  Observation, neutrophils 0.3 x10^9/L in a component) is "ignored" (200, nothing stored)
  beside the transaction's CRP: a grade-4 neutropenia lost while the lab is told 200. It
  must be read, or refused (the lab told), never ignored as another test's result.
- Interpretation: the first coding's code is published as the abnormal flag whatever its
  system, so a local code system's ``N`` beside the HL7 ObservationInterpretation ``HH``
  publishes a critical result as normal. The flag must come from HL7's own code system
  (v3-ObservationInterpretation / v2-0078), as it does for a coding of no system.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from tests.unit.lab_ingestion.fhir_samples import crp_observation, lab_observation

UNKNOWN_MODIFIER = [
    {"url": "http://example.org/fhir/StructureDefinition/identity-unverified", "valueBoolean": True}
]
PATIENT_URL = "urn:uuid:6b1f3a2e-0c1d-4f7e-9a3b-5d2c1e0f9a11"
OBSERVATION_URL = "urn:uuid:6b1f3a2e-0c1d-4f7e-9a3b-5d2c1e0f9a12"
V3_FLAGS = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def parse(kind: str, entries: list[dict[str, Any]]) -> Any:
    return parse_bundle(
        {"resourceType": "Bundle", "type": kind, "entry": entries},
        "central-lab", "FHIR", lambda s: f"h({s})",
    )  # fmt: skip


def observation_entry(resource: dict[str, Any], **more: Any) -> dict[str, Any]:
    entry = {"fullUrl": OBSERVATION_URL, "resource": resource,
             "request": {"method": "POST", "url": "Observation"}}  # fmt: skip
    entry.update(more)
    return entry


def patient(**more: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1",
            "identifier": [{"system": "urn:hosp", "value": "MRN4711"}], **more}  # fmt: skip


def test_a_bundle_patient_with_a_modifier_extension_is_not_matched_on() -> None:
    entries = [
        {"fullUrl": PATIENT_URL, "resource": patient(modifierExtension=UNKNOWN_MODIFIER),
         "request": {"method": "POST", "url": "Patient"}},
        observation_entry(crp_observation(subject={"reference": PATIENT_URL})),
    ]  # fmt: skip
    with pytest.raises(FhirInputError) as refused:
        parse("transaction", entries)
    assert "modifierExtension" in str(refused.value)


def test_a_contained_patient_with_a_modifier_extension_is_not_matched_on() -> None:
    resource = crp_observation(
        contained=[patient(id="c1", modifierExtension=UNKNOWN_MODIFIER)],
        subject={"reference": "#c1"},
    )
    with pytest.raises(FhirInputError) as refused:
        parse_observation(resource, "central-lab", "FHIR", lambda s: f"h({s})")
    assert "modifierExtension" in str(refused.value)


@pytest.mark.parametrize("where", ["entry", "request"])
def test_a_bundle_entry_with_a_modifier_extension_is_refused(where: str) -> None:
    entry = observation_entry(crp_observation())
    if where == "entry":
        entry["modifierExtension"] = UNKNOWN_MODIFIER
    else:
        entry["request"]["modifierExtension"] = UNKNOWN_MODIFIER
    with pytest.raises(FhirInputError) as refused:
        parse("transaction", [entry])
    assert "modifierExtension" in str(refused.value)


def test_a_trial_result_in_a_component_is_never_ignored() -> None:
    cbc = lab_observation("CBC-1", "58410-2", component=[{
        "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
        "valueQuantity": {"value": 0.3, "unit": "10*9/L",
                          "system": "http://unitsofmeasure.org", "code": "10*9/L"},
    }])  # fmt: skip
    crp = crp_observation()
    entries = [observation_entry(cbc), {**observation_entry(crp), "fullUrl": PATIENT_URL}]
    try:
        parsed = parse("transaction", entries)
    except FhirInputError:
        return  # refused: the lab is told (correct)
    first = parsed.entries[0]
    assert not first.ignored, "a grade-4 neutrophil count answered 200 'ignored'"
    assert first.message is not None
    assert first.message.observations[0].value == "0.3"  # read, if not refused


def test_the_flag_published_is_hl7s_interpretation_not_a_local_code() -> None:
    resource = crp_observation(
        valueQuantity={"value": 250, "unit": "mg/L", "system": "http://unitsofmeasure.org",
                       "code": "mg/L"},
        interpretation=[{"coding": [
            {"system": "http://acme-lab.example.org/flags", "code": "N"},  # the LIS's own
            {"system": V3_FLAGS, "code": "HH"},  # critical high
        ]}],
    )  # fmt: skip
    message = parse_observation(resource, "central-lab", "FHIR", lambda s: f"h({s})")
    assert message.observations[0].abnormal_flag == "HH"


def only_issue(refused: pytest.ExceptionInfo[FhirInputError]) -> tuple[str, str | None]:
    (issue,) = refused.value.issues
    return issue.code, issue.expression


def test_a_bundle_with_implicit_rules_is_refused() -> None:
    with pytest.raises(FhirInputError) as refused:
        parse_bundle(
            {"resourceType": "Bundle", "type": "batch", "implicitRules": "http://acme.example/r",
             "entry": [observation_entry(crp_observation())]},
            "central-lab", "FHIR",
        )  # fmt: skip
    assert only_issue(refused) == ("not-supported", "Bundle.implicitRules")


def test_a_bundle_patient_with_implicit_rules_is_not_matched_on() -> None:
    entries = [
        {"fullUrl": PATIENT_URL, "resource": patient(implicitRules="http://acme.example/r")},
        observation_entry(crp_observation(subject={"reference": PATIENT_URL})),
    ]
    with pytest.raises(FhirInputError) as refused:
        parse("transaction", entries)
    assert ("not-supported", "Bundle.entry[0].resource.implicitRules") in [
        (i.code, i.expression) for i in refused.value.issues
    ]


def test_a_contained_patient_with_implicit_rules_is_not_matched_on() -> None:
    resource = crp_observation(
        contained=[patient(id="c1", implicitRules="http://acme.example/r")],
        subject={"reference": "#c1"},
    )
    with pytest.raises(FhirInputError) as refused:
        parse_observation(resource, "central-lab", "FHIR")
    assert only_issue(refused) == ("not-supported", "Observation.contained[0].implicitRules")


def test_in_a_batch_an_entry_modifier_fails_that_entry_alone() -> None:
    modified = observation_entry(crp_observation(), modifierExtension=UNKNOWN_MODIFIER)
    other = {**observation_entry(crp_observation(identifier=[{"system": "urn:lab",
             "value": "OBS-2"}])), "fullUrl": PATIENT_URL}  # fmt: skip
    first, second = parse("batch", [modified, other]).entries
    assert first.error is not None and second.message is not None
    assert first.error.issues[0].expression == "Bundle.entry[0].modifierExtension"


def test_an_entry_modifier_on_another_tests_observation_leaves_it_ignored() -> None:
    """Another test's Observation is ignored whatever it says: it never fails a transaction."""
    entry = observation_entry(lab_observation("NA-1", "2951-2"), modifierExtension=UNKNOWN_MODIFIER)
    (parsed,) = parse("transaction", [entry]).entries
    assert parsed.ignored


def test_a_component_of_a_trial_analyte_is_refused_saying_how_to_send_it() -> None:
    cbc = lab_observation("CBC-1", "58410-2", component=[
        {"code": {"coding": [{"system": "http://loinc.org", "code": "26464-8"}]}},  # WBC
        {"code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
         "valueQuantity": {"value": 0.3, "unit": "10*9/L"}},
    ])  # fmt: skip
    with pytest.raises(FhirInputError) as refused:
        parse_observation(cbc, "central-lab", "FHIR")
    assert only_issue(refused) == ("not-supported", "Observation.component[1].code")
    assert "send each as its own Observation" in str(refused.value)
    with pytest.raises(FhirInputError):
        parse("transaction", [observation_entry(cbc)])
    (entry,) = parse("batch", [observation_entry(cbc)]).entries
    assert entry.error is not None and not entry.ignored


def test_components_of_other_tests_and_members_leave_a_panel_ignored() -> None:
    """A blood pressure's components are no trial result; a panel's hasMember only names
    Observations, each read (or not) as its own entry."""
    pressure = lab_observation("BP-1", "85354-9", component=[
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": 120, "unit": "mm[Hg]"}},
    ])  # fmt: skip
    panel = lab_observation("CBC-2", "58410-2", hasMember=[{"reference": PATIENT_URL}])
    member = {**observation_entry(crp_observation()), "fullUrl": PATIENT_URL}
    first, second, third = parse(
        "transaction",
        [observation_entry(pressure), {**observation_entry(panel), "fullUrl": "urn:uuid:x"},
         member],
    ).entries  # fmt: skip
    assert first.ignored and second.ignored
    assert third.message is not None


def test_a_registered_panel_with_a_trial_component_is_ignored_as_pending() -> None:
    cbc = lab_observation("CBC-3", "58410-2", status="registered", component=[
        {"code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]}},
    ])  # fmt: skip
    (entry,) = parse("transaction", [observation_entry(cbc)]).entries
    assert entry.ignored


@pytest.mark.parametrize(
    ("codings", "flag"),
    [
        ([{"code": "H"}], "H"),
        ([{"system": "http://acme-lab.example.org/flags", "code": "N"},
          {"system": "http://terminology.hl7.org/CodeSystem/v2-0078", "code": "LL"}], "LL"),
        ([{"system": "http://acme-lab.example.org/flags", "code": "N"}], None),
    ],
    ids=["no-system", "v2-0078", "local-only"],
)  # fmt: skip
def test_the_flag_is_of_hl7s_systems_or_of_none(
    codings: list[dict[str, str]], flag: str | None
) -> None:
    resource = crp_observation(interpretation=[{"coding": codings}])
    (result,) = parse_observation(resource, "central-lab", "FHIR").observations
    assert result.abnormal_flag == flag
    # a local system's code is no flag (its N is not HL7's); its off-scale one is read too:
    # test_values_read_strictly
    assert result.flags == ((flag,) if flag else ())


def test_in_a_batch_a_modified_patient_matches_no_observation() -> None:
    """The refused Patient entry resolves its reference to no numbers: the Observation naming
    it is never matched by the identifier beside the reference."""
    entries = [
        {"fullUrl": PATIENT_URL, "resource": patient(modifierExtension=UNKNOWN_MODIFIER)},
        observation_entry(crp_observation(subject={"reference": PATIENT_URL})),
        {**observation_entry(crp_observation(subject={
            "reference": PATIENT_URL, "identifier": {"system": "urn:hosp", "value": "MRN4711"},
        })), "fullUrl": "urn:uuid:6b1f3a2e-0c1d-4f7e-9a3b-5d2c1e0f9a13"},
    ]  # fmt: skip
    refused_patient, named_only, named_both = parse("batch", entries).entries
    assert refused_patient.error is not None
    assert named_only.message is not None and named_only.message.identifier_candidates == ()
    assert named_both.error is not None  # the identifier is not the refused Patient's
