"""No PHI in a stored rejection: every removed name, display, birth date and identifier is
also replaced wherever else it occurs; JSON keeps only the fields of its schema."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.json_redaction import DROPPED_KEY, redact_json
from services.lab_ingestion.adapters.redaction import REDACTED, scrub_secrets
from tests.unit.lab_ingestion.route_fakes import (
    JSON_BODY,
    MRN,
    PATIENT,
    PATIENT_URL,
    bundle,
    hash_identifier,
    observation,
)


def text_of(redacted: dict[str, Any]) -> str:
    return json.dumps(redacted, default=str)


# --- FHIR --------------------------------------------------------------------------------


def test_a_subject_display_is_scrubbed_from_free_text_whatever_its_case() -> None:
    resource = observation(
        subject={"identifier": {"value": MRN}, "display": "John Smith"},
        method={"text": "SMITH, JOHN called"},
    )
    redacted = redact_fhir(resource, hash_identifier)
    assert "display" not in redacted["subject"]
    assert "SMITH" not in text_of(redacted) and "JOHN" not in text_of(redacted)
    assert redacted["method"]["text"].endswith(" called")


def test_notes_and_the_display_of_every_reference_are_not_kept() -> None:
    """Free text no result is read from: a name nothing else holds ("Blood of Jane Roe"),
    a phone number only a note holds. Copies of it elsewhere are scrubbed (whole: the words
    of an organisation's name are no secrets); an identifier's assigner (an organisation)
    keeps its display."""
    resource = observation(
        specimen={"reference": "Specimen/s1", "display": "Blood of Jane Roe"},
        performer=[{"reference": "Organization/lab", "display": "Central Lab"}],
        note=[{"text": "call back on 079 123 45 67", "authorString": "Dr Who"}],
        method={"text": "Blood of Jane Roe"},
    )
    resource["identifier"] = [{"value": "R-1", "assigner": {"display": "Lab of Olten"}}]
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["specimen"] == {"reference": "Specimen/s1"}
    assert redacted["performer"] == [{"reference": "Organization/lab"}]
    assert redacted["note"] == [{"text": REDACTED}]  # an Annotation's text is required
    assert redacted["method"] == {"text": REDACTED}
    assert redacted["identifier"][0]["assigner"] == {"display": "Lab of Olten"}
    for phi in ("Jane", "Roe", "079 123", "Dr Who"):
        assert phi not in text_of(redacted), phi


@pytest.mark.parametrize("authority", ["04MAR1961", "Mar 4 1961", "123-45-6789", "7601001234567"])
def test_an_identifier_authority_that_may_be_a_persons_is_never_kept(authority: str) -> None:
    """As HL7's CX-4: a system or assigner that may hold a birth date or a person's number."""
    patient = PATIENT | {"identifier": [
        {"system": f"urn:x:{authority}", "value": MRN},
        {"system": "urn:oid:2.16.756.5.30.1", "assigner": {"display": authority}, "value": "X9"},
        {"system": "https://hospital.example/mrn", "assigner": {"display": "Hospital"},
         "value": "X8"},
    ]}  # fmt: skip
    redacted = redact_fhir(patient, hash_identifier)
    kept = redacted["identifier"]
    assert authority not in text_of(redacted)
    assert "system" not in kept[0] and "assigner" not in kept[1]
    assert kept[1]["system"] == "urn:oid:2.16.756.5.30.1"
    assert kept[2]["assigner"] == {"display": "Hospital"}
    assert kept[2]["system"] == "https://hospital.example/mrn"


@pytest.mark.parametrize(
    ("field", "value", "secret"),
    [
        ("assigner", {"display": 19610304}, "19610304"),  # a number where a name belongs
        ("assigner", [{"display": "04MAR1961"}], "04MAR1961"),  # a list
        ("assigner", {"identifier": {"system": "urn:x:04MAR1961"}}, "04MAR1961"),
        ("assigner", {"reference": "Organization/04MAR1961"}, "04MAR1961"),
        ("assigner", {"display": "Hospital", "identifier": {"value": "7601001234567"}},
         "7601001234567"),
        ("system", 7561234567897, "7561234567897"),
    ],
)  # fmt: skip
def test_an_identifier_authority_of_another_shape_is_never_kept(
    field: str, value: object, secret: str
) -> None:
    """Whatever its shape (the input may be rejected for that very shape, and its redacted
    copy is kept): every value of the authority must be an organisation's."""
    patient = PATIENT | {"identifier": [{field: value, "value": MRN}]}
    redacted = redact_fhir(patient, hash_identifier)
    assert secret not in text_of(redacted)
    assert field not in redacted["identifier"][0]


def test_the_display_of_any_reference_to_the_patient_is_dropped() -> None:
    resource = observation(
        performer=[
            {"reference": "Patient/pat-1", "display": "Jane Roe"},  # self-reported
            {"reference": "Practitioner/p1", "display": "Dr Who, for Jane Roe"},
        ],
        specimen={"reference": "Specimen/s1"},
    )
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["performer"] == [
        {"reference": f"Patient/{hash_identifier('pat-1')}"}, {"reference": "Practitioner/p1"}
    ]  # fmt: skip
    assert "Jane" not in text_of(redacted) and "Roe" not in text_of(redacted)


def test_a_patient_entry_name_and_birth_date_are_scrubbed_from_other_entries() -> None:
    other = observation(
        subject={"reference": PATIENT_URL},
        note=[{"text": "John Smith born 04.03.1961 (19610304), see 1961-03-04"}],
    )
    redacted = redact_fhir(bundle("batch", PATIENT, other), hash_identifier)
    text = text_of(redacted)
    for phi in ("John", "Smith", "04.03.1961", "19610304", "1961-03-04", MRN):
        assert phi not in text, phi


def test_a_number_in_groups_is_scrubbed_also_as_its_digits() -> None:
    """An AHV number given as 756.1234.5678.97 is often copied without its dots."""
    patient = copy.deepcopy(PATIENT)
    ahv = {"system": "urn:oid:2.16.756.5.32", "value": "756.1234.5678.97"}
    patient["identifier"] = [*patient["identifier"], ahv]
    other = observation(method={"text": "AHV 7561234567897 checked"})
    text = text_of(redact_fhir(bundle("batch", patient, other), hash_identifier))
    assert "7561234567897" not in text and "756.1234.5678.97" not in text
    assert "checked" in text


def test_an_element_named_like_a_person_detail_is_dropped() -> None:
    resource = observation(patientName="Jane Roe", note=[{"text": "Jane Roe"}])
    resource["contained"] = [{"resourceType": "Practitioner", "id": "p", "name": [
        {"use": "official", "family": "Jones"}]}]  # fmt: skip
    redacted = redact_fhir(resource, hash_identifier)
    assert "patientName" not in redacted
    assert "name" not in redacted["contained"][0]
    assert "Jane" not in text_of(redacted) and "Jones" not in text_of(redacted)
    assert redacted["status"] == "final"  # a name's `use` is not taken for a name


def test_a_hash_is_never_scrubbed_by_a_name_found_inside_it() -> None:
    def hashed(value: str) -> str:
        return "deadbeef" * 8

    resource = observation(
        subject={"reference": f"Patient?identifier=urn:hosp|{MRN}", "display": "Dead Beef"}
    )
    redacted = redact_fhir(resource, hashed)
    assert redacted["subject"]["reference"] == "Patient?identifier=urn:hosp|" + "deadbeef" * 8


# --- JSON --------------------------------------------------------------------------------


def test_json_patient_name_is_scrubbed_from_every_other_field() -> None:
    payload = copy.deepcopy(JSON_BODY)
    payload["patient"] = {"identifier": MRN, "name": "Jane Roe", "dob": "1961-03-04"}
    payload["message_id"] = "Jane Roe 04.03.1961"
    payload["results"][0]["value"] = "jane roe"
    redacted = redact_json(payload, hash_identifier)
    assert redacted["patient"] == {"identifier": hash_identifier(MRN)}
    for phi in ("Jane", "Roe", "roe", "1961", MRN):
        assert phi not in text_of(redacted), phi
    assert redacted[DROPPED_KEY] == ["patient.<unknown element>"] * 2


def test_json_keeps_only_schema_fields_and_names_the_dropped_keys() -> None:
    payload = copy.deepcopy(JSON_BODY)
    payload |= {"patient_name": "Jane Roe", "comment": "Jane Roe born 1961-03-04"}
    payload["results"][0]["note"] = {"text": "for Jane"}
    payload["source"]["contact"] = "Jane's phone"
    redacted = redact_json(payload, hash_identifier)
    assert "Jane" not in text_of(redacted) and "1961" not in text_of(redacted)
    assert sorted(redacted[DROPPED_KEY]) == [
        "<unknown element>", "<unknown element>", "results[0].<unknown element>",
        "source.<unknown element>",
    ]  # fmt: skip
    assert set(redacted) == {"message_id", "source", "patient", "results", DROPPED_KEY}


def test_json_an_unknown_key_with_a_harmless_name_does_not_scrub_its_value_elsewhere() -> None:
    payload = copy.deepcopy(JSON_BODY) | {"comment": "final"}
    redacted = redact_json(payload, hash_identifier)
    assert redacted["results"][0]["status"] == "final"
    assert redacted[DROPPED_KEY] == ["<unknown element>"]


def test_json_a_structure_where_a_value_belongs_is_dropped() -> None:
    payload = copy.deepcopy(JSON_BODY) | {"message_id": {"name": "Jane Roe"}}
    redacted = redact_json(payload, hash_identifier)
    assert redacted["message_id"] is None
    assert "Jane" not in text_of(redacted)
    assert redacted[DROPPED_KEY] == ["message_id"]


# --- scrubbing ---------------------------------------------------------------------------


def test_the_longest_secret_wins_and_hashes_stay_whole() -> None:
    secrets = {"Ann": REDACTED, "Anna Lee": REDACTED, "MRN1": "h" * 8}
    scrubbed = scrub_secrets({"a": ["anna lee and ANN", "MRN1", "x-mrn1-y"]}, secrets)
    assert scrubbed == {"a": [f"{REDACTED} and {REDACTED}", "h" * 8, "x-hhhhhhhh-y"]}


@given(
    st.dictionaries(st.text("abAB-", min_size=3, max_size=6), st.just(REDACTED), max_size=8),
    st.lists(st.text("abAB- ", max_size=30), max_size=4),
)
@settings(max_examples=300)
def test_no_secret_survives_as_a_whole_word(secrets: dict[str, str], texts: list[str]) -> None:
    scrubbed = scrub_secrets(texts, secrets)
    for text in scrubbed:
        rest = text.replace(REDACTED, " ")
        for secret in secrets:
            if any(c.isalnum() for c in secret):
                word = rf"(?<![^\W_]){re.escape(secret.strip())}(?![^\W_])"
                assert not re.search(word, rest, re.IGNORECASE), (secret, text)


def test_a_secret_inside_a_word_is_left_alone() -> None:
    secrets = {"Rubin": REDACTED, "Mol": REDACTED, "4711-0815": "h" * 8}
    texts = ["Bilirubin.total", "umol/L", "MRN4711-0815", "Rubin/Mol", 47110815, 4711.0815]
    assert scrub_secrets(texts, secrets) == [
        "Bilirubin.total", "umol/L", "MRN4711-0815", f"{REDACTED}/{REDACTED}", 47110815,
        4711.0815,
    ]  # fmt: skip


def test_a_number_equal_to_an_identifier_becomes_its_hash() -> None:
    assert scrub_secrets({"n": 47110815, "ok": 4711}, {"47110815": "h" * 8}) == {
        "n": "h" * 8,
        "ok": 4711,
    }


# --- item 1: scrubbing in bounded time ---------------------------------------------------


def test_an_adversarial_name_and_note_are_scrubbed() -> None:
    """A name of 'aaa...ab' against a note of 'aaa...a' (a 125 KB body) took 7.6 s with the
    regular expression of all secrets; the same for twice the size, 30.8 s (backtracking in
    C, which no count of Python steps sees: ``bench/redaction_cost.py`` times it)."""
    n = 62_500
    patient = PATIENT | {"name": [{"family": "a" * n + "b"}]}
    other = observation(subject={"reference": PATIENT_URL}, note=[{"text": "a" * n}])
    payload = copy.deepcopy(JSON_BODY)
    payload["patient"] = {"identifier": MRN, "name": "a" * n + "b"}
    payload["message_id"] = "a" * n
    redacted = redact_fhir(bundle("batch", patient, other), hash_identifier)
    scrubbed = redact_json(payload, hash_identifier)
    assert "a" * n + "b" not in text_of(redacted) + text_of(scrubbed)


# --- item 2: whole words only ------------------------------------------------------------


def test_a_name_inside_a_word_is_left_alone() -> None:
    patient = PATIENT | {"name": [{"family": "Rubin", "given": ["Mol"]}]}
    other = observation(
        subject={"reference": PATIENT_URL},
        code={
            "coding": [
                {"system": "http://loinc.org", "code": "1975-2", "display": "Bilirubin.total"}
            ],
            "text": "Bilirubin.total",
        },
        valueQuantity={"value": 17, "unit": "umol/L", "code": "umol/L"},
        method={"text": "Rubin, Mol: Bilirubin.total in umol/L"},
    )
    redacted = redact_fhir(bundle("batch", patient, other), hash_identifier)
    resource = redacted["entry"][1]["resource"]
    assert resource["code"] == other["code"]
    assert resource["valueQuantity"] == other["valueQuantity"]
    assert resource["method"]["text"] == f"{REDACTED}, {REDACTED}: Bilirubin.total in umol/L"


def test_json_a_name_inside_a_unit_is_left_alone() -> None:
    payload = copy.deepcopy(JSON_BODY)
    payload["patient"] = {"identifier": MRN, "name": "Mol Rubin"}
    payload["results"][0] |= {"unit": "umol/L", "value": "Bilirubin 17"}
    redacted = redact_json(payload, hash_identifier)
    assert redacted["results"][0]["unit"] == "umol/L"
    assert redacted["results"][0]["value"] == "Bilirubin 17"


# --- item 3: a name whose lower case is longer -------------------------------------------


def test_a_name_with_a_dotted_capital_i_is_scrubbed_in_every_spelling() -> None:
    patient = PATIENT | {"name": [{"family": "Y\u0131lmaz", "given": ["İbrahim"]}]}
    other = observation(
        subject={"reference": PATIENT_URL},
        note=[{"text": "İbrahim Y\u0131lmaz / İBRAHIM / IBRAHIM / Ibrahim"}],
    )
    redacted = redact_fhir(bundle("batch", patient, other), hash_identifier)
    note = redacted["entry"][1]["resource"]["note"][0]["text"]
    assert "brahim" not in note.lower() and "BRAHIM" not in note
    assert "lmaz" not in text_of(redacted)


# --- item 4: personal values in the wrong shape ------------------------------------------


def test_a_subject_identifier_given_as_a_list_is_hashed() -> None:
    resource = observation(subject={"identifier": [{"system": "urn:hosp", "value": MRN}, MRN]})
    redacted = redact_fhir(resource, hash_identifier)
    hashed = hash_identifier(MRN)
    assert redacted["subject"] == {"identifier": [{"system": "urn:hosp", "value": hashed}, hashed]}


def test_a_bare_identifier_or_unknown_element_under_the_subject_is_not_kept() -> None:
    resource = observation(subject=MRN, performer=[{"reference": "Patient/1", "mrn": MRN}])
    resource["specimen"] = {"reference": "Specimen/1", "display": f"drawn for {MRN}"}
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["subject"] == hash_identifier(MRN)
    assert redacted["performer"] == [{"reference": f"Patient/{hash_identifier('1')}"}]
    assert MRN not in text_of(redacted)


def test_a_contained_patient_of_any_case_with_an_identifier_object_is_redacted() -> None:
    contained = {"resourceType": "patient", "id": "p", "identifier": {"value": MRN},
                 "name": [{"family": "Roe", "given": ["Jane"]}], "mrn": MRN}  # fmt: skip
    resource = observation(subject={"reference": "#p"}, contained=[contained])
    resource["note"] = [{"text": "Jane Roe"}]
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["contained"] == [
        {"resourceType": "patient", "id": "p", "identifier": {"value": hash_identifier(MRN)}}
    ]
    for phi in (MRN, "Jane", "Roe"):
        assert phi not in text_of(redacted), phi


def test_a_reference_by_a_patient_search_is_replaced_whole() -> None:
    search = "Patient?family=Roe&given=Jane&birthdate=1961-03-04"
    resource = observation(subject={"reference": search}, note=[{"text": "Roe 04.03.1961"}])
    resource["specimen"] = {"reference": "Specimen?subject:Patient.name=Roe"}
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["subject"] == {"reference": REDACTED}
    assert redacted["specimen"] == {"reference": REDACTED}
    for phi in ("Roe", "Jane", "1961"):
        assert phi not in text_of(redacted), phi


# --- item 6: other people and personal extensions ----------------------------------------


def test_related_person_and_coverage_are_redacted_like_a_patient() -> None:
    related = {
        "resourceType": "RelatedPerson", "id": "rp", "patient": {"reference": PATIENT_URL},
        "identifier": [{"system": "urn:oid:2.16.756.5.32", "value": "756.1234.5678.97"}],
        "name": [{"family": "Muster", "given": ["Hans"]}], "gender": "male",
        "telecom": [{"system": "phone", "value": "+41 79 123 45 67"}],
        "address": [{"line": ["Bahnhofstrasse 1"], "city": "Bern", "postalCode": "3011"}],
    }  # fmt: skip
    coverage = {
        "resourceType": "Coverage", "id": "cov", "status": "active",
        "identifier": [{"value": "80756012345678"}], "subscriberId": "SUB-998877",
        "subscriber": {"reference": "RelatedPerson/rp", "display": "Hans Muster"},
        "beneficiary": {"identifier": {"value": MRN}, "display": "John Smith"},
        "payor": [{"display": "Helsana"}],
    }  # fmt: skip
    other = observation(
        subject={"reference": PATIENT_URL},
        note=[{"text": "Hans Muster (756.1234.5678.97, SUB-998877, +41 79 123 45 67) "
                       "of Bahnhofstrasse 1"}],
    )  # fmt: skip
    redacted = redact_fhir(bundle("batch", PATIENT, related, coverage, other), hash_identifier)
    person, cover = redacted["entry"][1]["resource"], redacted["entry"][2]["resource"]
    assert set(person) == {"resourceType", "id", "patient", "identifier", "gender"}
    assert cover["subscriberId"] == hash_identifier("SUB-998877")
    assert cover["subscriber"] == {"reference": f"RelatedPerson/{hash_identifier('rp')}"}
    assert cover["beneficiary"] == {"identifier": {"value": hash_identifier(MRN)}}
    assert cover["payor"] == [{}]  # a display alone: free text, not kept
    text = text_of(redacted)
    for phi in ("Hans", "Muster", "756.1234", "SUB-998877", "80756012345678", "123 45 67",
                "Bahnhofstrasse", MRN, "John", "Smith"):  # fmt: skip
        assert phi not in text, phi


def test_extensions_keep_only_their_url_and_personal_values_are_secrets() -> None:
    maiden = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
    place = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
    other = "http://example.org/fhir/StructureDefinition/lab-batch"
    resource = observation(
        extension=[
            {"url": maiden, "valueString": "Huber"},
            {"url": place, "valueAddress": {"city": "Olten", "text": "Spital Olten"}},
            {"url": other, "valueString": "B-17"},
        ],
        method={"text": "mother born Huber in Spital Olten, batch B-17"},
    )
    resource["subject"]["extension"] = [{"url": maiden, "valueString": "Huber"}]
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["extension"] == [{"url": maiden}, {"url": place}, {"url": other}]
    assert redacted["subject"]["extension"] == [{"url": maiden}]
    assert "Huber" not in text_of(redacted) and "Olten" not in text_of(redacted)
    assert redacted["method"]["text"].endswith("batch B-17")  # not about a person


# --- adversarial review 17: what FHIR does not define, free-form extensions --------------


def test_an_element_unknown_to_fhir_is_dropped_and_its_text_scrubbed() -> None:
    """Only elements named like a person's detail were dropped: "comment" was kept."""
    note = "Pt John Smith, born 1961-03-04, phone 079 123 45 67"
    resource = observation(comment=note, note=[{"text": note}])
    redacted = redact_fhir(resource, hash_identifier)
    assert "comment" not in redacted
    assert redacted["note"] == [{"text": REDACTED}]
    assert set(redacted) == {*observation(), "note"}
    for phi in ("John", "Smith", "1961", "079 123"):
        assert phi not in text_of(redacted), phi


def test_an_element_a_datatype_does_not_define_is_dropped() -> None:
    resource = observation(
        subject={"reference": "Patient/p1", "name": "John Smith"},
        valueQuantity={"value": 1.5, "unit": "mg/dL", "remark": "for Jane Roe"},
        code={"coding": [{"system": "http://loinc.org", "code": "1988-5", "who": "Roe"}]},
        note=[{"text": "John Smith", "authorString": "Dr Who", "ordered_by": "Jane"}],
    )
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["subject"] == {"reference": f"Patient/{hash_identifier('p1')}"}
    assert redacted["valueQuantity"] == {"value": 1.5, "unit": "mg/dL"}
    assert redacted["code"] == {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]}
    assert redacted["note"] == [{"text": REDACTED}]
    for phi in ("John", "Smith", "Jane", "Roe"):
        assert phi not in text_of(redacted), phi


