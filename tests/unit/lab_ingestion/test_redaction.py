"""No PHI in a stored rejection: every removed name, display, birth date and identifier is
also replaced wherever else it occurs; JSON keeps only the fields of its schema."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.json_parser import DROPPED_KEY, redact_json
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


def test_a_subject_display_is_scrubbed_from_notes_whatever_its_case() -> None:
    resource = observation(
        subject={"identifier": {"value": MRN}, "display": "John Smith"},
        note=[{"text": "John Smith"}, {"text": "SMITH, JOHN called"}],
    )
    redacted = redact_fhir(resource, hash_identifier)
    assert "display" not in redacted["subject"]
    assert redacted["note"][0]["text"] == REDACTED
    assert "SMITH" not in text_of(redacted) and "JOHN" not in text_of(redacted)
    assert redacted["note"][1]["text"].endswith(" called")


def test_the_display_of_any_reference_to_the_patient_is_dropped() -> None:
    resource = observation(
        performer=[
            {"reference": "Patient/pat-1", "display": "Jane Roe"},  # self-reported
            {"reference": "Practitioner/p1", "display": "Dr Who, for Jane Roe"},
        ],
        specimen={"reference": "Specimen/s1"},
    )
    redacted = redact_fhir(resource, hash_identifier)
    assert "display" not in redacted["performer"][0]
    assert redacted["performer"][1]["display"].startswith("Dr Who, for ")
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
    assert sorted(redacted[DROPPED_KEY]) == ["patient.dob", "patient.name"]


def test_json_keeps_only_schema_fields_and_names_the_dropped_keys() -> None:
    payload = copy.deepcopy(JSON_BODY)
    payload |= {"patient_name": "Jane Roe", "comment": "Jane Roe born 1961-03-04"}
    payload["results"][0]["note"] = {"text": "for Jane"}
    payload["source"]["contact"] = "Jane's phone"
    redacted = redact_json(payload, hash_identifier)
    assert "Jane" not in text_of(redacted) and "1961" not in text_of(redacted)
    assert sorted(redacted[DROPPED_KEY]) == [
        "comment", "patient_name", "results[0].note", "source.contact",
    ]  # fmt: skip
    assert set(redacted) == {"message_id", "source", "patient", "results", DROPPED_KEY}


def test_json_an_unknown_key_with_a_harmless_name_does_not_scrub_its_value_elsewhere() -> None:
    payload = copy.deepcopy(JSON_BODY) | {"comment": "final"}
    redacted = redact_json(payload, hash_identifier)
    assert redacted["results"][0]["status"] == "final"
    assert redacted[DROPPED_KEY] == ["comment"]


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
def test_no_secret_survives_between_the_replacements(
    secrets: dict[str, str], texts: list[str]
) -> None:
    scrubbed = scrub_secrets(texts, secrets)
    for text in scrubbed:
        for part in text.split(REDACTED):
            for secret in secrets:
                assert secret.lower() not in part.lower()
