"""Review 240: address values the line rules name no piece of (a postcode alone, a street run
into its house number) are still searched for in FHIR and JSON copies, as they were whole
before review 232's fix, while a number with a letter or a unit still is not; and an
extension URL naming a thing's place (a specimen's collection site) is no person's place."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.address_lines import address_pieces
from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.json_redaction import redact_json
from shared.phi_keys import is_place_url

MRN = "ZZMRN98765432"
LEFT_OUT = ["CH-3600", "D-61348", "1012AB", "D02 X285", "Bahnhofstr.12"]


def _hashed(_: str) -> str:
    return "ab" * 32


def _json(key: str, value: str, note: str) -> str:
    body = {"message_id": "M1", "source": {"application": "LIS", "facility": "LAB"},
            "patient": {"identifier": MRN, key: value},
            "results": [{"result_id": "R1", "loinc": "718-7", "value": "x",
                         "reference_range": note, "status": "final"}]}  # fmt: skip
    return str(redact_json(body, _hashed)["results"][0]["reference_range"])


@pytest.mark.parametrize(
    ("key", "value"),
    [("zip", "CH-3600"), ("plz", "D-61348"), ("postcode", "1012AB"), ("postcode", "D02 X285"),
     ("street", "Bahnhofstr.12")],
)  # fmt: skip
def test_a_json_address_value_named_by_no_rule_is_still_scrubbed(key: str, value: str) -> None:
    assert _json(key, value, f"seit {value}") == "seit [redacted]"


def _fhir(contained: list[dict[str, Any]], note: str, ext: list[Any] | None = None) -> str:
    body: dict[str, Any] = {
        "resourceType": "Observation", "status": "final", "contained": contained,
        "subject": {"reference": "#p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}], "text": "CRP"},
        "valueQuantity": {"value": 20, "unit": "mg/L"},
        "component": [{"code": {"text": "note"}, "valueString": note}],
    }  # fmt: skip
    if ext:
        body["extension"] = ext
    out = redact_fhir(body, _hashed)
    out = json.loads(out) if isinstance(out, str) else out
    return str(out["component"][0]["valueString"])


PATIENT = {"resourceType": "Patient", "id": "p1",
           "identifier": [{"system": "urn:hosp", "value": MRN}]}  # fmt: skip


@pytest.mark.parametrize("postcode", ["CH-3600", "1012AB"])
def test_a_fhir_postcode_alone_is_still_scrubbed(postcode: str) -> None:
    address = {"line": ["Gartenweg 3"], "city": "Thun", "postalCode": postcode}
    assert postcode not in _fhir([{**PATIENT, "address": [address]}], f"seit {postcode}")


def test_a_relatives_street_run_into_its_number_is_still_scrubbed() -> None:
    related = {"resourceType": "RelatedPerson", "id": "r1", "patient": {"reference": "#p1"},
               "address": [{"line": ["Bahnhofstr.12"], "city": "Thun"}]}  # fmt: skip
    assert "Bahnhofstr.12" not in _fhir([PATIENT, related], "bei Bahnhofstr.12")


def test_a_residence_extensions_postcode_is_scrubbed() -> None:
    ext = [{"url": "http://example.org/fhir/StructureDefinition/residence",
            "valueAddress": {"city": "Thun", "postalCode": "CH-3600"}}]  # fmt: skip
    assert "CH-3600" not in _fhir([PATIENT], "seit CH-3600", ext)


@given(
    head=st.sampled_from(["", "CH-", "D-", "A-"]),
    digits=st.integers(1000, 99999),
    tail=st.sampled_from(["", "AB", "XY"]),
)
def test_a_postcode_alone_is_a_piece_of_its_own(head: str, digits: int, tail: str) -> None:
    """Any postcode holding a letter, written alone, is searched for (as a place)."""
    value = f"{head}{digits}{tail}"
    anywhere, places = address_pieces(value)
    if any(c.isalpha() for c in value):
        assert value in anywhere + places


@given(number=st.integers(1, 9999), letter=st.sampled_from(["B", "a", "mg", "L", "ml", "g"]),
       blank=st.sampled_from(["", " "]))  # fmt: skip
def test_a_number_with_a_letter_or_unit_is_never_a_piece(
    number: int, letter: str, blank: str
) -> None:
    """``12 B``, ``3 L``, ``12 mg`` stay as sent in ids, ranges and notes (review 224)."""
    assert address_pieces(f"{number}{blank}{letter}") == ([], [])


@pytest.mark.parametrize(
    "url",
    ["http://example.ch/fhir/StructureDefinition/specimen-entnahmeOrt",
     "http://example.org/fhir/StructureDefinition/collection-place", "http://x.org/mac-addr"],
)  # fmt: skip
def test_a_things_place_is_no_persons_place(url: str) -> None:
    assert not is_place_url(url)
    ext = [{"url": url, "valueString": "Notfall"}]
    assert _fhir([PATIENT], "Notfall: Probe haemolysiert", ext) == "Notfall: Probe haemolysiert"


@pytest.mark.parametrize(
    "url",
    ["http://example.org/fhir/StructureDefinition/residence",
     "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
     "http://x.org/place-of-residence", "http://x.org/wohnort"],
)  # fmt: skip
def test_a_persons_place_url_stays_one(url: str) -> None:
    assert is_place_url(url)
