"""Review 213: an address written on one line is taken apart (``address_lines``) in kept HL7
and JSON copies alike, and JSON keys naming a place or an address line are known by their
words in several languages, one rule with the log formatter's (``shared.phi_keys``)."""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.address_lines import address_line, line_places
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.scrub import REDACTED, Scrubber
from shared.jsonlog import is_phi_field
from shared.phi_keys import is_place_key, is_street_key
from tests.unit.lab_ingestion.test_places_parted_by_white_space import _nte


@pytest.mark.parametrize(
    ("line", "numbered", "places"),
    [
        # (review 224: a postal code with its city is a place, kept where a replay reads it)
        ("Gartenweg 3, 3600 Thun", ["Gartenweg 3"],
         ["3600 Thun", "3600-Thun", "Thun", "Gartenweg"]),
        ("Gartenweg 3, 3600 Thun, Schweiz", ["Gartenweg 3"],
         ["3600 Thun", "3600-Thun", "Thun", "Gartenweg"]),
        ("Gartenweg 3 3600 Thun", ["Gartenweg 3 3600 Thun", "Gartenweg 3"],
         ["Thun", "3600 Thun", "3600-Thun", "Gartenweg"]),
        ("Gartenweg 3, Thun", ["Gartenweg 3"], ["Thun", "Gartenweg"]),
        ("D-61348 Bad Homburg", [],
         ["D-61348 Bad Homburg", "D 61348 Bad Homburg", "D-61348-Bad-Homburg", "Bad Homburg",
          "Bad-Homburg", "61348 Bad Homburg", "61348-Bad-Homburg"]),
        ("Via Roma 5, 6900 Lugano TI", ["Via Roma 5"],
         ["6900 Lugano TI", "6900-Lugano-TI", "6900 Lugano", "6900-Lugano", "Lugano TI",
          "Lugano-TI", "Lugano", "Via Roma", "Roma"]),
        ("Gartenweg 3, PLZ 3600 Thun", ["Gartenweg 3"],
         ["PLZ 3600 Thun", "PLZ-3600-Thun", "Thun", "3600 Thun", "3600-Thun", "Gartenweg"]),
        ("5 INSURED WAY, 1234 Main ST", ["5 INSURED WAY"],
         ["INSURED WAY", "INSURED-WAY", "1234 Main ST", "1234-Main-ST", "Main ST", "Main-ST"]),
        ("Alte Bahnhofstrasse 12", ["Alte Bahnhofstrasse 12"],
         ["Alte Bahnhofstrasse", "Bahnhofstrasse"]),
    ],
)  # fmt: skip
def test_a_line_is_taken_apart(line: str, numbered: list[str], places: list[str]) -> None:
    parts = address_line(line)
    assert parts.numbered == numbered
    assert line_places(parts) == places


def test_no_short_everyday_word_of_a_line_is_a_place_alone() -> None:
    """A label before a postal code (``PLZ``) is no street, a country after the city is not
    searched, a street type (``Weg``) is never a word of its own."""
    found = line_places(address_line("Alter Weg 3, PLZ 3600 Thun, Schweiz"))
    assert found == [
        "PLZ 3600 Thun", "PLZ-3600-Thun", "Thun", "3600 Thun", "3600-Thun", "Alter Weg", "Alter"
    ]  # fmt: skip


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10).map(str.title)


@given(street=words, number=st.integers(1, 999), code=st.integers(1000, 99999), city=words)
@example(street="Aaaweg", number=1, code=1000, city="Percent")  # a city spelled as a unit
@example(street="Kerkstraat", number=4, code=2400, city="Mol")  # Mol, Belgium
def test_each_part_of_any_such_line_is_found_in_a_note(
    street: str, number: int, code: int, city: str
) -> None:
    assume(city.lower() not in {"crp", "plz", "wohnt"})  # (words of the note itself)
    parts = address_line(f"{street}weg {number}, {code} {city}")
    scrub = Scrubber(dict.fromkeys([*parts.numbered, *line_places(parts)], REDACTED))
    note = f"wohnt in {city}, {street}weg {number}; PLZ {code} {city}; CRP 5"
    assert scrub(note) == f"wohnt in {REDACTED}, {REDACTED}; PLZ {REDACTED}; CRP 5"


def test_a_one_line_address_in_pid11() -> None:
    note = _nte("Gartenweg 3, 3600 Thun^^^^^CH", "wohnt in Thun, Gartenweg 3, PLZ 3600 Thun")
    assert note == "wohnt in [redacted], [redacted], PLZ [redacted]"


def _json(patient: dict[str, object], rr: str, **extra: object) -> str:
    body = {"message_id": "J-1", "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": "MRN4711", **patient},
            "results": [{"result_id": "R1", "reference_range": rr}], **extra}  # fmt: skip
    out = redact_json(body, lambda _: "h" * 12)
    assert out["source"] == {"application": "LIS", "facility": "HOSP"}
    return str(out["results"][0]["reference_range"])


@pytest.mark.parametrize(
    "key",
    ["address", "adresse", "wohnadresse", "Anschrift", "strasse", "indirizzo", "direccion",
     "domicilio", "home_address", "postalAddress", "address_line_1", "line"],
)  # fmt: skip
def test_a_json_address_line_under_any_language_key(key: str) -> None:
    assert is_street_key(key)
    kept = _json({key: "Gartenweg 3, 3600 Thun"}, "Patient aus Thun, Gartenweg 3; PLZ 3600 Thun")
    assert kept == "Patient aus [redacted], [redacted]; PLZ [redacted]"


@pytest.mark.parametrize("key", ["birthplace", "hometown", "wohnort", "lieu_de_naissance"])
def test_a_place_key_outside_the_patient_is_searched_elsewhere(key: str) -> None:
    assert is_phi_field(key) and is_place_key(key)
    assert _json({}, "geboren Spiez, 5", **{key: "Spiez"}) == "geboren [redacted], 5"


@pytest.mark.parametrize(
    "key", ["email_address", "ethnicity", "addresses", "subject_id", "consumer", "topic", "ip"]
)
def test_keys_of_no_place_nor_address(key: str) -> None:
    assert not is_street_key(key) and not is_place_key(key)