def test_choice_types_primitive_extensions_and_bundles_keep_their_elements() -> None:
    status_ext = {"extension": [{"url": "http://example.org/x", "valueCode": "a"}]}
    resource = observation(
        _status=status_ext,
        _effectiveDateTime={"id": "t"},
        _unknown={"id": "Roe"},
        valueQuantity=None,
        valueString="trace",
        component=[{"code": {"text": "CRP"}, "valueInteger": 3, "interpretationText": "Roe"}],
    )
    entry = {"fullUrl": "urn:uuid:1", "resource": resource, "request": {
        "method": "POST", "url": "Observation"}, "note": "Roe"}  # fmt: skip
    payload = {"resourceType": "Bundle", "type": "batch", "entry": [entry], "sender": "Roe"}
    redacted = redact_fhir(payload, hash_identifier)
    kept = redacted["entry"][0]
    assert set(redacted) == {"resourceType", "type", "entry"}
    assert set(kept) == {"fullUrl", "resource", "request"}
    assert kept["resource"]["_status"] == {"extension": [{"url": "http://example.org/x"}]}
    assert kept["resource"]["_effectiveDateTime"] == {"id": "t"}
    assert kept["resource"]["valueString"] == "trace"
    assert kept["resource"]["component"] == [{"code": {"text": "CRP"}, "valueInteger": 3}]
    assert "_unknown" not in kept["resource"] and "Roe" not in text_of(redacted)


