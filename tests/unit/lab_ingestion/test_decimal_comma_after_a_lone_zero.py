"""A decimal comma after a lone 0 is read: no thousands group is led by 0.

Review 155: CRP ``0,150`` mg/dL was refused non-numeric-value as a possible thousands
separator (any comma before exactly three digits), though ``0,150`` can only be 0.15, as the
dot's ``0.150`` is read (``THOUSANDS_DOT`` wants a first digit 1-9). ``1,500`` stays refused:
one and a half or fifteen hundred cannot be told.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.lab_numbers import read_decimal
from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from tests.unit.lab_ingestion.hl7_samples import one_result_oru, planned


@pytest.mark.parametrize(
    ("value", "obx6", "stored"),
    [("0,150", "mg/dL", 1.5), ("0,150", "mg/L", 0.15), ("+0,025", "mg/dL", 0.25)],
)
def test_a_comma_after_a_lone_zero_is_a_decimal_comma(value: str, obx6: str, stored: float) -> None:
    result = planned(one_result_oru("1988-5^CRP^LN", value, obx6))
    assert isinstance(result, list), result
    [(_, normalised)] = result
    assert isinstance(normalised, NormalisedResult)
    assert normalised.value == pytest.approx(stored)
    assert normalised.unit == "mg/L"


@pytest.mark.parametrize("value", ["1,500", "12,500", "250,000", "+1,500"])
def test_a_comma_that_may_group_thousands_is_still_refused(value: str) -> None:
    result = planned(one_result_oru("1988-5^CRP^LN", value, "mg/L"))
    assert isinstance(result, Rejected), result
    assert result.code is RejectionCode.NON_NUMERIC_VALUE
    assert "thousands" in result.reason


@given(whole=st.integers(0, 999), fraction=st.integers(0, 999))
def test_a_comma_before_three_digits_is_read_exactly_when_no_thousands_group_leads_it(
    whole: int, fraction: int
) -> None:
    number = f"{whole},{fraction:03d}"
    read = read_decimal(number)
    if whole == 0:
        assert read == float(f"0.{fraction:03d}")
    else:
        assert read is None, number
