"""The rule that tells a unit beside the unit from words about it (``unit_shapes``).

A component written as a unit (``%``, ``ng/mL``, ``10*12/L``) that is not the recognised
unit is a disagreement, refused ``unconvertible-unit``; so is one whose words name another
unit (``milligrams per liter`` beside a count: ``test_unit_words``). Descriptions naming no
unit (``Neutrophils``) and coding systems (``UCUM``, ``L``, ``99LAB``) are passed over.
Checked over every listed spelling: the rule never refuses one beside such text or its own
other spellings, and never accepts two different units.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from services.lab_ingestion.domain.analytes import UnitConversion, accepted_units, resolve_unit
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.unit_shapes import names_a_unit
from services.lab_ingestion.domain.unit_spellings import (
    UNIT_SPELLINGS,
    capitals_readings,
    recognise_unit,
)
from shared.contracts.events.lab import Analyte

# (analyte, a listed spelling of a unit it is reported in, that unit's UCUM code)
ACCEPTED = [
    (analyte, spelling, ucum)
    for analyte in Analyte
    for ucum in accepted_units(analyte)
    for spelling in (ucum, *UNIT_SPELLINGS[ucum])
]
DESCRIPTIONS = [
    *("UCUM", "L", "99LAB", "99ZZZ", "ISO+", "ANS+", "LN", "HL70396", "2.16.840.1.113883.6.8"),
    *("Neutrophils", "PLTU", "SI units", "Unified Code for Units of Measure"),
]
# words naming a unit: read as that unit, so compared (never passed over as a description)
UNIT_IN_WORDS = {
    "milligram per litre": ("g", -3), "milligrams per liter": ("g", -3),
    "billion per litre": ("", 9), "percent": ("", -2), "units per litre": ("U", 0),
    "grams per decilitre": ("g", 1),
}  # fmt: skip
# units this service does not convert for any trial analyte, and no trial unit's same
# factor (g/100mL is g/dL, mU/mL is U/L: ``test_unit_factors``)
UNCONVERTIBLE = [
    *("%", "10*12/L", "10*6/uL", "ng/mL", "nkat/L", "/L", "fL", "pg", "mEq/L"),
    *("10^12/L", "x 10^12/L", "mm3", "Thou/UL", "kU/L"),
]
# UCUM code -> its dimension and power of ten, per litre: the oracle the rule is checked by
PER_LITRE = {
    "mg/L": ("g", -3), "mg/dL": ("g", -2), "nmol/L": ("mol", -9), "10*9/L": ("", 9),
    "10*3/uL": ("", 9), "/uL": ("", 6), "g/dL": ("g", 1), "g/L": ("g", 0),
    "mmol/L": ("mol", -3), "U/L": ("U", 0), "ukat/L": ("kat", -6), "umol/L": ("mol", -6),
}  # fmt: skip
# a unit's top and bottom as laboratories write them, with the dimension and power of ten
TOPS = [
    *(("mg", "g", -3), ("ug", "g", -6), ("mcg", "g", -6), ("ng", "g", -9), ("g", "g", 0)),
    *(("gm", "g", 0), ("mmol", "mol", -3), ("umol", "mol", -6), ("\u00b5mol", "mol", -6)),
    *(("micromol", "mol", -6), ("nmol", "mol", -9), ("U", "U", 0), ("IU", "U", 0)),
    *(("iu", "U", 0), ("mU", "U", -3), ("kU", "U", 3), ("ukat", "kat", -6)),
    *(("nkat", "kat", -9), ("10*9", "", 9), ("10^3", "", 3), ("x10E6", "", 6), ("K", "", 3)),
    *(("Thou", "", 3), ("1000", "", 3), ("10*12", "", 12), ("", "", 0), ("cells", "", 0)),
]
BOTTOMS = [
    *(("L", 0), ("l", 0), ("dL", -1), ("dl", -1), ("100mL", -1), ("mL", -3), ("ml", -3)),
    *(("uL", -6), ("ul", -6), ("mcL", -6), ("\u00b5L", -6), ("mm3", -6), ("cumm", -6)),
    ("nL", -9),
]
GENERATED = st.builds(
    lambda top, bottom: (f"{top[0]}/{bottom[0]}", (top[1], top[2] - bottom[1])),
    st.sampled_from(TOPS),
    st.sampled_from(BOTTOMS),
)


def _factor(analyte: Analyte, ucum: str) -> tuple[float, float] | None:
    return accepted_units(analyte).get(ucum)


def _same_unit(analyte: Analyte, ucum: str, other: str) -> bool:
    """Whether ``other`` is read as ``ucum``'s unit for the analyte: as listed, or, written
    in capitals, in the one case its analyte reports (haemoglobin's ``G/L`` is gram per
    litre, review 152; the property drew it beside ``g/L`` and took them for two units)."""
    listed = recognise_unit(other)
    if listed is not None and listed not in accepted_units(analyte):
        readings = capitals_readings(other) & accepted_units(analyte).keys()
        listed = next(iter(readings)) if len(readings) == 1 else listed
    return listed is not None and _factor(analyte, listed) == _factor(analyte, ucum)


@given(
    accepted=st.sampled_from(ACCEPTED),
    words=st.lists(st.sampled_from(DESCRIPTIONS), max_size=3),
    position=st.integers(0, 3),
)
def test_a_listed_unit_beside_words_is_read(
    accepted: tuple[Analyte, str, str], words: list[str], position: int
) -> None:
    analyte, spelling, ucum = accepted
    components = [*words[:position], spelling, *words[position:]]
    conversion = resolve_unit(analyte, components)
    assert isinstance(conversion, UnitConversion), (components, conversion)
    assert conversion.source_unit == ucum


@given(first=st.sampled_from(ACCEPTED), data=st.data())
def test_two_spellings_of_one_unit_are_read(
    first: tuple[Analyte, str, str], data: st.DataObject
) -> None:
    analyte, spelling, ucum = first
    other = data.draw(st.sampled_from((ucum, *UNIT_SPELLINGS[ucum])))
    assert isinstance(resolve_unit(analyte, (spelling, "UCUM", other)), UnitConversion)


@example(accepted=(Analyte.HAEMOGLOBIN, "g/L", "g/L"), other="G/L", words=[], other_first=False)
@given(
    accepted=st.sampled_from(ACCEPTED),
    other=st.sampled_from(UNCONVERTIBLE)
    | st.sampled_from([s for u, spellings in UNIT_SPELLINGS.items() for s in (u, *spellings)]),
    words=st.lists(st.sampled_from(DESCRIPTIONS), max_size=2),
    other_first=st.booleans(),
)
def test_two_different_units_are_never_read(
    accepted: tuple[Analyte, str, str], other: str, words: list[str], other_first: bool
) -> None:
    analyte, spelling, ucum = accepted
    assume(not _same_unit(analyte, ucum, other))  # 10*3/uL beside 10*9/L: one unit, read
    pair = [other, spelling] if other_first else [spelling, other]
    rejected = resolve_unit(analyte, [*pair, *words])
    assert isinstance(rejected, Rejected), (analyte, pair, words)
    assert rejected.code is RejectionCode.UNCONVERTIBLE_UNIT


@given(accepted=st.sampled_from(ACCEPTED), other=GENERATED, other_first=st.booleans())
def test_a_unit_beside_the_unit_is_read_exactly_when_its_factor_is_the_same(
    accepted: tuple[Analyte, str, str], other: tuple[str, tuple[str, int]], other_first: bool
) -> None:
    """A unit however written (``K/ul``, ``g/100mL``, ``micromol/L``, ``Thou/cumm``) is the
    unit when its dimension and factor are, and a disagreement otherwise."""
    analyte, spelling, ucum = accepted
    text, factor = other
    pair = [text, spelling] if other_first else [spelling, text]
    resolved = resolve_unit(analyte, [*pair, "UCUM"])
    if factor == PER_LITRE[ucum]:
        assert isinstance(resolved, UnitConversion), (analyte, pair, resolved)
        assert (resolved.multiplier, resolved.divisor) == _factor(analyte, ucum)
    else:
        assert isinstance(resolved, Rejected), (analyte, pair, resolved.source_unit)
        assert resolved.code is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize("text", DESCRIPTIONS)
def test_words_about_a_unit_are_no_unit(text: str) -> None:
    assert not names_a_unit(text)


@pytest.mark.parametrize("text", sorted(UNIT_IN_WORDS))
def test_words_naming_a_unit_are_no_unit_shape_but_are_compared(text: str) -> None:
    assert not names_a_unit(text)  # not written as a unit, but a unit all the same:
    for analyte in Analyte:
        for ucum in accepted_units(analyte):
            resolved = resolve_unit(analyte, (ucum, text, "L"))
            same = PER_LITRE[ucum] == UNIT_IN_WORDS[text]
            assert isinstance(resolved, UnitConversion if same else Rejected), (ucum, text)


@pytest.mark.parametrize("text", UNCONVERTIBLE)
def test_a_unit_this_service_does_not_convert_is_a_unit(text: str) -> None:
    assert names_a_unit(text)


def test_the_reason_names_both_units_and_never_quotes_a_date() -> None:
    percent = resolve_unit(Analyte.NEUTROPHILS, ("10*9/L", "%", "UCUM"))
    assert isinstance(percent, Rejected)
    assert "'10*9/L' beside '%'" in percent.reason
    dated = resolve_unit(Analyte.CRP, ("mg/dL", "12/03/1961"))
    assert isinstance(dated, Rejected)
    assert "1961" not in dated.reason and "12/03" not in dated.reason


def test_a_power_of_ten_in_superscript_is_compared_as_the_power_it_is() -> None:
    """A FHIR display ``10⁹/L`` beside the code ``10*9/L`` is the same unit; ``10¹²/L`` is
    not, nor ``10³/µL`` beside a count per microlitre."""
    same = resolve_unit(Analyte.NEUTROPHILS, ("10*9/L", "10\u2079/L"))
    assert isinstance(same, UnitConversion) and same.source_unit == "10*9/L"
    count = resolve_unit(Analyte.PLATELETS, ("10*3/uL", "10\u00b3/\u00b5L"))
    assert isinstance(count, UnitConversion)
    for other, unit in (("10\u00b9\u00b2/L", "10*9/L"), ("10\u00b3/\u00b5L", "/uL")):
        refused = resolve_unit(Analyte.PLATELETS, (unit, other))
        assert isinstance(refused, Rejected), other
        assert refused.code is RejectionCode.UNCONVERTIBLE_UNIT


def test_an_unconvertible_unit_alone_is_refused_as_before() -> None:
    refused = resolve_unit(Analyte.NEUTROPHILS, ("%", "percent", "UCUM"))
    assert isinstance(refused, Rejected)
    assert "cannot be converted" in refused.reason
