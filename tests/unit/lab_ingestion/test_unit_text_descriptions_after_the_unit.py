"""A description after the unit, or a percentage that is a quantity, is passed over: the
message is not refused for it (review 166).

Commit fe7c990 read a unit's words in German, French and Italian and compared a unit's
symbol anywhere in OBX-6's text (review 155). It took too much for a unit: a word for
``per`` (``per``, ``pro``, ``je``, ``par``, ``pour``, ``al``) followed by a description's
word (``mg/l par néphélométrie``, ``U/l pour 37°C``, ``g/l pro Test``, ``mg/l je nach
Methode``) was read as ``mg/l/néphélométrie`` or as words that cannot be read whole, and a
``%`` that is a quantity (``CV 3%``, ``±10 %``) or a word in a description after the unit
(``Hämatokrit in % separat``, ``(% see NEUT%)``) as another unit. Each refused the whole
message, and a grade-4 ANC beside it was lost. Now a word for ``per`` followed by no unit's
word, symbol, count or power of ten is a description's: the unit ends before it. A ``%``
after a number is a quantity; after a unit already read, ``%`` names a unit only alone
(``mg/L (%)``) or directly after the analyte's name (``10*9/L Neutrophile %``).
"""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.unit_symbols import symbols_in
from services.lab_ingestion.domain.unit_words import holds_unit_words, units_named
from tests.unit.lab_ingestion.hl7_samples import (
    assert_stored_as,
    described,
    one_result_oru,
    planned,
)

CRP, ALT, HB, ANC = "1988-5^CRP^LN", "1742-6^ALT^LN", "718-7^Hb^LN", "751-8^ANC^LN"

# review 166's inputs (each read before fe7c990): a description after the unit
DESCRIPTIONS = [
    (CRP, "1.2", "mg/L^CRP par immunoturbidimétrie (mg/l)^L", (1.2, "mg/L")),
    (CRP, "1.2", "mg/L^mg/l par néphélométrie^L", (1.2, "mg/L")),
    (ALT, "41", "U/L^U/l par méthode IFCC^L", (41.0, "U/L")),
    (CRP, "1.2", "mg/L^mg/l pour adultes^L", (1.2, "mg/L")),
    (CRP, "1.2", "mg/L^mg/l par turbidimétrie^L", (1.2, "mg/L")),
    (ALT, "41", "U/L^U/l par IFCC^L", (41.0, "U/L")),
    (ALT, "41", "U/L^U/l pour 37°C^L", (41.0, "U/L")),
    (ALT, "41", "U/L^U/l al 37°C^L", (41.0, "U/L")),
    (HB, "135", "g/L^g/l pro Test^L", (13.5, "g/dL")),
    (CRP, "1.2", "mg/L^mg/l je nach Methode^L", (1.2, "mg/L")),
    (CRP, "1.2", "mg/L^mg/l, pro Messung^L", (1.2, "mg/L")),
    (CRP, "1.2", "mg/L^CRP, mesuré par turbidimétrie, mg/l^L", (1.2, "mg/L")),
    (ALT, "41", "U/L^ALAT (GPT) par méthode IFCC, U/l^L", (41.0, "U/L")),
]
# review 166's inputs: a ``%`` after the unit that names no unit
PERCENTS = [
    (CRP, "1.2", "mg/L^mg/L (CV 3%)^L", (1.2, "mg/L")),
    (CRP, "1.2", "mg/L^mg/l (Messunsicherheit ±10 %)^L", (1.2, "mg/L")),
    (ALT, "41", "U/L^U/L, Variationskoeffizient 5 %^L", (41.0, "U/L")),
    (HB, "135", "g/L^g/l (Hämatokrit in % separat)^L", (13.5, "g/dL")),
    (ANC, "2.1", "10*9/L^10\\S\\9/L (% see NEUT%)^L", (2.1, "10*9/L")),
]
# fe7c990's refusals, and a unit named after the description, stay refused
STILL_REFUSED = [
    (CRP, "1.2", "mg/L^mg/dl par néphélométrie^L"),
    (CRP, "1.2", "mg/L^CRP par immunoturbidimétrie (mg/dl)^L"),
    (CRP, "1.2", "mg/L^mg par dl^L"),
    (CRP, "1.2", "mg/L^Milligramm pro Deziliter^L"),
    (CRP, "1.2", "mg/L^Milligramm je Deziliter, nach Methode^L"),
    (CRP, "12", "mg/dL^mg pour l^L"),
    (ANC, "2.1", "10*9/L^Neutrophile %^L"),
    (ANC, "2.1", "10*9/L^10*9/L (%)^L"),
    (ANC, "2.1", "10*9/L^10*9/L Neutrophile %^L"),
    (ANC, "2.1", "10*9/L^% per 100 WBC^L"),
    (CRP, "1.2", "mg/L^CV 3%, Einheit mg/dl^L"),
]


