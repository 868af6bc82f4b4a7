"""A unit written beside the recognised one is compared by its factor (``unit_factors``).

Every listed spelling beside any spelling of a unit with the same factor for the analyte is
read; beside one of another factor it is refused. A spelling written as laboratories vary it
(a trailing dot, µ or mc or micro for u, a litre in lower case) is the same unit; a text
whose factor cannot be told is refused, and the reason names the unit as written, never
the words after it.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.analytes import (
    UnitConversion,
    accepted_units,
    resolve_unit,
)
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.unit_factors import standard_form, unit_factor, unit_written
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.test_unit_disagreement_rule import ACCEPTED


@given(first=st.sampled_from(ACCEPTED), data=st.data())
def test_any_two_spellings_are_read_exactly_when_their_factors_are_the_same(
    first: tuple[Analyte, str, str], data: st.DataObject
) -> None:
    analyte, spelling, ucum = first
    _, other, other_ucum = data.draw(st.sampled_from([s for s in ACCEPTED if s[0] is analyte]))
    factors = accepted_units(analyte)
    resolved = resolve_unit(analyte, (spelling, other, "UCUM"))
    if factors[ucum] == factors[other_ucum]:
        assert isinstance(resolved, UnitConversion), (spelling, other, resolved)
    else:
        assert isinstance(resolved, Rejected), (spelling, other)
        assert resolved.code is RejectionCode.UNCONVERTIBLE_UNIT


def _variants(spelling: str) -> list[str]:
    """The ways laboratories vary a listed spelling without changing its unit."""
    variants = [spelling + ".", spelling + "*", spelling.replace("L", "l")]
    for prefix in ("\u00b5", "mc", "micro"):
        if spelling.startswith(("umol", "ukat")):
            variants.append(prefix + spelling[1:])
        if "/u" in spelling:
            variants.append(spelling.replace("/u", "/" + prefix))
    return variants


@given(listed=st.sampled_from(ACCEPTED), data=st.data())
def test_a_spelling_written_another_way_beside_its_unit_is_read(
    listed: tuple[Analyte, str, str], data: st.DataObject
) -> None:
    analyte, spelling, ucum = listed
    variant = data.draw(st.sampled_from(_variants(spelling)))
    resolved = resolve_unit(analyte, (ucum, variant, "L"))
    assert isinstance(resolved, UnitConversion), (ucum, variant, resolved)
    assert resolved.source_unit == ucum


@pytest.mark.parametrize(
    ("analyte", "unit", "text"),
    [
        (Analyte.BILIRUBIN, "umol/L", "\u00b5M"),
        (Analyte.HAEMOGLOBIN, "mmol/L", "mM"),
        (Analyte.ALT, "U/L", "iu/L"),
        (Analyte.AST, "U/L", "Unit/L"),
        (Analyte.ALT, "U/L", "U/L (37\u00b0C)"),
        (Analyte.PLATELETS, "10*3/uL", "Thou/cumm"),
        (Analyte.NEUTROPHILS, "10*9/L", "10^9 cells/L"),
        (Analyte.CRP, "mg/L", "ug/mL"),
        (Analyte.ALT, "U/L", "IU per litre"),
        (Analyte.HAEMOGLOBIN, "g/dL", "g per dL"),
    ],
)
def test_the_same_unit_in_a_local_spelling_is_read(analyte: Analyte, unit: str, text: str) -> None:
    resolved = resolve_unit(analyte, (unit, text))
    assert isinstance(resolved, UnitConversion), getattr(resolved, "reason", resolved)


@pytest.mark.parametrize(
    ("analyte", "unit", "text", "named"),
    [
        (Analyte.NEUTROPHILS, "10*9/L", "% (percent)", "'10*9/L' beside '%'"),
        (Analyte.CRP, "mg/L", "mg/dL (milligrams per decilitre)", "'mg/L' beside 'mg/dL'"),
        # a count in thousands per microlitre described as per litre: a thousandfold slip
        (Analyte.NEUTROPHILS, "/uL", "10^9 cells/L", "beside"),
        # a factor that cannot be told: an equivalent, a U of units beside a count word
        (Analyte.HAEMOGLOBIN, "mmol/L", "mEq/L", "'mmol/L' beside 'mEq/L'"),
        (Analyte.PLATELETS, "10*3/uL", "Thou/UL", "'10*3/uL' beside (text of 7"),
        (Analyte.CRP, "mg/L", "mg per dL", "'mg/L' beside 'mg/dL'"),
        (Analyte.HAEMOGLOBIN, "g/L", "g per decilitre", "'g/L' beside 'g/dL'"),
    ],
)
def test_a_unit_of_another_or_unknown_factor_is_refused_and_named(
    analyte: Analyte, unit: str, text: str, named: str
) -> None:
    refused = resolve_unit(analyte, (unit, text, "L"))
    assert isinstance(refused, Rejected)
    assert refused.code is RejectionCode.UNCONVERTIBLE_UNIT
    assert named in refused.reason


def test_a_date_after_the_unit_written_is_never_quoted() -> None:
    refused = resolve_unit(Analyte.CRP, ("mg/L", "mg/dL (born 12/03/1961)"))
    assert isinstance(refused, Rejected)
    assert "'mg/L' beside 'mg/dL'" in refused.reason
    assert "1961" not in refused.reason and "12/03" not in refused.reason


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("% of WBC", "%"),
        ("mg/dL [milligram per deciliter]", "mg/dL"),
        ("x 10^12/L", "x 10^12/L"),
        ("milligrams per liter", None),
        ("10^9 per litre", "10^9/L"),
        ("10^9 cells per litre", None),
        ("mg per litre", "mg/L"),
        ("IU per litre (37 C)", "IU/L"),
        # per before a description's word: the unit ends before it (mg: refused beside mg/L)
        ("mg per serum volume", "mg"),
        ("percent", None),
        ("UCUM", None),
    ],
)
def test_the_unit_a_text_is_written_as(text: str, written: str | None) -> None:
    assert unit_written(text) == written


@pytest.mark.parametrize("text", ["Thou/UL", "mEq/L", "12/03/1961", "10000/uL", "mg/DL", "u/L"])
def test_a_factor_that_cannot_be_told_is_none(text: str) -> None:
    assert unit_factor(standard_form(text)) is None


def test_a_percentage_and_powers_of_ten_have_their_factors() -> None:
    assert unit_factor("%") != unit_factor("/L")
    assert unit_factor(standard_form("x10(3)/cumm")) == unit_factor("10*9/L")
    assert unit_factor("g/100mL") == unit_factor("g/dL") != unit_factor("g/L")
