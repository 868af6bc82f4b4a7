"""A flag that contradicts its own value and reference range is refused: a unit slip.

``751-8 | 450 | 10*9/L | 1.8-7.7 | LL`` published 450 x10^9/L: an ANC of 450 /uL labelled
10^9/L (grade 4 missed), which only its flag tells. A flag below the range (L, LL, LU) on a
value above the range's upper limit, or above it (H, HH, HU) on a value below its lower
limit, is compared in the canonical unit the value and range are both read in; without a
range (none, or one dropped) the flag is compared with every laboratory's limits of normal
(``unit_slips``: test_unit_slips).
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.abnormal_flags import HIGH_FLAGS, LOW_FLAGS, NORMAL_MARGIN
from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.hl7_samples import one_result_oru, planned
from tests.unit.lab_ingestion.test_normalise import observation


def _hl7(obx3: str, value: str, obx6: str, obx7: str, obx8: str) -> object:
    message = one_result_oru(obx3, value, obx6, obx7)
    return planned(message.replace(f"|{obx7}||||F|", f"|{obx7}|{obx8}|||F|"))


def test_the_finding_an_anc_per_microlitre_labelled_10_9_l_is_refused() -> None:
    result = _hl7("751-8^Neutrophils^LN", "450", "10*9/L", "1.8-7.7", "LL")
    assert isinstance(result, Rejected), result
    assert result.code is RejectionCode.IMPLAUSIBLE_VALUE
    assert result.reason == (
        "neutrophils: the abnormal flag 'LL' contradicts the value 450 10*9/L above the "
        "reference range 1.8-7.7 10*9/L: check the unit"
    )


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "obx7", "obx8", "where"),
    [
        ("751-8^ANC^LN", "450", "10*9/L", "1.8-7.7", "L", "above"),
        ("777-3^PLT^LN", "12", "10*9/L", "150-400", "HH", "below"),
        ("777-3^PLT^LN", "900", "10*9/L", "150-400", "N~LL", "above"),  # a later repetition
        ("718-7^Hb^LN", "18", "g/dL", "120-160 g/L", "L", "above"),  # the range converted
        ("2160-0^CREA^LN", "0.5", "mg/dL", "62-106 umol/L", "H", "below"),  # range converted
        ("1742-6^ALT^LN", "0.5", "U/L", "7-56", "HH", "below"),  # ukat/L labelled U/L
        ("1988-5^CRP^LN", "0.2", "mg/L", ">0.5", "HU", "below"),  # a low limit only
        ("1975-2^BILI^LN", "25", "mg/dL", "<1.2", "LU", "above"),  # an upper limit only
    ],
)
def test_a_flag_on_the_other_side_of_the_range_is_refused(
    obx3: str, value: str, obx6: str, obx7: str, obx8: str, where: str
) -> None:
    result = _hl7(obx3, value, obx6, obx7, obx8)
    assert isinstance(result, Rejected), result
    assert result.code is RejectionCode.IMPLAUSIBLE_VALUE
    assert f"{where} the reference range" in result.reason and "check the unit" in result.reason


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "obx7", "obx8"),
    [
        ("751-8^ANC^LN", "0.45", "10*9/L", "1.8-7.7", "LL"),  # the same count, right unit
        ("751-8^ANC^LN", "450", "/uL", "1.8-7.7 10*9/L", "LL"),  # per microlitre, said so
        ("751-8^ANC^LN", "4.5", "10*9/L", "", "L"),  # no range: some laboratory's allows it
        ("751-8^ANC^LN", "1.2", "10*9/L", "0-5 (adult)", "LL"),  # a range dropped: likewise
        ("777-3^PLT^LN", "200", "10*9/L", "150-400", "N~LL"),  # inside it: over-alerting
        ("777-3^PLT^LN", "400", "10*9/L", "150-400", "L"),  # at the limit: not above it
        ("777-3^PLT^LN", "150", "10*9/L", "150-400", "H"),
        ("777-3^PLT^LN", "900", "10*9/L", "150-400", "A"),  # no side: not compared
        ("1988-5^CRP^LN", "0.2", "mg/L", "<5", "H"),  # no lower limit to be below
    ],
)
def test_a_flag_the_value_and_range_allow_is_read(
    obx3: str, value: str, obx6: str, obx7: str, obx8: str
) -> None:
    result = _hl7(obx3, value, obx6, obx7, obx8)
    assert isinstance(result, list), result


@given(
    value=st.integers(1, 1000),
    low=st.integers(50, 300),
    high=st.integers(200, 1000),
    flag=st.sampled_from(sorted(LOW_FLAGS | HIGH_FLAGS | {"N", "A", "W"})),
)
def test_a_flag_is_refused_exactly_when_the_value_is_on_the_other_side(
    value: int, low: int, high: int, flag: str
) -> None:
    high = max(low, high)  # a platelet range a laboratory may have: kept (plausibility.py)
    sent = dataclasses.replace(
        observation(Analyte.PLATELETS, str(value), ("10*9/L",), reference_range=f"{low}-{high}"),
        flags=(flag,),
    )
    result = normalise(sent)
    contradicts = (flag in LOW_FLAGS and value > high) or (flag in HIGH_FLAGS and value < low)
    # N alone: far outside the range, beyond a borderline N (review 120)
    contradicts |= flag == "N" and (value < low / NORMAL_MARGIN or value > high * NORMAL_MARGIN)
    if contradicts:
        assert isinstance(result, Rejected), (value, low, high, flag)
        assert result.code is RejectionCode.IMPLAUSIBLE_VALUE
    else:
        assert isinstance(result, NormalisedResult), result
        assert (result.reference_low, result.reference_high) == (low, high)
