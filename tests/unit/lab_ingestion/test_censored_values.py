"""Censored values: a limit the laboratory reported is published as that limit with its
comparator (``censored_values``), in the canonical unit, never as a measurement; a limit
that names no value, or says both sides, is refused."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.censored_values import COMPARATOR_SPELLINGS
from services.lab_ingestion.domain.message_chains import content_of
from services.lab_ingestion.domain.message_identity import content_digest
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from shared.contracts.events.lab import Analyte, Channel, Comparator
from tests.unit.lab_ingestion.test_normalise import accepted, observation, rejected

AT = datetime(2026, 11, 20, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "limit"),
    [
        (Analyte.CRP, "<0.5", "mg/dL", 5.0),
        (Analyte.NEUTROPHILS, "<100", "/uL", 0.1),
        (Analyte.HAEMOGLOBIN, "<50", "g/L", 5.0),
        (Analyte.CREATININE, ">884", "umol/L", 10.0),
    ],
)
def test_a_limit_is_converted_to_the_canonical_unit_like_a_value(
    analyte: Analyte, value: str, unit: str, limit: float
) -> None:
    result = accepted(normalise(observation(analyte, value, (unit,))))
    assert result.value == pytest.approx(limit)
    assert result.comparator is COMPARATOR_SPELLINGS[value[0]]
    assert (result.original_value, result.original_unit) == (value, unit)


@pytest.mark.parametrize("value", ["<0", "<=0", "< 0.0", "\u22640"])
def test_a_limit_at_or_below_zero_names_no_value(value: str) -> None:
    result = rejected(normalise(observation(value=value)), RejectionCode.IMPLAUSIBLE_VALUE)
    assert "zero" in result.reason


@pytest.mark.parametrize("value", [">5000", "<5000"])
def test_a_limit_beyond_any_human_value_is_refused(value: str) -> None:
    rejected(normalise(observation(value=value)), RejectionCode.IMPLAUSIBLE_VALUE)


def test_a_count_limit_per_microlitre_keeps_the_count_checks() -> None:
    rejected(
        normalise(observation(Analyte.NEUTROPHILS, "<1.5", ("/uL",))),
        RejectionCode.IMPLAUSIBLE_VALUE,
    )


@pytest.mark.parametrize(
    ("value", "reference", "flag", "fits"),
    [
        ("<20", "5-10", "L", True),  # below 20 may be below 5
        ("<2", "5-10", "H", False),  # below 2 is never above the range
        (">3", "0-5", "H", True),  # above 3 may be above 5
        (">8", "0-5", "L", False),  # above 8 is never below the range
        ("20", "5-10", "L", False),  # a measured value, as ever
    ],
)
def test_only_the_flag_on_a_limits_other_side_contradicts_it(
    value: str, reference: str, flag: str, fits: bool
) -> None:
    result = normalise(observation(value=value, reference_range=reference, abnormal_flag=flag))
    if fits:
        assert accepted(result).abnormal_flag == flag
    else:
        rejected(result, RejectionCode.IMPLAUSIBLE_VALUE)


def test_off_scale_flags_in_the_abnormal_flag_alone_make_a_limit() -> None:
    result = accepted(normalise(observation(value="200", abnormal_flag=">")))
    assert (result.value, result.comparator) == (200.0, Comparator.ABOVE)


@given(
    spelling=st.sampled_from(sorted(COMPARATOR_SPELLINGS)),
    hundredths=st.integers(min_value=1, max_value=100_000),
    space=st.sampled_from(["", " "]),
)
def test_a_value_written_with_a_comparator_is_never_published_without_it(
    spelling: str, hundredths: int, space: str
) -> None:
    number = f"{hundredths / 100:.2f}"
    result = accepted(normalise(observation(value=f"{spelling}{space}{number}")))
    assert result.comparator is COMPARATOR_SPELLINGS[spelling]
    assert result.value == float(number)


@given(hundredths=st.integers(min_value=0, max_value=100_000))
def test_a_plain_number_without_an_off_scale_flag_is_never_a_limit(hundredths: int) -> None:
    result = accepted(normalise(observation(value=f"{hundredths / 100:.2f}")))
    assert result.comparator is None


def test_a_limit_and_its_number_are_different_content() -> None:
    """``<5`` and ``5`` under one key: a final result saying one is no restatement of the
    other (a change only a correction makes), and a message saying one is no resend of
    one saying the other."""
    limit = accepted(normalise(observation(value="<5")))
    measured = accepted(normalise(observation(value="5")))
    assert content_of(limit, AT) != content_of(measured, AT)
    message = LabMessage(
        channel=Channel.MLLP, control_id="M1", source_application="LIS",
        source_facility="HOSP", patient_identifier="h", observations=(observation(value="<5"),),
    )  # fmt: skip
    resent = dataclasses.replace(message, observations=(observation(value="5"),))
    assert content_digest(message, "h") != content_digest(resent, "h")