def test_a_structure_where_a_primitive_belongs_or_the_reverse_is_dropped() -> None:
    resource = observation(
        status={"name": "Jane Roe"},
        note="Jane Roe called",
        performer=["Dr Jones for Jane Roe", {"reference": "Practitioner/1"}],
    )
    redacted = redact_fhir(resource, hash_identifier)
    assert "status" not in redacted and "note" not in redacted
    assert redacted["performer"] == [{"reference": "Practitioner/1"}]
    assert "Jane" not in text_of(redacted)


def test_a_resource_of_a_type_fhir_r4_does_not_know_keeps_only_what_any_resource_has() -> None:
    """Its type too only when a resource type's name: "LabPatient" may be anyone's name
    (review 108)."""
    contained = {"resourceType": "LabPatient", "id": "x", "meta": {"versionId": "1"},
                 "fullName": "Jane Roe", "born": "1961-03-04"}  # fmt: skip
    resource = observation(contained=[contained], note=[{"text": "Jane Roe"}])
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["contained"] == [
        {"resourceType": REDACTED, "id": "x", "meta": {"versionId": "1"}}
    ]
    top = redact_fhir({"resourceType": "Nonsense", "id": "a", "name": "Jane Roe"}, hash_identifier)
    assert top == {"resourceType": REDACTED, "id": "a"}
    headless = redact_fhir({"status": "final", "note": [{"text": "x"}]}, hash_identifier)
    assert headless == {}
    assert "Jane" not in text_of(redacted) and "1961" not in text_of(redacted)


