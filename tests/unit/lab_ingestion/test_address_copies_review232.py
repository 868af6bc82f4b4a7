"""Review 232: kept JSON and FHIR copies take an address apart by HL7's rule
(``address_lines.address_pieces``), never searching a value holding a digit and a letter for
whole. Both directions, over any address: nothing of it (the street with its house number,
the city, a full postcode) is kept in free text; an id, a range or a sender's name equal to a
short piece (``12 B``, ``3 L``) or to a postal code with its city (``3600 THUN``) is kept as
sent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.address_lines import (
    _APARTMENT,
    _LABELS,
    _STREET_WORDS,
    address_line,
    line_places,
)
from services.lab_ingestion.adapters.address_pieces import address_pieces
from services.lab_ingestion.adapters.address_words import _UNITS
from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.hl7_codec import redact
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.redaction import REDACTED, Secrets
from tests.unit.lab_ingestion.test_places_in_free_text import pid

MRN = "ZZMRN98765432"
_SPECIAL = _UNITS | _STREET_WORDS | _LABELS | _APARTMENT | {"redacted"}
words = (
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10)
    .map(str.title)
    .filter(lambda w: w.lower() not in _SPECIAL)
)
codes = st.integers(1000, 99999)
house_numbers = st.integers(1, 999)
# a piece of a line that is only a number with a letter or a unit
short_pieces = st.builds(
    "{} {}".format, st.integers(1, 99), st.sampled_from(["B", "b", "L", "mg", "ml", "IU", "U"])
)


def _hash(_: str) -> str:
    return "ab" * 32


def _json(patient: Mapping[str, object], result: Mapping[str, object], facility: str) -> Any:
    body = {"message_id": "J-1", "source": {"application": "LIS", "facility": facility},
            "patient": {"identifier": MRN, **patient},
            "results": [{"result_id": "R1", "reference_range": "0-5", **result}]}  # fmt: skip
    return redact_json(body, _hash)


def _fhir(address: Mapping[str, object], *, ident: str, rng: str, note: str, source: str) -> Any:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:hosp", "value": MRN}],
        "address": [address],
    }
    body = {
        "resourceType": "Observation", "status": "final", "meta": {"source": source},
        "identifier": [{"system": "urn:lab", "value": ident}],
        "contained": [patient], "subject": {"reference": "#p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}], "text": "CRP"},
        "valueQuantity": {"value": 20, "unit": "mg/L"}, "referenceRange": [{"text": rng}],
        "component": [{"code": {"text": "note"}, "valueString": note}],
    }  # fmt: skip
    return redact_fhir(body, _hash)


def _left(text: str, *pieces: str) -> list[str]:
    """The pieces still found in ``text`` as whole words, any case (``[redacted]`` aside)."""
    rest = text.replace(REDACTED, " ")
    return [p for p in pieces if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", rest, re.I)]


# --- nothing of the address is kept in free text -------------------------------------


@given(street=words, number=house_numbers, code=codes, city=words, key=st.sampled_from(
    ["address", "address_line_1", "home_address", "strasse"]))  # fmt: skip
def test_json_one_line_address_leaves_nothing_in_a_note(
    street: str, number: int, code: int, city: str, key: str
) -> None:
    line = f"{street}weg {number}, {code} {city}"
    note = f"wohnt in {city}, {street}weg {number} ({code} {city})"
    kept = _json({key: line}, {"reference_range": note}, "HOSP")
    rng = kept["results"][0]["reference_range"]
    assert not _left(rng, city, f"{street}weg", f"{street}weg {number}", f"{code} {city}"), rng


@given(street=words, number=house_numbers, code=codes, city=words)
def test_json_split_address_leaves_nothing_in_a_note(
    street: str, number: int, code: int, city: str
) -> None:
    patient = {"street": f"{street}weg {number}", "city": city, "zip": str(code)}
    note = f"wohnt in {city}, {street}weg {number}"
    rng = _json(patient, {"reference_range": note}, "HOSP")["results"][0]["reference_range"]
    assert not _left(rng, city, f"{street}weg", f"{street}weg {number}"), rng


@given(street=words, number=house_numbers, code=codes, city=words, postal_city=st.booleans())
def test_fhir_address_leaves_nothing_in_a_note(
    street: str, number: int, code: int, city: str, postal_city: bool
) -> None:
    """A city written with its postal code (``city: 3600 Thun``) or apart from it."""
    address = (
        {"line": [f"{street}weg {number}"], "city": f"{code} {city}"}
        if postal_city
        else {"line": [f"{street}weg {number}"], "city": city, "postalCode": str(code)}
    )
    note = f"wohnt in {city}, {street}weg {number}, {code} {city}"
    kept = _fhir(address, ident="R1", rng="0-5", note=note, source="urn:lab")
    text = kept["component"][0]["valueString"]
    assert not _left(text, city, f"{street}weg", f"{street}weg {number}", f"{code} {city}"), text


@pytest.mark.parametrize("code", ["SW1A 2AA", "sw1a 2aa", "SW1A2AA", "K1A 0B1", "k1a0b1"])
def test_a_full_postcode_of_letters_and_digits_is_scrubbed_however_written(code: str) -> None:
    """A FHIR ``postalCode`` or JSON ``zip`` holding a postcode of letters and digits, in
    lower case or without its space too, is searched for everywhere, the sender's too."""
    note = f"post to {code} please"
    kept = _json({"zip": code}, {"reference_range": note, "result_id": code}, "HOSP")
    assert kept["results"][0]["reference_range"] == f"post to {REDACTED} please", kept
    assert kept["results"][0]["result_id"] == REDACTED, kept
    fhir = _fhir({"postalCode": code, "city": "London"}, ident="R1", rng="0-5", note=note,
                 source="urn:lab")  # fmt: skip
    assert fhir["component"][0]["valueString"] == f"post to {REDACTED} please", fhir


