"""Review 224: of an address written on one line only a postal code names the city after it
(a house number written first names a street, and the part after it is a place, never a
country); and no piece of a line is searched for that is short or only a number with a letter
or a unit (``12 B``, ``3 L``, ``12 mg``), so what a replay reads stays as sent."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.address_lines import address_line, line_places
from services.lab_ingestion.adapters.address_words import MIN_PIECE
from services.lab_ingestion.adapters.hl7_codec import redact
from tests.unit.lab_ingestion.test_places_in_free_text import pid

HASH = "ab" * 32
TS = "20261120081500+0100"
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10).map(str.title)


@pytest.mark.parametrize(
    ("line", "city"),
    [("12 rue de la Paix, Metz", "Metz"), ("5 Oak Rd, Bath", "Bath"),
     ("1234 Main St, Springfield", "Springfield"), ("12345 Oak Avenue, Springfield, USA", "USA")],
)  # fmt: skip
def test_a_part_after_a_house_number_written_first_is_a_place(line: str, city: str) -> None:
    assert city in line_places(address_line(line))


@given(number=st.integers(1, 99999), street=words, city=words)
def test_a_house_number_never_names_a_city(number: int, street: str, city: str) -> None:
    """Whatever its digits, a number first on the line is a house number: the part after
    its street is a place (a city), never taken for a country."""
    assert city in line_places(address_line(f"{number} {street} St, {city}"))


@given(
    street=words, number=st.integers(1, 999), code=st.integers(1000, 99999), city=words,
    country=words, prefix=st.sampled_from(["", "CH-", "D-", "PLZ "]),
)  # fmt: skip
def test_a_postal_code_names_the_city_and_what_follows_is_a_country(
    street: str, number: int, code: int, city: str, country: str, prefix: str
) -> None:
    """``Gartenweg 3, 3600 Thun, Schweiz``: the city and the code with it are places (kept
    where a replay reads them), the street with its house number a secret, the country not
    searched for."""
    parts = address_line(f"{street}weg {number}, {prefix}{code} {city}, {country}")
    places = line_places(parts)
    assert city in places and f"{code} {city}" in places
    assert parts.numbered == [f"{street}weg {number}"]
    assert country not in places or country in (city, f"{street}weg")


pieces = st.one_of(
    st.sampled_from(["B", "b", "L", "mg", "mmol", "ml", "IU", "U", "µmol", "a", "bis"]),
    words,
)


@given(
    street=words, number=st.integers(1, 99999), after=pieces,
    code=st.integers(1000, 99999), city=words, first=st.booleans(),
)  # fmt: skip
def test_no_piece_is_short_or_only_a_number_with_a_letter_or_unit(
    street: str, number: int, after: str, code: int, city: str, first: bool
) -> None:
    # four digits and two capitals read as a Dutch postcode (``1000 IU``), searched alone as
    # the patient's (review 227): a postcode kept is worse than a dose cut from a note
    assume(not (len(str(number)) == 4 and len(after) == 2 and after.isupper()))
    line = (
        f"{number} {after}, {code} {city}"
        if first
        else f"{street}weg {number} {after}, {code} {city}"
    )
    parts = address_line(line)
    for piece in [*parts.numbered, *parts.places]:
        letters = [w.strip(".") for w in piece.split() if w.strip(".").isalpha()]
        assert any(len(w) >= 3 and w.lower() not in {"mmol", "µmol"} for w in letters), piece
    for piece in parts.numbered:
        assert len(piece) >= MIN_PIECE, piece
        assert piece != f"{number} {after}" or len(after) >= 3, piece


def _message(address: str, msh: str, order: str, unit: str, range_: str, note: str) -> str:
    return "\r".join([
        f"MSH|^~\\&|{msh}|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
        pid(f11=address), f"ORC|RE|{order}|F{order}", f"OBR|1|{order}|F{order}|CRP^CRP^L|||{TS}",
        f"OBX|1|NM|1988-5^CRP^LN||3|{unit}|{range_}|N|||F|||{TS}", f"NTE|1||{note}",
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("address", "msh", "order", "unit", "range_", "note"),
    [
        ("Haus 12 B, 3600 Thun", "LIS|HOSP", "12 B", "mg/L", "<5", "ok"),
        ("Gartenweg 12 mg, 3600 Thun", "LIS|HOSP", "ORD1", "mg/L", "0-5", "CRP 12 mg/L"),
        ("Gartenweg 3 L, 3600 Thun", "LIS|HOSP", "ORD1", "L", "3 L", "ok"),
        ("Labor 3, 3600 Thun", "LABOR|3600 THUN", "ORD1", "mg/L", "0-5", "ok"),
        ("Spital 1, 3000 Bern", "LIS|3000 BERN", "ORD1", "mg/L", "0-5", "ok"),
        ("D-61348 Bad Homburg", "LIS|61348 BAD HOMBURG", "ORD1", "mg/L", "0-5", "ok"),
    ],
)  # fmt: skip
def test_what_a_replay_reads_stays_as_sent(
    address: str, msh: str, order: str, unit: str, range_: str, note: str
) -> None:
    """Review 224: the order number ``12 B``, a note's ``12 mg/L``, a range ``3 L``, MSH-4
    ``3600 THUN`` or ``3000 BERN`` (a postcode with its city, a place) were cut."""
    message = _message(address, msh, order, unit, range_, note)
    sent, kept = message.split("\r"), redact(message, lambda _: HASH).split("\r")
    assert [line for line in kept if not line.startswith("PID")] == [
        line for line in sent if not line.startswith("PID")
    ]


def test_a_street_with_its_house_number_is_scrubbed_from_the_senders_name() -> None:
    """As the README says of a street with its house number: the sender's name included
    (``SPITAL 1`` of ``Spital 1, 3000 Bern``); its postcode and city stay (a place)."""
    message = _message("Spital 1, 3000 Bern", "SPITAL 1|3000 BERN", "ORD1", "mg/L", "0-5", "ok")
    msh = redact(message, lambda _: HASH).split("\r")[0]
    assert msh.startswith("MSH|^~\\&|[redacted]|3000 BERN|"), msh


def test_the_pieces_are_still_scrubbed_from_a_note() -> None:
    message = _message(
        "Haus 12 B, 3600 Thun", "LIS|HOSP", "ORD1", "mg/L", "0-5",
        "wohnt Haus 12 B in 3600 Thun; Haus 12; PLZ 3600 Thun",
    )  # fmt: skip
    note = redact(message, lambda _: HASH).split("\r")[-1]
    assert note == "NTE|1||wohnt [redacted] in [redacted]; [redacted]; PLZ [redacted]", note