def test_an_extension_whose_url_names_the_patient_keeps_no_value_nor_copies_of_it() -> None:
    base = "http://lab.example.org/fhir/StructureDefinition/"
    resource = observation(
        extension=[
            {"url": base + "ordering-patient-name", "valueString": "John Smith"},
            {"url": base + "patientDOB", "valueDate": "1961-03-04"},
            {"url": base + "home", "extension": [
                {"url": "telecom", "valueContactPoint": {"value": "079 123 45 67"}},
                {"url": "street", "valueString": "12 Baker Street"},
            ]},
            {"url": base + "kin", "extension": [{"url": "a", "valueHumanName": {
                "family": "Roe", "given": ["Jane"]}}]},
        ],
        note=[{"text": "for John Smith 04.03.1961, 079 123 45 67, Jane Roe"}],
    )  # fmt: skip
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["extension"] == [
        {"url": base + "ordering-patient-name"},
        {"url": base + "patientDOB"},
        {"url": base + "home", "extension": [{"url": "telecom"}, {"url": "street"}]},
        {"url": base + "kin", "extension": [{"url": "a"}]},
    ]
    for phi in ("John", "Smith", "04.03.1961", "079 123", "Jane", "Roe"):
        assert phi not in text_of(redacted), phi


def test_a_narrative_is_replaced_whole() -> None:
    div = '<div xmlns="http://www.w3.org/1999/xhtml">CRP for SMITH, John (04.03.1961)</div>'
    resource = observation(text={"status": "generated", "div": div})
    resource["contained"] = [PATIENT | {"id": "p", "text": {"status": "generated", "div": div}}]
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["text"] == {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml">[redacted]</div>',
    }
    assert "1961" not in text_of(redacted) and "John" not in text_of(redacted)


