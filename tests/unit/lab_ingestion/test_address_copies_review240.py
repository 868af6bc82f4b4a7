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

from services.lab_ingestion.adapters import address_pieces as address_pieces_module
from services.lab_ingestion.adapters.address_lines import AddressLine, address_line
from services.lab_ingestion.adapters.address_pieces import address_pieces
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
    """``12 B``, ``3 L``, ``12 mg`` stay as sent in ids, ranges and notes (review 224); but
    four digits and two letters in an address are a Dutch postcode (review 242: ``5611 MM``
    was kept in notes), searched for as a place."""
    value = f"{number}{blank}{letter}"
    dutch = len(str(number)) == 4 and len(letter) == 2
    anywhere, places = address_pieces(value)
    assert anywhere == [] and (value in places if dutch else places == [])


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


@pytest.mark.parametrize(
    ("key", "value"),
    [("zip", "5611MM"), ("postcode", "1012ML"), ("zip", "3011DL"), ("zip", "2511 cm"),
     ("postcode", "6511KG")],
)  # fmt: skip
def test_a_dutch_postcode_whose_letters_spell_a_unit_is_scrubbed(key: str, value: str) -> None:
    """Review 242: ``5611MM`` was taken for a number with a unit and kept in notes."""
    assert _json(key, value, f"pc {value}") == "pc [redacted]"


@pytest.mark.parametrize(
    ("address", "postcode"),
    [("Keizersgracht 1, 1012AB Amsterdam", "1012AB"), ("Gartenweg 3, CH-3600 Thun", "CH-3600"),
     ("Stationsplein 1, 5611MM Eindhoven", "5611MM")],
)  # fmt: skip
def test_a_postcode_written_with_its_city_is_scrubbed_alone(address: str, postcode: str) -> None:
    """Review 242: only the postcode with its city was searched for, so a note writing the
    postcode alone kept it."""
    assert _json("address", address, f"pc {postcode} ok") == "pc [redacted] ok"


def test_taking_a_long_line_apart_reads_each_part_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 242: every part was compared with every piece (a 37 KB line took 10 s, a
    refused message's answer waited past its deadline and nothing was kept): each part is
    now read alone once, so the work grows with the line."""

    calls = 0
    real = address_line

    def counted(line: str, *, postal_first: bool = False) -> AddressLine:
        nonlocal calls
        calls += 1
        return real(line, postal_first=postal_first)

    monkeypatch.setattr(address_pieces_module, "address_line", counted)
    parts = [f"Gartenweg 3, X-1{i:04d}" for i in range(500)]
    anywhere, places = address_pieces(", ".join(parts))
    assert calls == 1 + len(parts) * 2  # the line once, each of its parts alone once
    assert "X-10499" in places and anywhere == ["Gartenweg 3"]


# a person's residence under a publisher's path of a thing's words (review 242)
PUBLISHERS_RESIDENCE_URLS = [
    "http://example.org/fhir/lab/StructureDefinition/residence", "urn:lab:residence",
    "http://example.org/fhir/StructureDefinition/residence-location",
    "http://example.org/site/StructureDefinition/wohnort",
]  # fmt: skip


@pytest.mark.parametrize("url", PUBLISHERS_RESIDENCE_URLS)
def test_a_publishers_path_never_makes_a_residence_a_things_place(url: str) -> None:
    """Review 242: a ``lab`` or ``site`` anywhere in the path turned a residence off."""
    assert is_place_url(url)
    ext = [{"url": url, "valueString": "Gartenweg 3, 3600 Thun"}]
    assert "Gartenweg 3" not in _fhir([PATIENT], "wohnt Gartenweg 3, 3600 Thun", ext)


@pytest.mark.parametrize("street", ["45 W 122nd St", "4500 SW 8th St"])
def test_a_street_line_no_rule_names_is_scrubbed_whole(street: str) -> None:
    """Review 246: a token of it (``122nd``, ``4500 SW``) was searched for, and the rest of
    the line kept in notes."""
    assert _json("address", street, f"lives {street} now") == "lives [redacted] now"


@pytest.mark.parametrize(
    "url",
    ["http://x.org/StructureDefinition/lab-city", "http://x.org/performer-city",
     "http://x.org/facility-ort", "http://x.org/site-city", "http://x.org/labor-ort"],
)  # fmt: skip
def test_a_things_word_in_the_extensions_own_name_makes_no_persons_place(url: str) -> None:
    """Review 246: the lab's own city in such an extension cut the lab's name from notes."""
    assert not is_place_url(url)
    ext = [{"url": url, "valueString": "3010 Bern"}]
    assert _fhir([PATIENT], "Befund Labor 3010 Bern", ext) == "Befund Labor 3010 Bern"