# --- what a replay or the sender's name reads is kept as sent -------------------------


@given(street=words, number=house_numbers, code=codes, city=words, piece=short_pieces,
       where=st.sampled_from(["result_id", "reference_range"]),
       key=st.sampled_from(["address_line_2", "address2", "home_address"]))  # fmt: skip
def test_json_short_piece_of_an_address_leaves_an_id_or_range_as_sent(
    street: str, number: int, code: int, city: str, piece: str, where: str, key: str
) -> None:
    patient = {"address": f"{street}weg {number}, {code} {city}", key: piece}
    kept = _json(patient, {where: piece}, "HOSP")
    assert kept["results"][0][where] == piece, kept


@given(street=words, number=house_numbers, code=codes, city=words, piece=short_pieces)
def test_fhir_short_line_leaves_an_identifier_and_range_as_sent(
    street: str, number: int, code: int, city: str, piece: str
) -> None:
    address = {"line": [f"{street}weg {number}", piece], "city": city, "postalCode": str(code)}
    kept = _fhir(address, ident=piece, rng=piece, note="ok", source="urn:lab")
    assert kept["identifier"][0]["value"] == piece, kept
    assert kept["referenceRange"][0]["text"] == piece, kept


@given(street=words, number=house_numbers, code=codes, city=words,
       form=st.sampled_from(["line", "alone", "city"]))  # fmt: skip
def test_json_postcode_with_its_city_leaves_the_source_and_ids_as_sent(
    street: str, number: int, code: int, city: str, form: str
) -> None:
    """``LIS^3600 THUN``: the sender keeps its name (what its rejection is listed under),
    and an id named after it stays, while a note's ``3600 Thun`` is scrubbed."""
    patient = {
        "line": {"address": f"{street}weg {number}, {code} {city}"},
        "alone": {"address": f"{code} {city}"},
        "city": {"city": f"{code} {city}"},
    }[form]
    facility = f"{code} {city.upper()}"
    result = {"result_id": facility, "reference_range": f"aus {code} {city}"}
    kept = _json(patient, result, facility)
    assert kept["source"] == {"application": "LIS", "facility": facility}, kept
    assert kept["results"][0]["result_id"] == facility, kept
    assert kept["results"][0]["reference_range"] == f"aus {REDACTED}", kept


@given(street=words, number=house_numbers, code=codes, city=words)
def test_fhir_postcode_with_its_city_leaves_the_identifier_and_source_as_sent(
    street: str, number: int, code: int, city: str
) -> None:
    named = f"{code} {city.upper()}"
    address = {"line": [f"{street}weg {number}"], "city": f"{code} {city}"}
    kept = _fhir(address, ident=named, rng="0-5", note=f"aus {code} {city}", source=named)
    assert kept["identifier"][0]["value"] == named, kept
    assert kept["meta"]["source"] == named, kept
    assert kept["component"][0]["valueString"] == f"aus {REDACTED}", kept


# --- one rule: the pieces HL7's address components give -------------------------------


@given(piece=short_pieces, postal_first=st.booleans())
def test_a_short_piece_alone_is_no_secret(piece: str, postal_first: bool) -> None:
    secrets = Secrets()
    secrets.address(piece, postal_first=postal_first)
    assert not secrets and not secrets.places
    assert address_pieces(piece, postal_first=postal_first) == ([], [])


@given(street=words, number=house_numbers, code=codes, city=words, postal_first=st.booleans())
def test_json_and_fhir_secrets_are_the_line_pieces(
    street: str, number: int, code: int, city: str, postal_first: bool
) -> None:
    """``Secrets.address`` searches for what ``address_line`` gives, never the whole."""
    value = f"{street}weg {number}, {code} {city}"
    line = address_line(value, postal_first=postal_first)
    secrets = Secrets()
    secrets.address(value, postal_first=postal_first)
    assert value not in secrets
    assert set(line.numbered) <= secrets.keys()
    assert set(line_places(line)) <= secrets.places
    secrets = Secrets()  # ``3600 Thun``: a place, never searched for everywhere
    secrets.address(f"{code} {city}", postal_first=postal_first)
    assert not secrets and f"{code} {city}" in secrets.places


@pytest.mark.parametrize("code", ["sw1a 2aa", "SW1A2AA", "k1a0b1"])
def test_hl7_postal_code_component_so_written_is_scrubbed_too(code: str) -> None:
    """The same rule for HL7's PID-11.5 (one implementation: ``address_lines``)."""
    message = "\r".join([
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
        pid(f11=f"10 Downing Street^^London^^{code}^UK"), f"NTE|1||post to {code} please",
    ])  # fmt: skip
    assert redact(message, _hash).split("\r")[-1] == f"NTE|1||post to {REDACTED} please"
