"""The abnormal flag published is the most severe of every flag the result carries.

Only OBX-8's first repetition was published: ``777-3 | 12 | 10*9/L | 150-400 | N~LL``
published "N" (a critical low platelet count published as normal), ``comment~HH`` nothing.
A FHIR Observation's interpretation codings repeat too. Now the most severe table-0078 code
is published (critical over significant over out of range over abnormal over any other
code over N); flags below and above the range at once (``L~H``) leave no safe one to
publish, and the result is refused.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.abnormal_flags import (
    ABNORMAL_FLAGS,
    HIGH_FLAGS,
    LOW_FLAGS,
    NORMAL,
    OFF_SCALE_FLAGS,
    SEVERITY,
    most_severe_flag,
)
from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from shared.contracts.events.lab import Comparator
from tests.unit.lab_ingestion.fhir_samples import lab_observation
from tests.unit.lab_ingestion.hl7_samples import one_result_oru, planned
from tests.unit.lab_ingestion.test_normalise import observation

V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V2 = "http://terminology.hl7.org/CodeSystem/v2-0078"
LOCAL = "http://acme-lab.example.org/flags"


def _hl7(value: str, obx6: str, obx7: str, obx8: str, obx3: str = "777-3^PLT^LN") -> Any:
    """One result whose OBX-8 is ``obx8`` (``one_result_oru`` leaves it empty)."""
    message = one_result_oru(obx3, value, obx6, obx7)
    return planned(message.replace(f"|{obx7}||||F|", f"|{obx7}|{obx8}|||F|"))


def _published(result: Any) -> str | None:
    assert isinstance(result, list), result
    [(_, normalised)] = result
    assert isinstance(normalised, NormalisedResult)
    return normalised.abnormal_flag


@pytest.mark.parametrize(
    ("obx8", "flag"),
    [
        ("N~LL", "LL"),  # the finding: a critical low count published as normal
        ("comment~LL", "LL"),  # a comment in the first repetition: no code at all
        ("LL", "LL"),
        ("L~LL", "LL"),
        ("A~L", "L"),
        ("LL~A~N", "LL"),
        ("ll~n", "LL"),
        ("LL^Critical low^HL70078~N", "LL"),  # a coded repetition: its code
        ("", None),
    ],
)
def test_hl7_the_most_severe_repetition_is_published(obx8: str, flag: str | None) -> None:
    assert _published(_hl7("12", "10*9/L", "150-400", obx8)) == flag


@pytest.mark.parametrize(
    ("obx8", "flag"),
    [
        ("N", "N"),
        ("N~W", "W"),  # a worse delta says more than normal
    ],
)
def test_hl7_n_alone_or_beside_another_code_on_a_normal_count(obx8: str, flag: str) -> None:
    """N alone on a count far below its range (12 beside 150-400) is refused (review 120:
    ``unit_slips``); on a normal count it is published, or the code beside it."""
    assert _published(_hl7("200", "10*9/L", "150-400", obx8)) == flag


def test_hl7_comment_then_hh_publishes_hh() -> None:
    assert _published(_hl7("520", "10*9/L", "150-400", "comment~HH")) == "HH"


@pytest.mark.parametrize("obx8", ["L~H", "LL~HH", "H~N~L", "LU~H", "HH~L"])
def test_hl7_flags_on_both_sides_of_the_range_are_refused(obx8: str) -> None:
    result = _hl7("200", "10*9/L", "150-400", obx8)
    assert isinstance(result, Rejected), result
    assert result.code is RejectionCode.IMPLAUSIBLE_VALUE
    assert "not both" in result.reason, result.reason


def _fhir(codings: list[list[dict[str, str]]], value: float = 12) -> Any:
    quantity = {"value": value, "unit": "10*9/L", "system": "http://unitsofmeasure.org",
                "code": "10*9/L"}  # fmt: skip
    resource = lab_observation(
        "OBS-94",
        "777-3",
        valueQuantity=quantity,
        interpretation=[{"coding": concept} for concept in codings],
    )
    decoded = json.loads(json.dumps(resource), parse_float=decimal.Decimal)
    return planned(parse_observation(decoded, "LIS", "HOSP"))


@pytest.mark.parametrize(
    ("codings", "flag"),
    [
        ([[{"system": V3, "code": "N"}], [{"system": V3, "code": "LL"}]], "LL"),
        ([[{"system": V3, "code": "N"}, {"system": V2, "code": "LL"}]], "LL"),
        ([[{"code": "L"}], [{"system": V3, "code": "LL"}]], "LL"),
        ([[{"system": LOCAL, "code": "N"}], [{"system": V3, "code": "LL"}]], "LL"),
        ([[{"system": LOCAL, "code": "LL"}]], None),
    ],
)
def test_fhir_the_most_severe_interpretation_is_published(
    codings: list[list[dict[str, str]]], flag: str | None
) -> None:
    assert _published(_fhir(codings)) == flag


def test_fhir_a_local_code_is_never_published_however_severe_it_looks() -> None:
    """A laboratory's own system's codes are never published: N (on a normal count: review
    120 refuses N alone far outside every laboratory's range)."""
    codings = [[{"system": LOCAL, "code": "HH"}], [{"system": V3, "code": "N"}]]
    assert _published(_fhir(codings, value=200)) == "N"


def test_fhir_interpretations_on_both_sides_are_refused_a_local_one_is_not_read() -> None:
    both = _fhir([[{"system": V3, "code": "L"}], [{"system": V3, "code": "H"}]], value=200)
    assert isinstance(both, Rejected) and both.code is RejectionCode.IMPLAUSIBLE_VALUE
    local = _fhir([[{"system": LOCAL, "code": "H"}], [{"system": V3, "code": "L"}]], value=140)
    assert _published(local) == "L"


def test_fhir_a_local_off_scale_code_still_marks_a_limit() -> None:
    [(_, result)] = _fhir([[{"system": LOCAL, "code": "<"}]], value=10)
    assert isinstance(result, NormalisedResult), result
    assert (result.value, result.comparator) == (10.0, Comparator.BELOW)


def test_the_severity_order_is_explicit_and_of_table_codes() -> None:
    assert set(SEVERITY) <= ABNORMAL_FLAGS and NORMAL in ABNORMAL_FLAGS
    assert SEVERITY[:3] == ("LL", "HH", "AA")  # critical first
    assert SEVERITY.index("L") > SEVERITY.index("LU") > SEVERITY.index("LL")
    assert set(SEVERITY) >= LOW_FLAGS | HIGH_FLAGS


CODES = sorted(ABNORMAL_FLAGS - OFF_SCALE_FLAGS)


@given(st.lists(st.sampled_from(CODES), min_size=1, max_size=5))
def test_the_flag_published_is_never_less_severe_than_one_given(codes: list[str]) -> None:
    published = most_severe_flag(codes)
    assert published in codes
    ranked = [c for c in codes if c in SEVERITY]
    if ranked:
        assert published == min(ranked, key=SEVERITY.index)
    elif set(codes) != {NORMAL}:
        assert published != NORMAL  # N only when nothing else is said


@given(st.lists(st.sampled_from([*CODES, "comment", ""]), max_size=4))
def test_normalise_publishes_a_code_of_those_given_or_refuses_both_sides(codes: list[str]) -> None:
    given_codes = [c.upper() for c in codes if c.upper() in ABNORMAL_FLAGS]
    sent = dataclasses.replace(
        observation(value="3", abnormal_flag=codes[0] if codes else None), flags=tuple(codes)
    )
    result = normalise(sent)
    if set(given_codes) & LOW_FLAGS and set(given_codes) & HIGH_FLAGS:
        assert isinstance(result, Rejected)
    else:
        assert isinstance(result, NormalisedResult), result
        assert result.abnormal_flag == most_severe_flag(given_codes)
