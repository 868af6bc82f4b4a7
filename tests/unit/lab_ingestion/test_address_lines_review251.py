"""Review 251: what of an address a kept copy still held, and what must stay as sent.

- a house number with its letter after a slash (``123/G``) is searched for whatever its
  letter spells; a number with a unit spelled with signs is one only when the whole reads
  as a unit (``12 mg/dL``, ``5 10*9/L``, ``5 U/L``, ``40 %``; never ``12 m/2``);
- apostrophes (``Cap-d'Ail``, ``L'Aquila``) and dashes (an en dash, a non-breaking hyphen)
  join the runs of letters of a place's word;
- a city followed by a canton in parentheses or after a slash (``Thun (BE)``,
  ``Saas-Fee/VS``) is a place alone too; the canton's code is never searched for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.address_lines import address_line, line_places
from services.lab_ingestion.adapters.address_pieces import (
    _number_and_letter,
    _unit_or_letter,
    address_pieces,
)
from services.lab_ingestion.adapters.address_words import _letters, _segments
from services.lab_ingestion.adapters.hl7_codec import redact
from services.lab_ingestion.adapters.secret_spellings import place_spellings
from tests.unit.lab_ingestion.test_address_copies_review240 import PATIENT, _fhir
from tests.unit.lab_ingestion.test_address_copies_review240 import _json as _json_range
from tests.unit.lab_ingestion.test_address_lines_review224 import HASH
from tests.unit.lab_ingestion.test_address_lines_review248 import _message

lower = "abcdefghijklmnopqrstuvwxyz"
runs = st.text(alphabet=lower, min_size=2, max_size=6)
DASHES = ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014"]
JOINERS = [*DASHES, "'", "\u2019"]

# --- a house number with its letter after a slash ---------------------------------------


@given(number=st.integers(100, 99_999), letter=st.sampled_from(lower + lower.upper()))
def test_a_house_number_with_its_letter_after_a_slash_is_searched_for(
    number: int, letter: str
) -> None:
    flat = f"{number}/{letter}"
    assert not _number_and_letter(flat)
    numbered, places = address_pieces(f"Via Roma {flat}")
    assert numbered == [f"Via Roma {flat}"] and flat in places


@pytest.mark.parametrize("letter", ["B", "G", "L", "M", "u"])
def test_a_note_repeating_a_house_number_with_its_letter_is_scrubbed(letter: str) -> None:
    message = _message(
        f"Via Roma 123/{letter}^^Roma^^00100^IT", "LIS|HOSP", "O1", f"Whg 123/{letter}"
    )
    assert redact(message, lambda _: HASH).split("\r")[-1] == "NTE|1||Whg [redacted]"


units = st.sampled_from([
    "mg/dL", "mmol/L", "10*9/L", "10^9/L", "g/L", "G/L", "%", "U/L", "mg/L", "kg/m^2",
    "mL/min", "mg%",
])  # fmt: skip


@given(number=st.integers(0, 9999), unit=units, blank=st.sampled_from(["", " "]))
def test_a_number_with_a_unit_spelled_with_signs_stays_unsearched(
    number: int, unit: str, blank: str
) -> None:
    assert _number_and_letter(f"{number}{blank}{unit}")
    assert address_pieces(f"{number}{blank}{unit}") == ([], [])


@pytest.mark.parametrize(
    "part", ["12 m/2", "12/BC", "12 mg/Thun", "123*G", "12 mg//dL", "12 %/L", "12 /G", "12 10/2"]
)
def test_a_number_with_what_reads_as_no_unit_is_searched_for(part: str) -> None:
    assert not _number_and_letter(part)


@given(text=st.text(alphabet="gGLMu" + "/*^%" + "0123456789", min_size=1, max_size=8))
def test_a_unit_never_starts_with_a_slash(text: str) -> None:
    if text.startswith("/"):
        assert not _unit_or_letter(text)


def test_ranges_units_and_orders_reading_as_units_stay_as_sent() -> None:
    message = _message(
        "Via Roma 123/G, 3600 Thun (BE)^^^^^CH", "LIS|Thun-Lab", "THUN-123",
        "5 10*9/L, 5 U/L, 40 %, 12 mg/dL", "5 U/L",
    )  # fmt: skip
    sent, kept = message.split("\r"), redact(message, lambda _: HASH).split("\r")
    assert [s for s in kept if not s.startswith("PID")] == [
        s for s in sent if not s.startswith("PID")
    ]


# --- apostrophes and dashes join a place's letters -----------------------------------------


@given(parts=st.lists(runs, min_size=2, max_size=4), joiner=st.sampled_from(JOINERS))
def test_runs_of_letters_joined_by_an_apostrophe_or_a_dash_are_a_word(
    parts: list[str], joiner: str
) -> None:
    assert _letters(joiner.join(parts).title())


@given(part=runs, joiner=st.sampled_from(JOINERS))
def test_a_joiner_needs_letters_on_both_sides(part: str, joiner: str) -> None:
    assert not _letters(f"{part}{joiner}") and not _letters(f"{joiner}{part}")
    assert not _letters(f"{part}{joiner}12") and not _letters(f"{part}.{joiner}")
    assert _letters(f"{part}.{joiner}{part}") and not _letters(f"{part}{joiner}.{part}")


@pytest.mark.parametrize(
    ("line", "city"),
    [
        ("Rue du Port 5, Cap-d'Ail", "Cap-d'Ail"),
        ("Rue du Port 5, 06320 Cap-d'Ail", "Cap-d'Ail"),
        ("Rue Max Jacob 5, 29120 Pont-l'Abbé", "Pont-l'Abbé"),
        ("Rue du Port 5, L'Isle-sur-la-Sorgue", "L'Isle-sur-la-Sorgue"),
        ("Via Roma 5, 67100 L\u2019Aquila", "L\u2019Aquila"),
        ("Dorfstrasse 5, 3906 Saas\u2013Fee", "Saas\u2013Fee"),
        ("Gartenweg 3, St.-Gallen", "St.-Gallen"),
        ("Gartenweg 3, 9000 St.-Gallen", "St.-Gallen"),
    ],
)
def test_a_city_with_an_apostrophe_or_a_dash_is_a_place(line: str, city: str) -> None:
    assert city in line_places(address_line(line))
    message = _message(f"{line}^^^^^FR", "LIS|HOSP", "O1", f"wohnt in {city} seit 2020")
    assert redact(message, lambda _: HASH).split("\r")[-1] == "NTE|1||wohnt in [redacted] seit 2020"


@given(
    parts=st.lists(runs, min_size=2, max_size=3), dash=st.sampled_from(DASHES),
    code=st.sampled_from(["3906 ", "CH-3906 ", ""]),
)  # fmt: skip
def test_a_dashed_city_is_searched_as_written_with_a_hyphen_and_with_blanks(
    parts: list[str], dash: str, code: str
) -> None:
    city = dash.join(parts).title()
    places = line_places(address_line(f"Dorfstrasse 5, {code}{city}"))
    assert {city, city.replace(dash, "-"), city.replace(dash, " ")} <= set(places)


def test_place_spellings_part_a_place_at_dashes() -> None:
    assert place_spellings("Saas\u2011Fee") == ["Saas\u2011Fee", "Saas Fee", "Saas-Fee"]


# --- a city with its canton in parentheses or after a slash --------------------------------


@given(
    city=st.text(alphabet=lower, min_size=3, max_size=8).map(str.title),
    canton=st.sampled_from(["BE", "VS", "ZH", "NRW"]),
    written=st.sampled_from(["{} ({})", "{}/{}", "{} / {}", "{}({})"]),
    code=st.sampled_from(["3600 ", "CH-3600 ", ""]),
)  # fmt: skip
def test_a_city_before_its_canton_is_a_place_alone_and_the_canton_never(
    city: str, canton: str, written: str, code: str
) -> None:
    places = line_places(address_line(f"Gartenweg 3, {code}{written.format(city, canton)}"))
    assert canton not in places
    assert city in places, places  # its canton follows: a city however short (review 254)
    if code:
        assert f"{code}{city}" in places


@pytest.mark.parametrize(
    ("place", "forms"),
    [
        ("Thun (BE)", ["Thun (BE)", "Thun"]),
        ("Thun (BE", ["Thun (BE)", "Thun"]),
        ("Saas-Fee/VS", ["Saas-Fee/VS", "Saas-Fee"]),
        ("Biel/Bienne", ["Biel/Bienne", "Biel", "Bienne"]),
        ("Frankfurt (Oder)", ["Frankfurt (Oder)", "Frankfurt"]),
        ("Thun", ["Thun"]),
    ],
)
def test_the_forms_of_a_place_with_a_canton_or_other_name(place: str, forms: list[str]) -> None:
    assert _segments(place) == forms


@pytest.mark.parametrize(
    ("line", "note", "kept"),
    [
        ("Gartenweg 3, 3600 Thun (BE)", "wohnt in Thun", "wohnt in [redacted]"),
        ("Gartenweg 3, 3600 Thun (BE)", "aus Thun (BE)", "aus [redacted]"),
        ("Dorfstrasse 5, Saas-Fee/VS", "aus Saas-Fee", "aus [redacted]"),
        ("Dorfstrasse 5, Saas-Fee/VS", "Kanton VS", "Kanton VS"),
    ],
)
def test_a_city_named_without_its_canton_is_scrubbed(line: str, note: str, kept: str) -> None:
    message = _message(f"{line}^^^^^CH", "LIS|HOSP", "O1", note)
    assert redact(message, lambda _: HASH).split("\r")[-1] == f"NTE|1||{kept}"


# --- JSON and FHIR copies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "written"),
    [
        ("Rue du Port 5, 06320 Cap-d'Ail", "Cap-d'Ail"),
        ("Dorfstrasse 5, 3906 Saas\u2013Fee", "Saas\u2013Fee"),
        ("Gartenweg 3, 3600 Thun (BE)", "Thun"),
        ("Via Roma 123/G, 00100 Roma", "123/G"),
    ],
)
def test_json_and_fhir_copies_scrub_the_address_from_notes(line: str, written: str) -> None:
    assert _json_range("address", line, f"aus {written}") == "aus [redacted]"
    patient = {**PATIENT, "address": [{"line": [line]}]}
    assert _fhir([patient], f"aus {written}") == "aus [redacted]"


@pytest.mark.parametrize(
    ("line", "short"),
    [("Gartenweg 3, App. (links), 3600 Thun", "App"), ("Gartenweg 3, Ost/West", "Ost"),
     ("Gartenweg 3, Lab (Bern)", "Lab"), ("Gartenweg 3, Whg. (links)", "Whg")],
)  # fmt: skip
def test_a_short_word_before_a_bracket_or_slash_is_no_place_alone(line: str, short: str) -> None:
    """Review 253: only a city after its postal code is searched by its name alone however
    short; another part's name before the signs only of five letters or more."""
    _, places = address_pieces(line)
    assert short not in places, places


def test_a_city_after_its_postal_code_is_a_place_by_its_short_name() -> None:
    _, places = address_pieces("Gartenweg 3, 3600 Thun (BE)")
    assert "Thun" in places and "3600 Thun" in places, places


@pytest.mark.parametrize(
    "line", ["Gartenweg 3, 6300, Zug (ZG)", "Gartenweg 3, Thun/BE, 3600", "Gartenweg 3, Zug/ZG"]
)
def test_a_short_name_before_a_canton_code_is_a_place(line: str) -> None:
    """Review 254: a city with its canton, its postal code in a part of its own or none."""
    _, places = address_pieces(line)
    assert {"Zug", "Thun"} & set(places), places
