"""FHIR R4 Observation/Bundle parsing, OperationOutcome and redaction (lab-ingestion)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError, Issue, operation_outcome
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.domain.model import Coding, LabMessage, RejectionCode
from shared.contracts.events.lab import Channel

MRN = "MRN-4711-0815"
MRN_SYSTEM = "urn:oid:1.2.276.0.76.4.8"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
PATIENT_UUID = "urn:uuid:7f1d8c9e-3b7a-4c1e-9f52-2a6b0c4d5e61"

CRP_OBSERVATION_JSON = """
{
  "resourceType": "Observation",
  "id": "crp-20261120-1",
  "identifier": [{"system": "urn:oid:1.2.276.0.76.3.1.99.1", "value": "LIS-R-000123"}],
  "status": "final",
  "category": [{"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
    "code": "laboratory"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5",
    "display": "C reactive protein [Mass/volume] in Serum or Plasma"}]},
  "subject": {"identifier": {"system": "urn:oid:1.2.276.0.76.4.8", "value": "MRN-4711-0815"},
              "display": "Doe, Jane"},
  "effectiveDateTime": "2026-11-20T08:00:00+01:00",
  "issued": "2026-11-20T10:15:00.000+01:00",
  "valueQuantity": {"value": 1.50, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                    "code": "mg/dL"},
  "interpretation": [{"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    "code": "H"}]}],
  "referenceRange": [{"high": {"value": 0.5, "unit": "mg/dL",
    "system": "http://unitsofmeasure.org", "code": "mg/dL"}}]
}
"""

LOINC_CRP = {"system": "http://loinc.org", "code": "1988-5"}


def crp() -> dict[str, Any]:
    """The CRP Observation decoded as the HTTP entrypoint does (decimals kept exact)."""
    decoded: dict[str, Any] = json.loads(CRP_OBSERVATION_JSON, parse_float=Decimal)
    return decoded


def hash_identifier(value: str) -> str:
    return hmac.new(b"test-key", value.encode(), hashlib.sha256).hexdigest()


def patient_resource() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "pat-1",
        "identifier": [
            {
                "type": {"coding": [{"code": "MR"}]},
                "system": MRN_SYSTEM,
                "value": MRN,
            }
        ],
        "name": [{"use": "official", "family": "Doe", "given": ["Jane", "Mary"]}],
        "gender": "female",
        "birthDate": "1957-03-14",
        "address": [{"line": ["12 Elm Street"], "city": "Springfield", "postalCode": "12345"}],
        "telecom": [{"system": "phone", "value": "+49 30 1234567"}],
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Jane Doe, 1957-03-14</div>',
        },
    }


def observation(**changes: Any) -> dict[str, Any]:
    resource = crp()
    for key, value in changes.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    return resource


def transaction(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def parse(resource: dict[str, Any]) -> LabMessage:
    return parse_observation(resource, "LIS", "HOSP")


def messages_of(bundle: dict[str, Any]) -> list[LabMessage]:
    return list(parse_bundle(bundle, "LIS", "HOSP").messages)


def only_issue(exc: pytest.ExceptionInfo[FhirInputError]) -> Issue:
    assert len(exc.value.issues) == 1, exc.value.issues
    return exc.value.issues[0]


# --- Observation ---------------------------------------------------------------------------


def test_crp_in_mg_dl_maps_every_field() -> None:
    message = parse(crp())

    assert message.channel is Channel.FHIR
    assert (message.source_application, message.source_facility) == ("LIS", "HOSP")
    assert message.patient_identifier == MRN
    (obs,) = message.observations
    assert obs.result_key == "urn:oid:1.2.276.0.76.3.1.99.1|LIS-R-000123"
    assert obs.codes == (
        Coding("1988-5", LOINC, "C reactive protein [Mass/volume] in Serum or Plasma"),
    )
    assert obs.value == "1.50"  # the decimal as sent, trailing zero kept
    assert obs.unit == ("mg/dL",)
    assert obs.reference_range == "<0.5 mg/dL"  # with its own unit
    assert obs.abnormal_flag == "H"
    assert obs.status == "F"
    cet = timezone(timedelta(hours=1))
    assert obs.collected_at == datetime(2026, 11, 20, 8, 0, tzinfo=cet)
    assert obs.collected_at is not None and obs.collected_at.utcoffset() is not None
    assert obs.reported_at == datetime(2026, 11, 20, 9, 15, tzinfo=UTC)


def test_float_decoded_value_and_distinct_ucum_code_and_local_unit() -> None:
    quantity = {"value": 12, "unit": "mg/l", "system": UCUM, "code": "mg/L"}
    resource = json.loads(CRP_OBSERVATION_JSON) | {"valueQuantity": quantity}
    (obs,) = parse(resource).observations
    assert obs.value == "12"
    assert obs.unit == ("mg/L", "mg/l")


def test_an_observation_identifier_built_from_the_patients_number_is_masked_in_its_key() -> None:
    identifier = [{"system": "urn:lab", "value": "MRN-4711-0815-CRP-1"}]
    message = parse_observation(observation(identifier=identifier), "LIS", "HOSP", hash_identifier)
    masked = f"urn:lab|#{hash_identifier('MRN-4711-0815')[:12]}-CRP-1"
    assert message.observations[0].result_key == masked


@pytest.mark.parametrize("system", [UCUM, UCUM + "/"])
def test_an_unknown_ucum_code_goes_alone_so_its_display_cannot_stand_in(system: str) -> None:
    # 10*6/L shown as 10^9/L: read by the display, 40 platelets per nL would be a guess
    quantity = {"value": 40, "unit": "10^9/L", "system": system, "code": "10*6/L"}
    (obs,) = parse(observation(valueQuantity=quantity)).observations
    assert obs.unit == ("10*6/L",)


def test_a_local_code_keeps_its_display_as_a_candidate() -> None:
    """A laboratory's own code system says nothing this service reads: the display is the
    unit as the laboratory writes it (as a text component of OBX-6 is)."""
    quantity = {"value": 40, "unit": "10^9/L", "system": "urn:lab:units", "code": "PLTU"}
    (obs,) = parse(observation(valueQuantity=quantity)).observations
    assert obs.unit == ("PLTU", "10^9/L")


def test_quantity_comparator_is_kept_so_the_value_is_not_taken_as_exact() -> None:
    quantity = {"value": Decimal("0.3"), "comparator": "<", "unit": "mg/L", "code": "mg/L"}
    (obs,) = parse(observation(valueQuantity=quantity)).observations
    assert obs.value == "<0.3"


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("1E-2"), "0.01"), (Decimal("2.0E+2"), "200"), (Decimal("1E+100000"), "1E+100000")],
)
def test_decimal_text_is_plain_and_bounded(value: Decimal, text: str) -> None:
    (obs,) = parse(observation(valueQuantity={"value": value, "code": "mg/L"})).observations
    assert obs.value == text


def test_value_string_has_no_unit() -> None:
    (obs,) = parse(observation(valueQuantity=None, valueString="haemolysed")).observations
    assert (obs.value, obs.unit) == ("haemolysed", ())


def test_value_integer() -> None:
    (obs,) = parse(observation(valueQuantity=None, valueInteger=250)).observations
    assert obs.value == "250"


@pytest.mark.parametrize(
    ("reference_range", "expected"),
    [
        ({"low": {"value": Decimal("3.5")}, "high": {"value": Decimal("5.0")}}, "3.5-5.0"),
        ({"low": {"value": 60}}, ">60"),
        ({"high": {"value": 5}}, "<5"),
        ({"low": {"value": 0.5}, "text": "0.5 or more"}, ">0.5"),
        ({"text": "see report"}, "see report"),
        # a range's own unit goes with it: converted as that unit, never as the value's
        (
            {"low": {"value": 12, "unit": "g/dL"}, "high": {"value": 16, "code": "g/dL"}},
            "12-16 g/dL",
        ),
        ({"high": {"value": 5, "code": "mg/L", "unit": "milligram per litre"}}, "<5 mg/L"),
        ({"low": {"value": 12, "unit": "g/dL"}, "high": {"value": 160, "unit": "g/L"}}, None),
    ],
)
def test_reference_range(reference_range: dict[str, Any], expected: str | None) -> None:
    resource = observation(referenceRange=[reference_range])
    assert parse(resource).observations[0].reference_range == expected


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("final", "F"),
        ("amended", "C"),
        ("corrected", "C"),
        ("preliminary", "P"),
        ("registered", "I"),  # no result yet: left out, as HL7's I (results pending)
        ("cancelled", "X"),
        ("entered-in-error", "D"),
        ("unknown", "unknown"),  # kept raw: the caller rejects it as an unknown status
    ],
)
def test_status_maps_to_obx11(status: str, code: str) -> None:
    assert parse(observation(status=status)).observations[0].status == code


@pytest.mark.parametrize("status", ["d", "F", "c", "x", "Final", "p"])
def test_a_status_outside_r4s_value_set_is_invalid_never_an_hl7_code(status: str) -> None:
    """ "d" read as HL7's D withdrew the published result; FHIR's codes are exact."""
    with pytest.raises(FhirInputError) as error:
        parse(observation(status=status))
    (issue,) = error.value.issues
    assert (issue.code, issue.expression) == ("code-invalid", "Observation.status")


INVALIDATED = {"url": "http://example.org/fhir/result-invalidated", "valueBoolean": True}


@pytest.mark.parametrize(
    ("changes", "expression"),
    [
        ({"modifierExtension": [INVALIDATED]}, "Observation.modifierExtension"),
        ({"implicitRules": "http://example.org/rules"}, "Observation.implicitRules"),
        (
            {"referenceRange": [{"high": {"value": 5, "code": "mg/L"},
                                 "modifierExtension": [INVALIDATED]}]},
            "Observation.referenceRange[0].modifierExtension",
        ),
        (
            {"dataAbsentReason": {"coding": [{"code": "error"}]}},
            "Observation.dataAbsentReason",
        ),
    ],
    ids=["modifier-extension", "implicit-rules", "nested-modifier", "data-absent-with-value"],
)  # fmt: skip
def test_what_may_change_the_meaning_of_a_result_is_refused(
    changes: dict[str, Any], expression: str
) -> None:
    with pytest.raises(FhirInputError) as info:
        parse(observation(**changes))
    assert only_issue(info).expression == expression


def test_amended_observation_keeps_the_result_key_of_the_original() -> None:
    original = parse(crp()).observations[0]
    amended = parse(observation(status="amended", valueQuantity={"value": 2.1, "code": "mg/dL"}))
    assert amended.observations[0].result_key == original.result_key
    assert amended.observations[0].status == "C"


def test_entered_in_error_without_value() -> None:
    resource = observation(status="entered-in-error", valueQuantity=None)
    (obs,) = parse(resource).observations
    assert (obs.status, obs.value, obs.unit) == ("D", "", ())


@pytest.mark.parametrize("effective", ["2026-11-20", "2026-11", "2026"])
def test_date_only_effective_cannot_place_the_result(effective: str) -> None:
    (obs,) = parse(observation(effectiveDateTime=effective)).observations
    assert obs.collected_at is None


def test_effective_period_start_and_instant() -> None:
    period = {"start": "2026-11-20T07:55:00Z", "end": "2026-11-20T08:05:00Z"}
    by_period = parse(observation(effectiveDateTime=None, effectivePeriod=period))
    by_instant = parse(observation(effectiveDateTime=None, effectiveInstant="2026-11-20T07:55:00Z"))
    expected = datetime(2026, 11, 20, 7, 55, tzinfo=UTC)
    assert by_period.observations[0].collected_at == expected
    assert by_instant.observations[0].collected_at == expected


def test_datetime_with_time_but_no_offset_is_invalid_fhir() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(observation(effectiveDateTime="2026-11-20T08:00:00"))
    assert only_issue(exc).expression == "Observation.effectiveDateTime"


def test_missing_effective_gives_no_collection_time() -> None:
    assert parse(observation(effectiveDateTime=None)).observations[0].collected_at is None


def test_invalid_value_names_the_element_without_echoing_it() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(observation(valueQuantity={"value": "twelve", "code": "mg/L"}))
    issue = only_issue(exc)
    assert issue == Issue("error", "invalid", issue.diagnostics, "Observation.valueQuantity.value")
    assert "twelve" not in issue.diagnostics
    assert isinstance(exc.value, ValueError)


def test_unknown_element_is_a_structure_issue() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(observation(patientName="Jane Doe"))
    issue = only_issue(exc)
    assert (issue.code, issue.expression) == ("structure", "Observation.<unknown element>")
    assert "Jane" not in str(exc.value)


def test_the_name_of_an_unknown_element_is_never_echoed() -> None:
    subject = {"identifier": {"value": MRN}, "Jane Roe": "1957-03-14"}
    with pytest.raises(FhirInputError) as exc:
        parse(observation(subject=subject))
    issue = only_issue(exc)
    assert issue.expression == "Observation.subject.<unknown element>"
    assert issue.diagnostics == "Extra inputs are not permitted"
    assert "Jane" not in str(exc.value) and "Roe" not in str(exc.value)


def test_missing_code_is_required() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(observation(code=None))
    assert only_issue(exc)[1:] == ("required", "Field required", "Observation.code")


def test_missing_status_is_reported() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(observation(status=None))
    assert only_issue(exc).expression == "Observation.status"


def test_wrong_resource_type() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(patient_resource())
    assert only_issue(exc).expression == "Observation.resourceType"


def test_unknown_contained_resource_type_is_an_input_error() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(observation(contained=[{"resourceType": "NoSuchThing", "id": "x"}]))
    assert only_issue(exc).code == "structure"


@pytest.mark.parametrize("effective", [None, "2026-11-20"], ids=["none", "date-only"])
def test_observation_without_identifier_or_collection_time_cannot_be_tracked(
    effective: str | None,
) -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(observation(identifier=None, effectiveDateTime=effective))
    assert only_issue(exc).code == "required"
    assert exc.value.rejection is RejectionCode.MISSING_COLLECTION_TIME


def test_without_identifier_the_key_is_the_collection_time_and_test_not_the_id() -> None:
    """A create ignores the client's id (FHIR): a resend under a new id is the same result."""
    message = parse(observation(identifier=None))
    (result,) = message.observations
    assert result.unscoped_key == "@2026-11-20T07:00:00+00:00|1988-5"
    assert result.result_key == result.unscoped_key  # no identify: not yet the patient's
    again = parse(observation(identifier=None, id="crp-2", effectiveDateTime=(
        "2026-11-20T09:00:00+02:00")))  # fmt: skip
    assert again.observations[0].result_key == result.result_key


@pytest.mark.parametrize(
    "codings",
    [
        [{"system": "http://lab.example.org/codes", "code": "CRP"}, LOINC_CRP],
        [LOINC_CRP, {"system": "http://lab.example.org/codes", "code": "CRP"}],
        [{"system": "http://loinc.org", "code": "30522-7"}, LOINC_CRP],  # hs-CRP beside CRP
        [LOINC_CRP, {"system": "http://loinc.org", "code": "30522-7"}],
    ],
    ids=["local-first", "loinc-first", "hs-crp-first", "crp-first"],
)
def test_an_untracked_key_names_the_trial_code_whatever_the_codings_order(
    codings: list[dict[str, str]],
) -> None:
    """FHIR gives a CodeableConcept's codings no order: a correction or resend listing them
    in another order is the same result (keyed by the first coding, it missed its original)."""
    message = parse(observation(identifier=None, code={"coding": codings}))
    assert message.observations[0].unscoped_key == "@2026-11-20T07:00:00+00:00|1988-5"


def test_an_untracked_key_is_the_patients() -> None:
    """Two patients' samples drawn the same minute are two results, as over HL7."""
    mine = parse_observation(observation(identifier=None), "LIS", "HOSP", hash_identifier)
    other = observation(identifier=None)
    other["subject"]["identifier"]["value"] = "MRN-0000-0001"
    theirs = parse_observation(other, "LIS", "HOSP", hash_identifier)
    (result,) = mine.observations
    whose = hash_identifier(MRN)[:16]
    assert result.result_key == f"{result.unscoped_key}|{whose}"
    assert theirs.observations[0].result_key != result.result_key


def test_a_resend_of_the_same_observation_is_the_same_message() -> None:
    """The server's version marks are not what the lab said: a resend is known by content
    (a new version saying what an earlier one said needs an ``issued`` time of its own)."""
    reordered = dict(reversed(list(crp().items())))
    resent = observation(meta={"versionId": "7", "lastUpdated": "2026-11-21T09:00:00+01:00"})
    assert parse(reordered).control_id == parse(crp()).control_id == parse(resent).control_id
    assert (
        parse(observation(issued="2026-11-21T09:00:00+01:00")).control_id != parse(crp()).control_id
    )


@pytest.mark.parametrize(
    "change",
    [
        {"status": "corrected"},
        {"status": "amended"},
        {"status": "entered-in-error"},
        {"status": "cancelled"},
        {"valueQuantity": {"value": Decimal("2.10"), "unit": "mg/dL", "code": "mg/dL"}},
        {"effectiveDateTime": "2026-11-20T07:30:00+01:00"},
    ],
)
def test_a_correction_or_cancellation_is_a_new_message_for_the_same_result(
    change: dict[str, Any],
) -> None:
    """FHIR keeps the identifier across versions: keyed on it alone, a correction would be
    taken for a resend and dropped as a duplicate."""
    original, changed = parse(crp()), parse(observation(**change))
    assert changed.control_id != original.control_id
    assert changed.observations[0].result_key == original.observations[0].result_key


def test_observations_without_identifier_differing_only_in_id_are_one_message() -> None:
    """A create ignores the client's id: the same result under a new id is a resend."""
    first, second = observation(identifier=None), observation(identifier=None, id="crp-2")
    assert parse(first).control_id == parse(second).control_id


def test_the_message_identity_does_not_depend_on_patient_details() -> None:
    other = observation(subject={"identifier": {"system": MRN_SYSTEM, "value": "MRN-1"}})
    assert parse(other).control_id == parse(crp()).control_id
    assert MRN not in parse(crp()).control_id


def test_with_a_keyed_hash_the_same_result_for_another_patient_is_another_message() -> None:
    """A wrong-patient fix resends the same final for the right patient: not a duplicate."""
    other = observation(subject={"identifier": {"system": MRN_SYSTEM, "value": "MRN-1"}})
    first = parse_observation(crp(), "LIS", "HOSP", identify=hash_identifier)
    second = parse_observation(other, "LIS", "HOSP", identify=hash_identifier)
    again = parse_observation(crp(), "LIS", "HOSP", identify=hash_identifier)
    assert first.control_id != second.control_id
    assert first.control_id == again.control_id
    assert MRN not in first.control_id and hash_identifier(MRN) not in first.control_id


def test_identifier_without_system() -> None:
    message = parse(observation(identifier=[{"value": "R-1"}]))
    assert message.observations[0].result_key == "R-1"


def test_contained_patient_reference() -> None:
    resource = observation(
        contained=[patient_resource() | {"id": "p"}], subject={"reference": "#p"}
    )
    assert parse(resource).patient_identifier == MRN


def test_subject_without_identifier_is_missing_patient() -> None:
    assert parse(observation(subject=None)).patient_identifier is None
    unresolved = observation(subject={"reference": "Patient/elsewhere"})
    assert parse(unresolved).patient_identifier is None


# --- Bundle --------------------------------------------------------------------------------


def test_transaction_resolves_patient_by_urn_uuid_full_url() -> None:
    subject = {"reference": PATIENT_UUID}
    second = observation(
        id="crp-2", identifier=[{"system": "urn:lis", "value": "R-2"}], subject=subject
    )
    bundle = transaction(
        post(patient_resource(), PATIENT_UUID),
        post(observation(subject=subject), "urn:uuid:0d2c1b8e-1111-4c1e-9f52-2a6b0c4d5e62"),
        post(second),
    )
    messages = messages_of(bundle)
    assert [m.patient_identifier for m in messages] == [MRN, MRN]
    assert [m.observations[0].result_key for m in messages] == [
        "urn:oid:1.2.276.0.76.3.1.99.1|LIS-R-000123",
        "urn:lis|R-2",
    ]
    assert all(m.channel is Channel.FHIR for m in messages)


def test_batch_resolves_relative_reference_against_absolute_full_url() -> None:
    bundle = transaction(
        post(observation(subject={"reference": "Patient/pat-1"})),
        post(patient_resource(), "https://hosp.example/fhir/Patient/pat-1"),
        kind="batch",
    )
    (message,) = messages_of(bundle)
    assert message.patient_identifier == MRN


def test_another_servers_patient_is_not_this_bundles_patient_of_the_same_id() -> None:
    bundle = transaction(
        post(observation(subject={"reference": "https://ehr.other/fhir/Patient/pat-1"})),
        post(patient_resource(), "https://hosp.example/fhir/Patient/pat-1"),
        kind="batch",
    )
    (message,) = messages_of(bundle)
    assert message.patient_identifier is None  # missing-patient-identifier, not MRN


@pytest.mark.parametrize(
    ("identifiers", "expected"),
    [
        # the medical record number wherever it stands, not a national or insurance number
        ([{"value": "756.1234"}, {"type": {"coding": [{"code": "MR"}]}, "value": MRN}], MRN),
        # an untyped number of another system may be the hospital's: the sender chooses
        ([{"system": "urn:ahv", "value": "756.1234"}, {"type": {"coding": [{"code": "MR"}]},
          "value": MRN}], None),
        ([{"type": {"coding": [{"code": "mr"}]}, "value": f" {MRN} "}], MRN),
        # a typed MR without a value: missing, never the other number
        ([{"type": {"coding": [{"code": "MR"}]}}, {"system": "urn:ahv", "value": "756.1"}], None),
        ([{"system": "urn:hosp", "value": MRN}], MRN),  # untyped: the first with a value
        # medical record numbers of two authorities (systems): the sender's config chooses
        ([{"type": {"coding": [{"code": "MR"}]}, "system": "urn:region", "value": "R-77"},
          {"type": {"coding": [{"code": "MR"}]}, "system": "urn:hosp", "value": MRN}], None),
        # one system's two medical record numbers: which is the patient's cannot be told
        ([{"type": {"coding": [{"code": "MR"}]}, "system": "urn:hosp", "value": "R-77"},
          {"type": {"coding": [{"code": "MR"}]}, "system": "urn:hosp", "value": MRN}], None),
    ],
)  # fmt: skip
def test_a_patients_identifier_is_its_medical_record_number(
    identifiers: list[dict[str, Any]], expected: str | None
) -> None:
    contained = patient_resource() | {"id": "p", "identifier": identifiers}
    resource = observation(contained=[contained], subject={"reference": "#p"})
    assert parse(resource).patient_identifier == expected


def test_a_patients_numbers_are_kept_with_their_types_and_authorities() -> None:
    mr = {"coding": [{"code": "MR"}]}
    identifiers = [
        {"type": mr, "system": "urn:region", "value": "R-77"},
        {"type": mr, "assigner": {"display": "Hospital"}, "value": MRN},
        {"type": mr, "system": "urn:empty"},  # no number, but names an authority
        {"system": "urn:ahv", "value": "756.1"},  # untyped
        {"type": {"coding": [{"code": "SS"}]}, "value": "756.2"},  # a national number
        {"type": mr, "system": "urn:old", "value": "OLD9", "use": "old"},  # no longer used
    ]
    contained = patient_resource() | {"id": "p", "identifier": identifiers}
    message = parse(observation(contained=[contained], subject={"reference": "#p"}))
    found = [
        (c.value, c.authority, c.kind, c.alternate_authority) for c in message.identifier_candidates
    ]
    assert found == [
        ("R-77", "urn:region", "MR", ""),
        (MRN, "", "MR", "Hospital"),
        ("", "urn:empty", "MR", ""),
        ("756.1", "urn:ahv", "", ""),
    ]
    assert message.patient_identifier is None  # two authorities: the sender's chooses


def test_an_untyped_number_of_the_records_system_is_not_the_patients() -> None:
    identifiers = [
        {"system": "urn:hosp", "value": "756.1"},
        {"type": {"coding": [{"code": "MR"}]}, "system": "urn:hosp", "value": MRN},
    ]
    contained = patient_resource() | {"id": "p", "identifier": identifiers}
    message = parse(observation(contained=[contained], subject={"reference": "#p"}))
    assert message.patient_identifier == MRN


def test_a_local_coding_before_the_identifier_type_does_not_hide_it() -> None:
    local_then_pi = {"coding": [{"system": "urn:local", "code": "PATNR"},
                                {"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                 "code": "PI"}]}  # fmt: skip
    national = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "SS"}]}  # fmt: skip
    identifiers = [
        {"type": local_then_pi, "system": "urn:hosp", "value": MRN},
        {"type": national, "system": "urn:ahv", "value": "756.1"},
        {"use": "secondary"},  # no value, no system: nothing
    ]
    contained = patient_resource() | {"id": "p", "identifier": identifiers}
    message = parse(observation(contained=[contained], subject={"reference": "#p"}))
    assert [(c.value, c.kind) for c in message.identifier_candidates] == [(MRN, "PI")]
    assert message.patient_identifier == MRN


V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def test_identifier_types_under_table_0203s_older_uri_are_read() -> None:
    old = "http://hl7.org/fhir/v2/0203"
    identifiers = [
        {"type": {"coding": [{"system": old, "code": "MR"}]}, "system": "urn:hosp", "value": MRN},
        {"type": {"coding": [{"system": old, "code": "SS"}]}, "system": "urn:ahv", "value": "7"},
        {"type": {"coding": [{"code": "EPI"}]}, "system": "urn:hosp", "value": MRN},  # local
    ]
    contained = patient_resource() | {"id": "p", "identifier": identifiers}
    message = parse(observation(contained=[contained], subject={"reference": "#p"}))
    assert [(c.value, c.kind) for c in message.identifier_candidates] == [
        (MRN, "MR"), (MRN, "")  # a local type code names no type: untyped
    ]  # fmt: skip
    assert message.patient_identifier == MRN


@pytest.mark.parametrize(
    "other",
    [
        {"type": {"coding": [{"code": "SSN"}]}, "system": "urn:ssa", "value": "7"},
        {"type": {"coding": [{"system": V2_0203, "code": "FILL"}]}, "system": "urn:l",
         "value": "7"},
        {"type": {"coding": [{"code": "FIN"}, {"system": "urn:local", "code": "MRN"}]},
         "system": "urn:fin", "value": "7"},
    ],
)  # fmt: skip
def test_a_national_or_financial_number_beside_the_mr_is_not_the_patients(
    other: dict[str, Any],
) -> None:
    record = {"type": {"coding": [{"system": V2_0203, "code": "MR"}]}, "system": "urn:hosp",
              "value": MRN}  # fmt: skip
    contained = patient_resource() | {"id": "p", "identifier": [other, record]}
    message = parse(observation(contained=[contained], subject={"reference": "#p"}))
    assert [c.value for c in message.identifier_candidates] == [MRN]
    assert message.patient_identifier == MRN


def test_a_local_type_codes_number_beside_a_typed_one_is_ambiguous() -> None:
    """No type but MR ranks first: the local code's number may be the hospital's."""
    identifiers = [
        {"type": {"coding": [{"code": "XYZ"}]}, "system": "urn:hosp", "value": "7"},
        {"type": {"coding": [{"system": V2_0203, "code": "PI"}]}, "system": "urn:hosp",
         "value": MRN},
    ]  # fmt: skip
    contained = patient_resource() | {"id": "p", "identifier": identifiers}
    message = parse(observation(contained=[contained], subject={"reference": "#p"}))
    assert message.patient_identifier is None
    assert [c.value for c in message.identifier_candidates] == ["7", MRN]


@pytest.mark.parametrize(
    "kind",
    [
        {"coding": [{"system": "urn:local:types", "code": "FIN"}]},
        {"coding": [{"system": "urn:local:types", "code": "SSN#"}]},
        {"coding": [{"code": "FIN NBR"}]},
        {"text": "Social Security Number"},
        {"text": "US Social Security Number"},
        {"text": "Patient SSN"},
        {"text": "National ID"},
        {"text": "Account"},
    ],
)
def test_a_local_coding_or_text_naming_a_non_patient_number_is_not_the_patients(
    kind: dict[str, Any],
) -> None:
    """As in HL7 (PID-3 CX-5 FIN, SSN): a financial or national number, whatever system."""
    identifiers = [
        {"type": kind, "system": "urn:hosp", "value": "999888"},
        {"type": {"coding": [{"system": V2_0203, "code": "PI"}]}, "system": "urn:hosp",
         "value": MRN},
    ]  # fmt: skip
    contained = patient_resource() | {"id": "p", "identifier": identifiers}
    message = parse(observation(contained=[contained], subject={"reference": "#p"}))
    assert [c.value for c in message.identifier_candidates] == [MRN]
    assert message.patient_identifier == MRN


def test_a_patient_entry_of_a_relative_full_url_is_found_by_it() -> None:
    patient = {k: v for k, v in patient_resource().items() if k != "id"}
    (message,) = messages_of(transaction(
        post(observation(subject={"reference": "Patient/1"})), post(patient, "Patient/1"),
        kind="batch",
    ))  # fmt: skip
    assert message.patient_identifier == MRN


def test_a_relative_reference_of_a_servers_entry_is_never_another_servers_patient() -> None:
    other = patient_resource() | {"id": "1", "identifier": [{"value": "MRN-OTHER"}]}
    own = patient_resource() | {"id": "1", "identifier": [{"value": "MRN-LAB"}]}
    referencing = post(observation(subject={"reference": "Patient/1"}),
                       "http://lab.example/fhir/Observation/o1")  # fmt: skip
    (alone,) = messages_of(transaction(
        referencing, post(other, "http://other.example/fhir/Patient/1"), kind="batch"
    ))  # fmt: skip
    assert alone.identifier_candidates == ()
    both = transaction(
        post(own, "http://lab.example/fhir/Patient/1"), referencing,
        post(other, "http://other.example/fhir/Patient/1"), kind="batch",
    )  # fmt: skip
    (message,) = messages_of(both)
    assert message.patient_identifier == "MRN-LAB"
    # an entry of no server URL: the one Patient of that id, never one of two
    unplaced = post(observation(subject={"reference": "Patient/1"}))
    (one,) = messages_of(transaction(
        unplaced, post(other, "http://other.example/fhir/Patient/1"), kind="batch"
    ))  # fmt: skip
    assert one.patient_identifier == "MRN-OTHER"
    (two,) = messages_of(transaction(
        unplaced, post(own, "http://lab.example/fhir/Patient/1"),
        post(other, "http://other.example/fhir/Patient/1"), kind="batch",
    ))  # fmt: skip
    assert two.patient_identifier is None


def test_a_subject_that_is_no_patient_names_no_patient_number() -> None:
    subject = {"type": "Device", "identifier": {"system": "urn:hosp", "value": MRN}}
    assert parse(observation(subject=subject)).identifier_candidates == ()


def test_a_patient_of_too_many_identifiers_is_not_read() -> None:
    identifiers = [{"system": f"urn:s{i}", "value": str(i)} for i in range(2000)]
    contained = patient_resource() | {"id": "p", "identifier": identifiers}
    with pytest.raises(FhirInputError) as exc:
        parse(observation(contained=[contained], subject={"reference": "#p"}))
    assert only_issue(exc).code == "too-costly"


def test_a_logical_reference_is_one_number_of_its_system() -> None:
    subject = {"identifier": {"system": "urn:hosp", "value": MRN}}
    message = parse(observation(subject=subject))
    assert [(c.value, c.authority) for c in message.identifier_candidates] == [(MRN, "urn:hosp")]
    assert message.patient_identifier == MRN


def test_collection_bundle_is_rejected() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse_bundle(transaction(post(crp()), kind="collection"), "LIS", "HOSP")
    assert only_issue(exc).expression == "Bundle.type"


def test_not_a_bundle() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse_bundle(crp(), "LIS", "HOSP")
    assert only_issue(exc).expression == "Bundle.resourceType"


def test_invalid_entry_is_named_by_index() -> None:
    bad = observation(valueQuantity={"value": "n/a"})
    bundle = transaction(post(patient_resource()), post(crp()), post(bad))
    with pytest.raises(FhirInputError) as exc:
        parse_bundle(bundle, "LIS", "HOSP")
    assert only_issue(exc).expression == "Bundle.entry[2].resource.valueQuantity.value"


def test_invalid_patient_entry_is_named_by_index() -> None:
    bundle = transaction(post(patient_resource() | {"birthDate": "14.03.1957"}), post(crp()))
    with pytest.raises(FhirInputError) as exc:
        parse_bundle(bundle, "LIS", "HOSP")
    assert only_issue(exc).expression == "Bundle.entry[0].resource.birthDate"
    assert "14.03.1957" not in str(exc.value)


def test_invalid_envelope() -> None:
    bundle = transaction(post(crp()))
    bundle["entry"][0]["request"]["method"] = 7
    with pytest.raises(FhirInputError) as exc:
        parse_bundle(bundle, "LIS", "HOSP")
    assert only_issue(exc).expression == "Bundle.entry[0].request.method"


def test_empty_transaction_has_no_messages() -> None:
    parsed = parse_bundle(transaction(), "LIS", "HOSP")
    assert parsed.messages == ()
    assert parsed.entries == ()


# --- OperationOutcome ----------------------------------------------------------------------


def test_operation_outcome_from_input_error_is_valid_fhir() -> None:
    with pytest.raises(FhirInputError) as exc:
        parse(observation(valueQuantity={"value": "x"}, effectiveDateTime="2026-11-20T08:00"))
    outcome = operation_outcome(exc.value.issues)
    OperationOutcome.model_validate(outcome)
    assert outcome["resourceType"] == "OperationOutcome"
    assert {tuple(i["expression"]) for i in outcome["issue"]} == {
        ("Observation.valueQuantity.value",),
        ("Observation.effectiveDateTime",),
    }
    assert all(i["severity"] == "error" for i in outcome["issue"])
    json.dumps(outcome)


def test_operation_outcome_without_issues_is_informational() -> None:
    outcome = operation_outcome([])
    assert outcome["issue"] == [
        {"severity": "information", "code": "informational", "diagnostics": "ok"}
    ]


def test_operation_outcome_accepts_plain_tuples() -> None:
    outcome = operation_outcome([("warning", "not-supported", "ignored", None)])
    assert outcome["issue"] == [
        {"severity": "warning", "code": "not-supported", "diagnostics": "ignored"}
    ]


# --- redaction -----------------------------------------------------------------------------

PHI_STRINGS = (MRN, "Doe", "Jane", "1957-03-14", "Elm Street", "1234567")


def assert_no_phi(redacted: dict[str, Any]) -> None:
    text = json.dumps(redacted, default=str)
    for phi in PHI_STRINGS:
        assert phi not in text, phi


def test_redacts_top_level_patient() -> None:
    redacted = redact_fhir(patient_resource(), hash_identifier)
    for field in ("name", "birthDate", "address", "telecom", "text"):
        assert field not in redacted
    assert redacted["identifier"][0]["value"] == hash_identifier(MRN)
    assert redacted["identifier"][0]["system"] == MRN_SYSTEM
    assert redacted["gender"] == "female"
    assert_no_phi(redacted)


def test_redacts_observation_subject_and_contained_patient() -> None:
    resource = observation(contained=[patient_resource()])
    resource["text"] = {"status": "generated", "div": "<div>CRP for Jane Doe (MRN-4711-0815)</div>"}
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["subject"] == {
        "identifier": {"system": MRN_SYSTEM, "value": hash_identifier(MRN)}
    }
    assert "name" not in redacted["contained"][0]
    assert redacted["valueQuantity"]["value"] == Decimal("1.50")
    assert redacted["code"] == crp()["code"]
    assert_no_phi(redacted)


def test_redacts_bundle_entries_and_conditional_create() -> None:
    patient_entry = post(patient_resource(), PATIENT_UUID)
    patient_entry["request"]["ifNoneExist"] = f"identifier={MRN_SYSTEM}%7C{MRN}"
    bundle = transaction(
        patient_entry,
        post(observation(subject={"reference": PATIENT_UUID, "display": "Jane Doe"})),
        post(observation(subject={"reference": f"Patient?identifier={MRN_SYSTEM}|{MRN}"})),
    )
    original = copy.deepcopy(bundle)
    redacted = redact_fhir(bundle, hash_identifier)
    assert bundle == original  # the input is not touched
    patient = redacted["entry"][0]["resource"]
    assert set(patient) == {"resourceType", "id", "identifier", "gender"}
    assert redacted["entry"][1]["resource"]["subject"] == {"reference": PATIENT_UUID}
    hashed = hash_identifier(MRN)
    assert redacted["entry"][0]["request"]["ifNoneExist"] == f"identifier={MRN_SYSTEM}|{hashed}"
    assert redacted["entry"][2]["resource"]["subject"]["reference"].endswith(hashed)
    assert_no_phi(redacted)


def test_redacted_bundle_is_still_valid_fhir() -> None:
    observation_entry = post(observation(subject={"reference": PATIENT_UUID}))
    bundle = transaction(post(patient_resource(), PATIENT_UUID), observation_entry)
    (message,) = messages_of(redact_fhir(bundle, hash_identifier))
    assert message.patient_identifier == hash_identifier(MRN)  # only the keyed hash is left


@pytest.mark.parametrize("payload", [None, [], "Patient", 42, [{"resourceType": "Patient"}]])
def test_redact_non_object_gives_empty_object(payload: object) -> None:
    assert redact_fhir(payload, hash_identifier) == {}


def test_redact_malformed_patient_is_best_effort() -> None:
    malformed = {
        "resourceType": "Patient",
        "identifier": [{"value": 12345}, "MRN", {"system": "x"}],
        "name": "Jane Doe",
        "telecom": [None],
        "birthDate": ["1957"],
    }
    redacted = redact_fhir(malformed, hash_identifier)
    identifiers = [{"value": hash_identifier("12345")}, hash_identifier("MRN"), {"system": "x"}]
    assert redacted == {"resourceType": "Patient", "identifier": identifiers}


def test_redact_very_deep_input_does_not_raise() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    assert isinstance(redact_fhir(deep, hash_identifier), dict)


# --- properties ----------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
FHIR_KEYS = st.sampled_from(
    [
        "resourceType", "id", "identifier", "status", "code", "subject", "contained",
        "valueQuantity", "valueString", "effectiveDateTime", "effectivePeriod", "issued",
        "referenceRange", "interpretation", "name", "birthDate", "telecom", "entry",
        "resource", "fullUrl", "request", "type", "value", "reference", "display",
    ]
)  # fmt: skip
fhir_like = st.recursive(
    json_scalars | st.sampled_from(["Patient", "Observation", "Bundle", "transaction"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(FHIR_KEYS, children, max_size=6)
    ),
    max_leaves=40,
)


@given(json_values)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_redact_never_raises_on_arbitrary_json(payload: object) -> None:
    result = redact_fhir(payload, hash_identifier)
    assert isinstance(result, dict)
    json.dumps(result)


@given(fhir_like)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_redact_never_raises_on_fhir_shaped_json(payload: object) -> None:
    assert isinstance(redact_fhir(payload, hash_identifier), dict)


@given(st.dictionaries(FHIR_KEYS, fhir_like, max_size=8))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_parsers_raise_only_fhir_input_error(payload: dict[str, Any]) -> None:
    for kind, parser in (("Observation", parse_observation), ("Bundle", parse_bundle)):
        try:
            parser(payload | {"resourceType": kind}, "LIS", "HOSP")
        except FhirInputError as exc:
            assert exc.issues
            operation_outcome(exc.issues)


def test_input_error_accepts_plain_tuples_and_empty_expression() -> None:
    error = FhirInputError([("error", "structure", "the body is not a JSON object", "")])
    assert error.issues == [Issue("error", "structure", "the body is not a JSON object")]
    assert str(error) == "the body is not a JSON object"
    assert "expression" not in operation_outcome(error.issues)["issue"][0]


def test_an_explicit_null_code_is_an_input_error_not_a_crash() -> None:
    resource = {
        "resourceType": "Observation",
        "id": "o-1",
        "status": "final",
        "code": None,
        "subject": {"identifier": {"value": "MRN1"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 3.1, "unit": "mg/dL", "code": "mg/dL"},
    }
    with pytest.raises(FhirInputError, match="code is required"):
        parse_observation(resource, "LIS", "HOSP")


def test_an_empty_typed_identifier_beside_another_number_is_missing() -> None:
    """As in HL7 (``123^^^^PI~^^^^PT``): the empty one may be the patient's number."""
    identifiers = [
        {"type": {"coding": [{"system": V2_0203, "code": "PI"}]}, "value": MRN},
        {"type": {"coding": [{"system": V2_0203, "code": "PT"}]}},
    ]
    contained = patient_resource() | {"id": "p", "identifier": identifiers}
    message = parse(observation(contained=[contained], subject={"reference": "#p"}))
    assert message.patient_identifier is None
    assert [(c.value, c.kind) for c in message.identifier_candidates] == [(MRN, "PI"), ("", "PT")]
