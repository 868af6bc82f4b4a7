"""Review 256: what follows a bracket or slash of an address part is a region only when it
names one (``regions.names_region``), not whenever it is two or three capitals.

D1 (PHI): a short city with its canton written otherwise (``zug (zg)``, ``Zug/zg``, ``Thun
(Kt. BE)``, ``Sion (Valais)``, ``Zug [ZG]``, ``Thun BE``), its postal code in a part of its
own or none, was searched for only whole; D2: an everyday word before a floor or unit
abbreviation (``App. (OG)``, ``Haus (EG)``, ``Whg/OG``, ``Tel/FAX``) was searched for alone
and cut from every note. A city before a country's code in capitals is a city (``Zug
(CH)``), so ``Lab (CH)`` searches ``Lab`` too: PHI first."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.address_pieces import address_pieces
from services.lab_ingestion.adapters.address_words import _segments, city_spellings
from services.lab_ingestion.adapters.secret_spellings import street_words
from services.lab_ingestion.domain.regions import (
    CANTON_CODES,
    FLOORS_AND_UNITS,
    names_region,
    region_after_a_blank,
)

lower = "abcdefghijklmnopqrstuvwxyz"
PREFIXES = ["", "Kt. ", "Kt ", "Kt.", "Kanton ", "Ct. ", "canton ", "Cantone "]
CASINGS = [str.upper, str.lower, str.title]
FLOORS = sorted(FLOORS_AND_UNITS)
SIGNS = ["{} ({})", "{}/{}", "{} / {}", "{}({})", "{} [{}]"]
everyday = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(lower.upper()),
    st.text(alphabet=lower, min_size=2, max_size=3),
)


# --- the region data ------------------------------------------------------------------------


@given(
    code=st.sampled_from(sorted(CANTON_CODES)),
    casing=st.sampled_from(CASINGS),
    prefix=st.sampled_from(PREFIXES),
)
def test_a_canton_code_in_any_case_after_any_prefix_names_a_region(
    code: str, casing: Callable[[str], str], prefix: str
) -> None:
    assert names_region(f"{prefix}{casing(code)}")


@pytest.mark.parametrize(
    "name",
    ["Valais", "Wallis", "Vallese", "Graubünden", "Graubuenden", "graubunden", "Grisons",
     "Grigioni", "Ticino", "Tessin", "VAUD", "Waadt", "Aargau", "Argovie", "Thurgau", "Jura",
     "Basel-Landschaft", "Basel Stadt", "Bâle-Ville", "Bale-Campagne", "Appenzell Ausserrhoden",
     "Appenzell Rhodes-Intérieures", "Nidwalden", "Obwald", "Uri"],
)  # fmt: skip
def test_a_canton_name_naming_no_town_is_a_region_however_written(name: str) -> None:
    assert names_region(name)


@pytest.mark.parametrize(
    "name", ["Bern", "Berne", "Zürich", "Zurich", "Genf", "Genève", "Geneva", "Luzern", "Zug",
             "St. Gallen", "Neuchâtel", "Fribourg", "Schwyz", "Glarus", "Solothurn"],
)  # fmt: skip
def test_a_canton_name_naming_its_capital_too_is_a_region_only_after_a_prefix(name: str) -> None:
    """``Lab (Bern)`` is a laboratory in Bern (review 253): its ``Lab`` stays in notes."""
    assert not names_region(name)
    for prefix in ["Kanton", "Kt.", "canton de", "Cantone di", "Canton of"]:
        assert names_region(f"{prefix} {name}"), prefix


@pytest.mark.parametrize("code", ["CH", "DE", "IT", "AT", "LI", "NY", "CA", "QC", "NSW", "NRW",
                                  "MI", "RM"])  # fmt: skip
def test_another_region_or_country_code_is_one_only_in_capitals(code: str) -> None:
    assert names_region(code)
    assert not names_region(code.lower()) and not names_region(code.title())


@given(floor=st.sampled_from(FLOORS), casing=st.sampled_from(CASINGS))
def test_a_floor_or_unit_abbreviation_is_never_a_region(
    floor: str, casing: Callable[[str], str]
) -> None:
    assert not names_region(casing(floor)) and not region_after_a_blank(casing(floor))


@pytest.mark.parametrize(
    "word",
    ["links", "rechts", "West", "Oder", "Bienne", "li", "re", "ok", "ja", "g", "L", "Kanton",
     "Kt.", "", "Kanton Thun"],
)  # fmt: skip
def test_other_words_are_no_region(word: str) -> None:
    assert not names_region(word)


@pytest.mark.parametrize("code", ["AG", "SA", "ST", "RD", "be", "Be", "OG", "XY"])
def test_a_company_form_a_street_type_or_a_code_not_in_capitals_ends_no_place_after_a_blank(
    code: str,
) -> None:
    """``Muster AG``, ``Labor SA``, ``1234 Main ST``: no region after the blank."""
    assert not region_after_a_blank(code)


# --- a place's forms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "city"),
    [
        ("Gartenweg 3, 6300, zug (zg)", "zug"),
        ("Gartenweg 3, 6300, Zug/zg", "Zug"),
        ("Gartenweg 3, 6300, Zug (Zg)", "Zug"),
        ("Gartenweg 3, 3600, Thun (Kt. BE)", "Thun"),
        ("Gartenweg 3, Thun (Kt. BE), 3600", "Thun"),
        ("Gartenweg 3, 3600, Thun (Kanton Bern)", "Thun"),
        ("Gartenweg 3, 1950, Sion (Valais)", "Sion"),
        ("Gartenweg 3, 6300, Zug [ZG]", "Zug"),
        ("Gartenweg 3, Zug[ZG", "Zug"),
        ("Gartenweg 3, 3600, Thun BE", "Thun"),
        ("Gartenweg 3, Zug (CH)", "Zug"),
        ("Gartenweg 3, Lab (CH)", "Lab"),  # a name before a country's code: a city (PHI first)
        ("Gartenweg 3, 6300, ZUG/ZG", "ZUG"),
        ("Gartenweg 3, 3600 Thun (BE)", "Thun"),
        ("Gartenweg 3, Saas-Fee/VS", "Saas-Fee"),
    ],
)
def test_a_city_before_its_region_is_searched_for_by_its_name(line: str, city: str) -> None:
    _, places = address_pieces(line)
    assert city in places, places


@pytest.mark.parametrize(
    ("line", "word"),
    [
        ("Gartenweg 3, App. (OG), 3600 Thun", "App"),
        ("Gartenweg 3, Haus (EG), 3600 Thun", "Haus"),
        ("Gartenweg 3, Whg/OG, 3600 Thun", "Whg"),
        ("Gartenweg 3, Ost (EG)", "Ost"),
        ("Gartenweg 3, Büro (DG)", "Büro"),
        ("Gartenweg 3, Tel/FAX", "Tel"),
        ("Gartenweg 3, App. (links), 3600 Thun", "App"),
        ("Gartenweg 3, Ost/West", "Ost"),
        ("Gartenweg 3, Lab (Bern)", "Lab"),
        ("Gartenweg 3, Muster AG", "Muster"),
    ],
)
def test_an_everyday_word_before_no_region_is_never_searched_alone(line: str, word: str) -> None:
    _, places = address_pieces(line)
    assert word not in places, places


@given(word=everyday, floor=st.sampled_from(FLOORS), sign=st.sampled_from(SIGNS))
def test_a_short_word_before_a_floor_is_never_searched_alone(
    word: str, floor: str, sign: str
) -> None:
    _, places = address_pieces(f"Gartenweg 3, {sign.format(word, floor)}, 3600 Thun")
    assert word not in places, places


@given(
    city=everyday,
    code=st.sampled_from(sorted(CANTON_CODES)),
    casing=st.sampled_from(CASINGS),
    prefix=st.sampled_from(PREFIXES),
    sign=st.sampled_from(SIGNS),
    postal=st.sampled_from(["6300, ", "CH-6300, ", ""]),
)
def test_a_short_city_before_its_canton_is_searched_for_alone(
    city: str, code: str, casing: Callable[[str], str], prefix: str, sign: str, postal: str
) -> None:
    canton = f"{prefix}{casing(code)}"
    _, places = address_pieces(f"Gartenweg 3, {postal}{sign.format(city, canton)}")
    assert city in places, places
    assert canton not in places and casing(code) not in places, places


def test_a_region_is_never_searched_for_alone() -> None:
    assert _segments("Sion (Valais)") == ["Sion (Valais)", "Sion"]
    assert _segments("Thun (Kt. BE)", city=False) == ["Thun (Kt. BE)", "Thun"]
    assert _segments("Biel/Bienne") == ["Biel/Bienne", "Biel", "Bienne"]
    assert city_spellings("Sion (Valais)") == ["Sion (Valais)", "Sion-(Valais)", "Sion"]
    assert "Kt. BE" not in city_spellings("Thun (Kt. BE)")
    assert street_words("Gartenweg 3, 1950, Sion (Valais)") == [
        "Gartenweg Sion (Valais)",
        "Gartenweg",
    ]


@pytest.mark.parametrize(
    "text", ["[" * 50_000, "(" * 50_000, "Kt. " * 20_000, "Zug (Kt. BE) " * 10_000, "a-" * 50_000]
)
def test_a_long_value_is_read_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    names_region(text)
    _segments(text, city=False)
    city_spellings(text)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("line", "name"),
    [("Rue du Jura 5", "Rue du Jura"), ("Via Ticino 2", "Via Ticino"),
     ("Jura-Strasse 5", "Jura-Strasse"), ("Rue du Valais 7", "Rue du Valais")],
)  # fmt: skip
def test_a_street_named_after_a_canton_is_searched_for_by_its_whole_name(
    line: str, name: str
) -> None:
    """Review 262: the name went with the region's word, so a note naming the street kept
    it; the canton's name alone is still never a street word."""
    words = street_words(line)
    assert name in words and not {"Jura", "Ticino", "Valais"} & set(words), words


@pytest.mark.parametrize("code", ["SW", "NNE", "WSW"])
def test_a_compass_point_naming_no_region_is_no_region_after_a_blank(code: str) -> None:
    """Review 262: ``Haus SW`` cut ``Haus`` from every note; ``NO`` (Norway, Novara: review
    265), ``SO``, ``NE``, ``NW`` (cantons) stay regions (PHI first)."""
    assert not region_after_a_blank(code)
    assert all(region_after_a_blank(region) for region in ("NO", "SO", "NE", "NW"))


@pytest.mark.parametrize(("line", "word"), [("Jura 5", "Jura"), ("Uri 3", "Uri")])
def test_a_one_word_street_named_as_a_canton_is_never_searched_alone(line: str, word: str) -> None:
    """Review 265: a note's ``Kanton Jura`` lost ``Jura``."""
    assert word not in street_words(line)
