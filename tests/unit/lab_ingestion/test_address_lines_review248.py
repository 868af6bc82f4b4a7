"""Review 248: a hyphenated word of letters (``Saas-Fee``, ``Chuo-ku``) is a word of letters,
so the city of an address written on one line is a place, searched for whole and parted by a
blank, and a note repeating it is scrubbed; what only shares a piece of it (a sender
``Saas-Lab``, an order ``SAAS-7``) stays as sent. An address part that is a number with a
unit spelled with ``/``, ``*``, ``^`` or ``%`` (``12 mg/dL``) is never searched for alone."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.address_lines import address_line, line_places
from services.lab_ingestion.adapters.address_pieces import _number_and_letter, address_pieces
from services.lab_ingestion.adapters.address_words import _letters
from services.lab_ingestion.adapters.hl7_codec import redact
from tests.unit.lab_ingestion.test_address_lines_review224 import HASH, TS
from tests.unit.lab_ingestion.test_places_in_free_text import pid

lower = "abcdefghijklmnopqrstuvwxyz"
runs = st.text(alphabet=lower, min_size=2, max_size=6)
hyphenated = st.lists(runs, min_size=2, max_size=3).map(lambda r: "-".join(r).title())


@given(place=hyphenated)
def test_a_hyphenated_word_of_letters_is_a_word_of_letters(place: str) -> None:
    assert _letters(place)


@given(text=st.text(alphabet=lower + "-0123456789/", min_size=1, max_size=12))
def test_a_word_of_letters_has_letters_on_both_sides_of_each_hyphen(text: str) -> None:
    parts = text.split("-")
    assert _letters(text) == all(part and part.isalpha() for part in parts)


@given(
    place=hyphenated, street=st.sampled_from(["Dorfstrasse", "Gartenweg", "Rue du Midi"]),
    number=st.integers(1, 999), code=st.sampled_from(["3906 ", "CH-3906 ", ""]),
)  # fmt: skip
def test_a_hyphenated_city_of_a_one_line_address_is_a_place(
    place: str, street: str, number: int, code: str
) -> None:
    places = line_places(address_line(f"{street} {number}, {code}{place}"))
    assert place in places and place.replace("-", " ") in places


@given(place=hyphenated, number=st.integers(1, 99))
def test_a_hyphenated_part_alone_after_a_street_written_first_is_a_place(
    place: str, number: int
) -> None:
    _, places = address_pieces(f"{number}-2-3 Ginza, {place}, Tokyo")
    assert place in places and place.replace("-", " ") in places


@pytest.mark.parametrize("code", ["3906", "CH-3906"])
def test_a_postal_code_with_a_hyphenated_city_alone_is_a_place(code: str) -> None:
    for line in (
        address_line(f"{code} Saas-Fee"),
        address_line(f"{code} Saas-Fee", postal_first=True),
    ):
        assert line.numbered == [] and "Saas-Fee" in line_places(line)


@pytest.mark.parametrize("word", ["mg-dl", "mmol-l"])
def test_a_hyphenated_word_of_units_names_no_place(word: str) -> None:
    assert address_line(f"Gartenweg 3, {word}").places == []


def _message(address: str, sender: str, order: str, note: str, range_: str = "0-5") -> str:
    return "\r".join([
        f"MSH|^~\\&|{sender}|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
        pid(f11=address), f"ORC|RE|{order}|F{order}", f"OBR|1|{order}|F{order}|CRP^CRP^L|||{TS}",
        f"OBX|1|NM|1988-5^CRP^LN||3|mg/L|{range_}|N|||F|||{TS}", f"NTE|1||{note}",
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("address", "note", "kept"),
    [
        ("Dorfstrasse 5, 3906 Saas-Fee^^^^^CH", "wohnt in Saas-Fee seit 2020",
         "NTE|1||wohnt in [redacted] seit 2020"),
        ("Dorfstrasse 5, Saas-Fee^^^^^CH", "aus Saas Fee", "NTE|1||aus [redacted]"),
        ("1-2-3 Ginza, Chuo-ku, Tokyo^^^^^JP", "wohnt in Chuo-ku seit 2020",
         "NTE|1||wohnt in [redacted] seit 2020"),
    ],
)  # fmt: skip
def test_a_hyphenated_city_is_scrubbed_from_a_note(address: str, note: str, kept: str) -> None:
    message = _message(address, "LIS|HOSP", "ORD1", note)
    assert redact(message, lambda _: HASH).split("\r")[-1] == kept


@pytest.mark.parametrize(
    ("address", "sender", "order"),
    [
        ("Dorfstrasse 5, 3906 Saas-Fee^^^^^CH", "LIS|Saas-Lab", "SAAS-7"),
        ("Dorfstrasse 5, Saas-Fee^^^^^CH", "SAAS|FEE-LAB", "FEE-12"),
        ("1-2-3 Ginza, Chuo-ku, Tokyo^^^^^JP", "LIS|Chuo Lab", "KU-77"),
    ],
)
def test_what_only_shares_a_piece_of_the_city_stays_as_sent(
    address: str, sender: str, order: str
) -> None:
    message = _message(address, sender, order, "ok")
    sent, kept = message.split("\r"), redact(message, lambda _: HASH).split("\r")
    assert [s for s in kept if not s.startswith("PID")] == [
        s for s in sent if not s.startswith("PID")
    ]


units = st.sampled_from(["mg/dL", "mmol/L", "10*9/L", "10^9/L", "g/L", "%", "U/L", "mg/L"])


@given(number=st.integers(0, 9999), unit=units, blank=st.sampled_from(["", " "]))
def test_a_number_with_a_unit_spelled_with_signs_is_never_searched_for_alone(
    number: int, unit: str, blank: str
) -> None:
    assert _number_and_letter(f"{number}{blank}{unit}")
    assert address_pieces(f"{number}{blank}{unit}") == ([], [])


@pytest.mark.parametrize("part", ["12/BC", "12 Thun", "12 mg/Thun", "12 x/yz"])
def test_a_number_with_words_other_than_units_is_searched_for(part: str) -> None:
    assert not _number_and_letter(part)


def test_an_address_part_of_a_number_and_unit_cuts_no_range_or_note() -> None:
    message = _message("12 mg/dL^^Bern^^3000^CH", "LIS|HOSP", "ORD1", "limit 12 mg/dL", "12 mg/dL")
    sent, kept = message.split("\r"), redact(message, lambda _: HASH).split("\r")
    assert [s for s in kept if not s.startswith("PID")] == [
        s for s in sent if not s.startswith("PID")
    ]


def test_a_long_run_of_digits_is_read_in_linear_time() -> None:
    """A unit spelled with signs let a long run of digits backtrack (seconds for 50,000)."""
    started = time.perf_counter()
    for part in ("1" * 50_000 + "x!", "1 " + "a/" * 25_000 + "!", "1" * 50_000 + "/" * 50_000):
        _number_and_letter(part)
    assert time.perf_counter() - started < 2