@pytest.mark.parametrize(("obx3", "value", "obx6", "stored"), DESCRIPTIONS + PERCENTS)
def test_a_description_or_a_quantity_after_the_unit_is_passed_over(
    obx3: str, value: str, obx6: str, stored: tuple[float, str]
) -> None:
    assert_stored_as(obx3, value, obx6, stored)


@pytest.mark.parametrize(("obx3", "value", "obx6"), STILL_REFUSED)
def test_another_unit_named_beside_a_description_is_still_refused(
    obx3: str, value: str, obx6: str
) -> None:
    result = planned(one_result_oru(obx3, value, obx6))
    assert isinstance(result, Rejected), described(result)
    assert result.code is RejectionCode.UNCONVERTIBLE_UNIT, result.reason


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("mg/l par néphélométrie", ("mg/l",)),
        ("U/l pour 37°C", ("U/l",)),
        ("U/l al 37°C", ("U/l",)),
        ("g/l pro Test", ("g/l",)),
        ("mg/l je nach Methode", ("mg/l",)),
        ("CRP, mesuré par turbidimétrie, mg/l", ("mg/l",)),
        ("mg/L (CV 3%)", ("mg/L",)),
        ("g/l (Hämatokrit in % separat)", ("g/l",)),
        ("mg pro l", ("mg/L",)),
        ("Neutrophile %", ("%",)),
        ("10*9/L Neutrophile %", ("10*9/L", "%")),
    ],
)
def test_the_units_a_text_with_a_description_names(text: str, named: tuple[str, ...]) -> None:
    assert units_named(text) == named


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("U/l par méthode IFCC", False),
        ("mg/l, pro Messung", False),
        ("Proteina C reattiva per adulti", False),
        ("mg pro l", True),
        ("10^9 per L", True),
        ("per cent", True),
        ("K per uL", True),
        ("mg per 100 mL", True),
    ],
)
def test_a_word_for_per_joins_a_unit_only_before_a_units_word(text: str, holds: bool) -> None:
    assert holds_unit_words(text) is holds


@pytest.mark.parametrize(
    ("text", "symbols"),
    [
        ("(CV 3%)", ()),
        ("(Messunsicherheit ±10 %)", ()),
        ("Variationskoeffizient 5 %", ()),
        ("U/L, Variationskoeffizient 5 %", ("U/L",)),
        ("Neutrophile %", ("%",)),
        ("Anteil 10,5% in %", ("%",)),
    ],
)
def test_a_percentage_after_a_number_is_a_quantity(text: str, symbols: tuple[str, ...]) -> None:
    assert symbols_in(text) == symbols


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "stored"),
    [
        (ALT, "41", "U/L^Einheit, U/l^L", (41.0, "U/L")),
        (CRP, "1.2", "mg/L^Einheit, mg/l^L", (1.2, "mg/L")),
    ],
)
def test_a_label_before_a_comma_is_no_unit_word(
    obx3: str, value: str, obx6: str, stored: tuple[float, str]
) -> None:
    """``Einheit, U/l``: a label, as ``Einheit: U/l`` is (hypothesis found it refused)."""
    assert_stored_as(obx3, value, obx6, stored)
