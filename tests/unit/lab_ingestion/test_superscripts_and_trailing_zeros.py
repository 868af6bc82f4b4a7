"""Review 115: a unit written with a superscript power (``10⁹/L``, ``10³/µL``, ``x10³/mm³``)
alone was refused unconvertible (``10³`` read ``103``); a value whose decimals end in zeros
(``12.500000000000000000``) was refused for more than 15 significant digits, though its
trailing zeros say nothing of its exactness."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.lab_numbers import THOUSANDS_DOT, significant_digits
from services.lab_ingestion.domain.model import (
    Coding,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.domain.unit_shapes import powers_written_out
from services.lab_ingestion.domain.unit_spellings import UNIT_SPELLINGS, recognise_unit

AT = datetime(2026, 11, 20, 8, tzinfo=UTC)
SUPERSCRIPT = str.maketrans(
    "0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


def _read(loinc: str, value: str, unit: str) -> NormalisedResult | Rejected | None:
    return normalise(
        ObservationInput(
            result_key="k", codes=(Coding(loinc, "LN"),), value=value, unit=(unit,),
            status="F", collected_at=AT,
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    ("unit", "ucum"),
    [
        ("10\u2079/L", "10*9/L"),
        ("x10\u2079/L", "10*9/L"),
        ("\u00d710\u2079/L", "10*9/L"),
        ("10\u00b3/\u00b5L", "10*3/uL"),
        ("10\u00b3/uL", "10*3/uL"),
        ("x10\u00b3/mm\u00b3", "10*3/uL"),
        ("10^3/mm\u00b3", "10*3/uL"),
        ("/mm\u00b3", "/uL"),
    ],
)
def test_a_power_written_in_superscript_is_recognised(unit: str, ucum: str) -> None:
    assert recognise_unit(unit) == ucum


@pytest.mark.parametrize("unit", ["10\u00b9\u00b2/L", "10\u2076/\u00b5L", "103/uL", "109/L"])
def test_other_powers_and_digits_read_as_a_number_are_not_recognised(unit: str) -> None:
    assert recognise_unit(unit) is None


@given(st.sampled_from([s for spellings in UNIT_SPELLINGS.values() for s in spellings]))
def test_every_caret_spelling_written_in_superscript_is_the_same_unit(spelling: str) -> None:
    if "10^" not in spelling:
        return
    head, _, tail = spelling.partition("10^")
    digits = tail[0]
    superscript = f"{head}10{digits.translate(SUPERSCRIPT)}{tail[1:]}"
    assert powers_written_out(superscript) == spelling
    assert recognise_unit(superscript) == recognise_unit(spelling)


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "expected"),
    [
        ("751-8", "1.2", "10\u2079/L", 1.2),
        ("777-3", "250", "10\u00b3/\u00b5L", 250.0),
        ("777-3", "250", "x10\u00b3/mm\u00b3", 250.0),
    ],
)
def test_a_result_in_a_superscript_unit_alone_is_read(
    loinc: str, value: str, unit: str, expected: float
) -> None:
    result = _read(loinc, value, unit)
    assert isinstance(result, NormalisedResult), result
    assert result.value == expected


@pytest.mark.parametrize(
    ("number", "digits"),
    [
        ("12.500000000000000000", 3),
        ("0.30000000000000004", 17),
        ("1.500", 2),
        ("150", 3),
        ("100.0", 3),
        ("0.0012", 2),
        ("12,50", 3),
    ],
)
def test_zeros_ending_the_decimals_are_not_significant(number: str, digits: int) -> None:
    assert significant_digits(number) == digits


def test_trailing_zeros_are_read_and_a_float_slip_still_refused() -> None:
    result = _read("1988-5", "12.500000000000000000", "mg/L")
    assert isinstance(result, NormalisedResult), result
    assert (result.value, result.original_value) == (12.5, "12.500000000000000000")
    slip = _read("1988-5", "0.30000000000000004", "mg/L")
    assert isinstance(slip, Rejected) and slip.code is RejectionCode.NON_NUMERIC_VALUE


@given(
    mantissa=st.integers(min_value=1, max_value=10**9),
    places=st.integers(min_value=1, max_value=6),
    zeros=st.integers(min_value=1, max_value=20),
)
def test_any_number_of_zeros_ending_the_decimals_reads_as_the_number(
    mantissa: int, places: int, zeros: int
) -> None:
    text = str(mantissa).rjust(places + 1, "0")
    text = f"{text[:-places]}.{text[-places:]}"
    if float(text) > 999 or len(text) + zeros > 32 or THOUSANDS_DOT.fullmatch(text + "0" * zeros):
        return  # CRP's ceiling; a value's longest text; 1.000 may be a thousand
    plain = _read("1988-5", text, "mg/L")
    padded = _read("1988-5", text + "0" * zeros, "mg/L")
    if isinstance(plain, NormalisedResult):
        assert isinstance(padded, NormalisedResult), (text, padded)
        assert padded.value == plain.value
