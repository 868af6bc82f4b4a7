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
from services.lab_ingestion.domain.chain_contents import content_of
from services.lab_ingestion.domain.message_identity import content_digest, digest_of_every_result
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.service_layer.replay import _has_the_digest
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


@pytest.mark.parametrize("value", ["<0", "<=0", "< 0.0", "\u22640", ">0", ">=0.00"])
def test_a_limit_at_zero_names_no_value(value: str) -> None:
    result = rejected(normalise(observation(value=value)), RejectionCode.IMPLAUSIBLE_VALUE)
    assert "zero" in result.reason


@pytest.mark.parametrize("value", [">5000", "<5000"])
def test_a_limit_beyond_any_human_value_is_refused(value: str) -> None:
    rejected(normalise(observation(value=value)), RejectionCode.IMPLAUSIBLE_VALUE)


def test_a_count_per_microlitre_labelled_per_litre_is_caught_by_its_flag() -> None:
    """``<100`` x10^9/L flagged LL against 1.8-7.7: an ANC below 100 per microlitre sent in
    the wrong unit, grade 4 published as a limit that decides nothing."""
    result = normalise(
        observation(Analyte.NEUTROPHILS, "<100", ("10*9/L",), reference_range="1.8-7.7",
                    abnormal_flag="LL")
    )  # fmt: skip
    reason = rejected(result, RejectionCode.IMPLAUSIBLE_VALUE).reason
    assert "'LL' contradicts the value <100 10*9/L above the reference range" in reason


def test_a_count_limit_per_microlitre_keeps_the_count_checks() -> None:
    rejected(
        normalise(observation(Analyte.NEUTROPHILS, "<1.5", ("/uL",))),
        RejectionCode.IMPLAUSIBLE_VALUE,
    )


@pytest.mark.parametrize(
    ("value", "reference", "flag", "fits"),
    [
        ("<8", "5-10", "L", True),  # below 8 may be below 5
        ("<2", "5-10", "H", False),  # below 2 is never above the range
        ("<7", "5-10", "HH", False),  # nor is below 7
        ("<=5", "5-10", "H", False),
        (">3", "0-5", "H", True),  # above 3 may be above 5
        (">8", "0-5", "L", False),  # above 8 is never below the range
        (">4", "5-10", "L", True),  # above 4 may be below 5
        (">5", "5-10", "L", False),  # above 5 is not below it
        (">=5", "5-10", "L", True),  # at least 5 may be 5: a value at a limit
        # a limit beyond the range on the flag's side: a unit slip (no analyser's reporting
        # limit lies there), refused as the number alone is
        ("<20", "5-10", "L", False),
        (">2", "5-10", "H", False),
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
    said, resent = _message(observation(value="<5")), _message(observation(value="5"))
    assert content_digest(said, "h") != content_digest(resent, "h")


def _message(*observations: ObservationInput) -> LabMessage:
    return LabMessage(
        channel=Channel.MLLP, control_id="M1", source_application="LIS",
        source_facility="HOSP", patient_identifier="h", observations=observations,
    )  # fmt: skip


def test_an_off_scale_flag_in_a_later_repetition_is_other_content() -> None:
    """``0.1 LL`` resent under its id as ``0.1 LL~<``: the second says a limit, not a
    measurement, and is no resend (the digest covered the first repetition only)."""
    measured = observation(Analyte.NEUTROPHILS, "0.1", ("10*9/L",), abnormal_flag="LL")
    limit = dataclasses.replace(measured, flags=("LL", "<"))
    assert content_digest(_message(measured), "h") != content_digest(_message(limit), "h")


def test_a_digest_without_off_scale_flags_is_the_one_made_before() -> None:
    """Every message stored before has the digest it had; a rejection kept before with an
    off-scale flag has its digest made without it, which a replay still recognises."""
    plain = _message(observation(value="12", abnormal_flag="H"))
    assert content_digest(plain, "h") == content_digest(plain, "h", off_scale=False)
    flagged = _message(observation(value="200", abnormal_flag=">"))
    assert content_digest(flagged, "h") != content_digest(flagged, "h", off_scale=False)
    kept = content_digest(flagged, "h", off_scale=False)
    assert _has_the_digest(flagged, "h", kept)
    assert not _has_the_digest(plain, "h", kept)


def test_another_tests_off_scale_flag_changes_no_digest() -> None:
    other = ObservationInput(
        result_key="K2", codes=(Coding("2951-2", "LN"),), value="200", unit=("mmol/L",),
        abnormal_flag=">", collected_at=AT,
    )  # fmt: skip
    message = _message(observation(value="12"), other)
    assert digest_of_every_result(message, "h") == digest_of_every_result(
        message, "h", off_scale=False
    )
