"""Input that does not say unambiguously what the lab sent is refused, never read one way
(review 54): a repeated JSON key, a subject whose reference and identifier disagree or that
is no patient, two contained Patients of one id, an unknown unit code beside a display."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.adapters.fhir_elements import is_element_name
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.json_parser import JsonInputError, parse_lab_results
from services.lab_ingestion.adapters.json_schema import is_schema_key
from services.lab_ingestion.domain.model import LabMessage
from services.lab_ingestion.entrypoints.json_body import decode_json
from services.lab_ingestion.entrypoints.request_body import UnreadableBody

MRN, OTHER = "MRN-4711", "MRN-0001"
HOSP = "urn:hosp"


# --- a key named twice --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"status": "entered-in-error", "status": "final"}',
        '{"entry": [{"resource": {"valueQuantity": {"value": 20, "value": 200}}}]}',
        '[{"a": 1}, {"b": {"c": [{"d": 1, "d": 1}]}}]',  # the same value twice too
        '{"st\\u0061tus": "final", "status": "final"}',  # the same key, escaped
    ],
)
def test_an_object_naming_a_key_twice_at_any_depth_is_unreadable(text: str) -> None:
    with pytest.raises(UnreadableBody) as exc:
        decode_json(text.encode())
    assert exc.value.status == 400 and "more than once" in exc.value.reason
    assert "sha256" in exc.value.reason  # the body is not kept: the reason identifies it


def test_a_repeated_key_is_named_only_when_it_is_the_formats_own() -> None:
    with pytest.raises(UnreadableBody) as named:
        decode_json(b'{"valueQuantity": 1, "valueQuantity": 2}', is_element_name)
    assert "'valueQuantity'" in named.value.reason
    with pytest.raises(UnreadableBody) as unnamed:
        decode_json(b'{"Jane Roe 1957": 1, "Jane Roe 1957": 2}', is_element_name)
    assert "Jane" not in unnamed.value.reason and "a key more than once" in unnamed.value.reason
    with pytest.raises(UnreadableBody) as json_key:
        decode_json(b'{"patient": {"identifier": "A1", "identifier": "B2"}}', is_schema_key)
    reason = json_key.value.reason
    assert "'identifier'" in reason and "A1" not in reason and "B2" not in reason


def test_distinct_keys_decode_as_before() -> None:
    assert decode_json(b'{"a": 1.50, "b": {"a": 2}}') == json.loads(
        '{"a": 1.50, "b": {"a": 2}}', parse_float=__import__("decimal").Decimal
    )


JSON_BODY = (
    '{"message_id": "M1", "source": {"application": "LIS", "facility": "HOSP"}, '
    '"patient": {"identifier": "MRN-4711"}, "results": [{"result_id": "R1", "loinc": '
    '"1988-5", "value": "12.5", "unit": "mg/L", "status": "final"}]}'
)


def test_json_bytes_with_a_repeated_key_are_refused() -> None:
    text = JSON_BODY.replace('"value": "12.5"', '"value": "12.5", "value": "125"')
    with pytest.raises(JsonInputError):
        parse_lab_results(text.encode())


def test_the_json_route_validates_the_object_it_decoded() -> None:
    """Decimals as the route decodes them: a number where text belongs is refused by name,
    not re-encoded (which failed) nor read again from the bytes."""
    body = decode_json(JSON_BODY.replace('"12.5"', "12.5").encode(), is_schema_key)
    with pytest.raises(JsonInputError) as exc:
        parse_lab_results(body)
    assert [loc for loc, _ in exc.value.errors] == ["results[0].value"]
    message = parse_lab_results(decode_json(JSON_BODY.encode(), is_schema_key))
    assert isinstance(message, LabMessage) and message.observations[0].value == "12.5"


# --- the subject --------------------------------------------------------------------------


def _observation(subject: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:lab", "value": "R1"}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "subject": subject,
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 20, "unit": "mg/L", "system": "http://unitsofmeasure.org",
                          "code": "mg/L"},
    } | changes  # fmt: skip


def _patient(number: str, patient_id: str | None = "p1") -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient",
                               "identifier": [{"system": HOSP, "value": number}]}  # fmt: skip
    return patient | ({"id": patient_id} if patient_id else {})


def _identified(reference: str, number: str = MRN) -> dict[str, Any]:
    return {"reference": reference, "identifier": {"system": HOSP, "value": number}}


def _numbers(message: LabMessage) -> list[str]:
    return [c.value for c in message.identifier_candidates]


@pytest.mark.parametrize(
    "reference",
    ["Group/ward-7", "Device/analyser-2", "https://ehr.example/fhir/Group/ward-7",
     "Location/icu/_history/2"],
)  # fmt: skip
def test_a_reference_to_no_patient_names_none_whatever_its_identifier(reference: str) -> None:
    message = parse_observation(_observation(_identified(reference)), "LIS", "HOSP")
    assert message.identifier_candidates == () and message.patient_identifier is None


def test_a_contained_resource_that_is_no_patient_gives_no_number() -> None:
    """Beside an identifier it is refused: the resolved subject has no number to agree."""
    group = {"resourceType": "Group", "id": "p1", "type": "person", "actual": True}
    resource = _observation({"reference": "#p1"}, contained=[group])
    assert parse_observation(resource, "LIS", "HOSP").identifier_candidates == ()
    with pytest.raises(FhirInputError):
        parse_observation(resource | {"subject": _identified("#p1")}, "LIS", "HOSP")


def test_a_contained_patient_other_than_the_identifiers_is_refused() -> None:
    resource = _observation(_identified("#p1"), contained=[_patient(OTHER)])
    with pytest.raises(FhirInputError) as exc:
        parse_observation(resource, "LIS", "HOSP")
    (issue,) = exc.value.issues
    assert issue.expression == "Observation.subject" and issue.code == "invalid"
    assert MRN not in str(exc.value) and OTHER not in str(exc.value)


@pytest.mark.parametrize("system", [HOSP, None, "URN:HOSP"])
def test_a_contained_patient_agreeing_with_the_identifier_is_read(system: str | None) -> None:
    subject = _identified("#p1")
    if system is None:
        del subject["identifier"]["system"]
    else:
        subject["identifier"]["system"] = system
    resource = _observation(subject, contained=[_patient(MRN)])
    assert _numbers(parse_observation(resource, "LIS", "HOSP")) == [MRN]


def test_a_patient_number_of_another_authority_disagrees() -> None:
    subject = {"reference": "#p1", "identifier": {"system": "urn:other", "value": MRN}}
    with pytest.raises(FhirInputError):
        parse_observation(_observation(subject, contained=[_patient(MRN)]), "LIS", "HOSP")


def test_an_identifier_that_is_no_patient_number_leaves_the_reference_to_decide() -> None:
    national = {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                     "code": "NI"}]}, "value": "756.1234"}  # fmt: skip
    subject = {"reference": "#p1", "identifier": national}
    message = parse_observation(_observation(subject, contained=[_patient(MRN)]), "LIS", "HOSP")
    assert _numbers(message) == [MRN]


def test_an_unresolvable_reference_leaves_the_identifier_to_name_the_patient() -> None:
    message = parse_observation(_observation(_identified("Patient/123")), "LIS", "HOSP")
    assert _numbers(message) == [MRN]


def test_two_contained_patients_of_one_id_resolve_to_none() -> None:
    contained = [_patient(MRN), _patient(OTHER)]
    message = parse_observation(
        _observation({"reference": "#p1"}, contained=contained), "LIS", "HOSP"
    )
    assert message.identifier_candidates == ()
    with pytest.raises(FhirInputError):  # and never read by the identifier beside them
        parse_observation(_observation(_identified("#p1"), contained=contained), "LIS", "HOSP")


def test_two_contained_patients_of_one_id_and_the_same_numbers_are_one() -> None:
    contained = [_patient(MRN), _patient(MRN)]
    message = parse_observation(
        _observation({"reference": "#p1"}, contained=contained), "LIS", "HOSP"
    )
    assert _numbers(message) == [MRN]


PATIENT_URL = "urn:uuid:9a1f0e2c-0000-4000-8000-000000000001"


def _bundle(*entries: dict[str, Any], kind: str = "batch") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def test_a_bundle_patient_other_than_the_identifiers_is_refused() -> None:
    bundle = _bundle(
        {"fullUrl": PATIENT_URL, "resource": _patient(OTHER, None)},
        {"resource": _observation(_identified(PATIENT_URL))},
    )
    (_, entry) = parse_bundle(bundle, "LIS", "HOSP").entries
    assert entry.error is not None and entry.error.issues[0].code == "invalid"
    with pytest.raises(FhirInputError):
        parse_bundle(bundle | {"type": "transaction"}, "LIS", "HOSP")


def test_a_bundle_patient_agreeing_with_the_identifier_is_read() -> None:
    bundle = _bundle(
        {"fullUrl": PATIENT_URL, "resource": _patient(MRN, None)},
        {"resource": _observation(_identified(PATIENT_URL))},
    )
    (message,) = parse_bundle(bundle, "LIS", "HOSP").messages
    assert _numbers(message) == [MRN]


@pytest.mark.parametrize(
    "named",
    [
        {"resourceType": "Group", "type": "person", "actual": True},  # no patient
        {"resourceType": "Patient", "birthDate": "not a date"},  # a Patient not readable
    ],
)
def test_a_bundle_entry_that_gives_no_patient_is_not_replaced_by_the_identifier(
    named: dict[str, Any],
) -> None:
    bundle = _bundle(
        {"fullUrl": PATIENT_URL, "resource": named},
        {"resource": _observation(_identified(PATIENT_URL))},
    )
    (_, entry) = parse_bundle(bundle, "LIS", "HOSP").entries
    assert entry.message is None and entry.error is not None


def test_two_bundle_patients_of_one_reference_are_not_replaced_by_the_identifier() -> None:
    bundle = _bundle(
        {"fullUrl": PATIENT_URL, "resource": _patient(MRN, None)},
        {"fullUrl": PATIENT_URL, "resource": _patient(OTHER, None)},
        {"resource": _observation(_identified(PATIENT_URL))},
    )
    *_, entry = parse_bundle(bundle, "LIS", "HOSP").entries
    assert entry.error is not None


# --- units --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "system",
    [
        "http://unitsofmeasure.org",
        "urn:oid:2.16.840.1.113883.6.8",
        None,
        "http://unitsofmeasure.org/",
    ],
)
def test_an_unknown_ucum_code_goes_alone_however_ucum_is_named(system: str | None) -> None:
    quantity = {"value": 20, "unit": "mg/L", "code": "mg/100mL"}
    resource = _observation({"identifier": {"system": HOSP, "value": MRN}})
    resource["valueQuantity"] = quantity | ({"system": system} if system else {})
    (obs,) = parse_observation(resource, "LIS", "HOSP").observations
    assert obs.unit == ("mg/100mL",)


def test_a_known_code_keeps_its_display_beside_it() -> None:
    resource = _observation({"identifier": {"system": HOSP, "value": MRN}})
    resource["valueQuantity"] = {"value": 2, "unit": "mg/dl", "code": "mg/dL"}
    (obs,) = parse_observation(resource, "LIS", "HOSP").observations
    assert obs.unit == ("mg/dL", "mg/dl")