def test_a_patient_city_district_and_state_are_secrets() -> None:
    address = {"line": ["12 Baker Street"], "city": "Springfield", "district": "Northside",
               "state": "Vaud", "postalCode": "8000", "country": "CH"}  # fmt: skip
    patient = PATIENT | {"address": [address]}
    method = {"text": "drawn at home: 12 Baker Street, Northside, Springfield, Vaud"}
    other = observation(subject={"reference": PATIENT_URL}, method=method)
    redacted = redact_fhir(bundle("batch", patient, other), hash_identifier)
    assert redacted["entry"][1]["resource"]["method"]["text"] == "drawn at home: " + ", ".join(
        [REDACTED] * 4
    )


def test_a_patient_postal_code_is_a_secret_but_a_short_one_wipes_no_value() -> None:
    long_code = PATIENT | {"address": [{"line": ["10 Downing St"], "postalCode": "SW1A 2AA"}]}
    short_code = PATIENT | {"address": [{"postalCode": "4711"}]}
    method = {"text": "lives at SW1A 2AA, result 4711"}
    obs = observation(subject={"reference": PATIENT_URL}, method=method)
    first = redact_fhir(bundle("batch", long_code, obs), hash_identifier)
    second = redact_fhir(bundle("batch", short_code, obs), hash_identifier)
    assert "SW1A" not in text_of(first)
    assert second["entry"][1]["resource"]["method"] == method
