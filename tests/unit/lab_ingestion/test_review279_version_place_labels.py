"""Review 279: what OBX-6's version places (CWE-7, 8) hold, read by rules, not lists.

O1: a unit table's label with a word outside a fixed list (``unità di misura``, ``Swiss
units``, ``UCUM-Einheiten``) was read as unreadable unit words and every result refused: a
label of "unit" words, system names, versions and words naming no unit is no unit. O2, O3:
a version id of a letter and digits (``Version M1``, ``Q1/2024``) was read as a unit. P1: a
unit after a quote, angle bracket, arrow or full-width colon was passed over and a CRP in
mg/dL published as mg/L: a text is split at every character a unit is not written with,
told by its Unicode category.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.obx6_version_parts import (
    names_no_unit,
    names_unit,
    parts,
    percent_unit,
)
from services.lab_ingestion.adapters.obx6_versions import misplaced_units
from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.hl7_samples import FAST
from tests.unit.lab_ingestion.test_review259_numeric_reading import CRP, _refused, _stored

NEU = "751-8^NEUT^LN"

LABELS = [
    "unità di misura", "unités de mesure", "Unités de mesure v2", "units of measurement",
    "measurement units", "Swiss units", "Schweizer Einheiten", "unités suisses",
    "unità svizzere", "US units", "default units", "metric units", "reporting units",
    "Einheiten CH", "Einheiten-Liste", "Labor-Einheiten", "UCUM-Einheiten", "UCUM-units",
    "UCUM_units", "ucum-units-2.1", "Einheiten nach UCUM", "Einheiten gemäss UCUM",
    "unités selon UCUM", "unità secondo UCUM", "units per UCUM", "units according to UCUM",
    "Einheiten Stand 2024", "Einheiten des Labors", "unità del SI", "unità del laboratorio",
    "unités du système international", "Système international d'unités", "unités labo",
    "Local units - v2", "Unit-List v2", "units_v2", "unités 2.1 (nov. 2017)", "MOLIS-CGM",
    "Maßeinheiten", "Masseinheit 2.1",
]  # fmt: skip


@pytest.mark.parametrize("label", LABELS)
def test_a_unit_tables_label_refuses_nothing(label: str) -> None:
    assert _stored(CRP, "12", f"mg/L^^UCUM^^^^{label}") == (12.0, "mg/L")
    assert _stored(NEU, "3.1", f"10*9/L^^UCUM^^^^2.1^{label}")[0] == 3.1


@pytest.mark.parametrize(
    "version",
    ["Version=M1", "Version M1", "Version: M1", "Rev. M1", "Rev M2", "Rev: L2", "Release E2",
     "Revision G3", "Revision: U1", "Ed. L1", "Ausgabe: M2", "M1", "Q1/2024", "2024/Q1",
     "H1/2024", "R1/2024", "Rev. E", "MOLIS 8"],
)  # fmt: skip
def test_a_version_id_of_a_letter_and_digits_refuses_nothing(version: str) -> None:
    assert _stored(CRP, "12", f"mg/L^^UCUM^^^^{version}") == (12.0, "mg/L")


@pytest.mark.parametrize(
    ("code", "value", "text"),
    [
        (CRP, "12", "Labor \u201amg/dL\u2018"),
        (CRP, "12", "\u2018mg/dL\u2019"),
        (CRP, "12", "\u2039mg/dL\u203a"),
        (CRP, "12", "<mg/dL>"),
        (CRP, "12", "Labor>mg/dL"),
        (CRP, "12", "Labor\uff1amg/dL"),
        (CRP, "12", "Labor\u00b7mg/dL"),
        (CRP, "12", "Labor!mg/dL"),
        (CRP, "12", "Labor?mg/dL"),
        (CRP, "12", "Labor\u2026mg/dL"),
        (CRP, "12", "Labor\u2192mg/dL"),
        (NEU, "3.1", "Labor \uff05"),
        (NEU, "3.1", "(\u066a)"),
        (NEU, "3.1", "UCUM:\u2030"),
    ],
)
def test_a_unit_after_any_punctuation_is_compared(code: str, value: str, text: str) -> None:
    coded = "mg/L" if code == CRP else "10*9/L"
    assert _refused(code, value, f"{coded}^^UCUM^^^^{text}") is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize(
    "text",
    ["IE/l (Serum)", "10 hoch 12 pro Liter", "CRP (mg%)", "milligrams per litre of serum",
     "Milligramm pro Deziliter", "Einheiten: mg/dL", "Labor KG"],
)  # fmt: skip
def test_words_or_a_symbol_naming_another_unit_stay_refused(text: str) -> None:
    assert _refused(CRP, "12", f"mg/L^^UCUM^^^^{text}") is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize("text", ["Einheiten: mg/L", "UCUM-Einheiten <mg/L>", "Labor\uff1amg/L"])
def test_the_same_unit_after_a_label_is_read(text: str) -> None:
    assert _stored(CRP, "12", f"mg/L^^UCUM^^^^{text}") == (12.0, "mg/L")


@pytest.mark.parametrize(
    ("character", "unit"),
    [("%", "%"), ("\uff05", "%"), ("\ufe6a", "%"), ("\u066a", "%"), ("\u2030", "10*-3"),
     ("\u2031", "10*-4"), ("/", None), ("#", None)],
)  # fmt: skip
def test_a_percent_sign_in_any_form(character: str, unit: str | None) -> None:
    assert percent_unit(character) == unit


# every character of these categories that no unit is written with sets a unit apart
_SEPARATORS = st.characters(
    categories=("Zs", "Po", "Ps", "Pe", "Pi", "Pf", "Pd", "Pc", "Sm", "Sc", "Sk", "So"),
    exclude_characters="^~|\\&/.*%()[]{}+-\u00d7\u207b\u2212",
    max_codepoint=0xFFFF,
).filter(lambda c: percent_unit(c) is None)


@FAST
@given(_SEPARATORS, st.sampled_from(["mg/dL", "10*9/L", "(mg/dL)", "%"]))
def test_a_unit_is_its_own_part_after_any_separator(separator: str, unit: str) -> None:
    assert parts(f"Labor{separator}{unit}{separator}") == ["Labor", unit]


_LABEL_WORDS = st.sampled_from(
    ["units", "Unit", "Einheiten", "Einheit", "Maßeinheiten", "unités", "unité", "unità",
     "misura", "mesure", "Measurement", "UCUM", "SI", "ISO", "MOLIS", "CGM", "Labor",
     "Swiss", "Schweizer", "suisses", "default", "reporting", "Stand", "nach", "gemäss",
     "selon", "secondo", "according", "to", "per", "des", "del", "labo", "metric", "CH",
     "Release", "Liste", "Version", "Rev.", "Ausgabe", "nov."]
)  # fmt: skip
_VERSION_IDS = st.sampled_from(
    ["2.1", "v2", "V2.5.1", "2024", "80000-1", "M1", "E2", "Q1", "L2", "Q1/2024", "2024/Q1",
     "H1/2024", "E", "(2017)", "[v3]"]
)  # fmt: skip
_JOINERS = st.sampled_from([" ", "-", "_", ": ", " - ", ", ", " / "]) | _SEPARATORS


@st.composite
def _labels(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(_LABEL_WORDS | _VERSION_IDS, min_size=1, max_size=4))
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(_JOINERS) + piece
    return text


@FAST
@given(_labels())
def test_a_label_of_label_words_and_version_ids_is_no_unit(label: str) -> None:
    assert misplaced_units(label) == [], label
    assert all(not names_unit(p) for p in parts(label)), label


@FAST
@given(
    _labels(),
    _SEPARATORS | st.sampled_from([": ", " ", ","]),
    st.sampled_from([(CRP, "12", "mg/L", "mg/dL"), (CRP, "12", "mg/L", "g/L"),
                     (NEU, "3.1", "10*9/L", "%"), (NEU, "3.1", "10*9/L", "\uff05"),
                     (NEU, "3.1", "10*9/L", "10*12/L")]),
)  # fmt: skip
def test_a_disagreeing_unit_after_a_label_is_refused(
    label: str, separator: str, case: tuple[str, str, str, str]
) -> None:
    code, value, coded, unit = case
    obx6 = f"{coded}^^UCUM^^^^{label}{separator}{unit}"
    assert _refused(code, value, obx6) is RejectionCode.UNCONVERTIBLE_UNIT


@FAST
@given(st.sampled_from("ABCDEFGHIKLMNOPQRSTUVWXYZabcdefghklmnopqrstuvwxyz"), st.integers(0, 999))
def test_a_letter_and_digits_is_a_version_id(letter: str, number: int) -> None:
    assert names_no_unit(f"{letter}{number}")
    assert names_no_unit(f"{letter}{number}/2024") and names_no_unit(f"2024/{letter}{number}")
    assert misplaced_units(f"Version {letter}{number}") == []


def test_separators_are_told_by_category() -> None:
    # quotes, brackets, arrows and full-width forms alike: none is a unit's character
    for character in "\u201a\u2018\u2039\u203a<>\uff1a\u00b7!?\u2026\u2192\u3001":
        assert unicodedata.category(character)[0] in "PS", character
        assert parts(f"a{character}b") == ["a", "b"], character
    assert parts("10*-3/L \u00b5mol/L") == ["10*-3/L", "\u00b5mol/L"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Nexus/Lab", []),  # a laboratory system's name: words between slashes, no unit's term
        ("Swiss-Q1/2024", []),  # a hyphen joins words, never a unit's parts
        ("nov.-2024/Q1", []),
        ("10*-3/L", ["10*-3/L"]),  # a minus after an operator is the unit's
        ("Labor-mg/dL", ["Labor-mg/dL"]),
        ("units/L", ["units/L"]),
    ],
)
def test_a_text_written_as_a_unit_holds_a_units_term(text: str, found: list[str]) -> None:
    assert misplaced_units(text) == found
