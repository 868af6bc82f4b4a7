"""A value is published only when it was sent as one measurement of one analyte: no guess
from a coded answer, a range, two tests' codes, a population's range or
more digits than the published number keeps (review 35)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.json_parser import parse_lab_results
from services.lab_ingestion.domain.model import (
    Coding,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import (
    UnitParameters,
    normalise,
    parse_reference_range,
)
from services.lab_ingestion.domain.planning import plan_results
from shared.contracts.events.lab import Comparator
from tests.integration.lab_fixtures import MRN, crp_observation, oru

TS = "20261120081500+0100"
AT = datetime(2026, 11, 20, 7, tzinfo=UTC)
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _hl7(obx_fields: str) -> NormalisedResult | Rejected | None:
    message, _ = parse_oru(oru("V-1", [obx_fields]))
    (observation,) = message.observations
    return normalise(observation)


def _rejected(result: object, code: RejectionCode) -> None:
    assert isinstance(result, Rejected), result
    assert result.code is code, result


# --- one result, one analyte ---------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        f"NM|751-8^Neutrophils^LN^777-3^Platelets^LN||40|10*9/L|||||F|||{TS}",
        f"NM|1920-8^AST^LN^1742-6^ALT^LN||200|U/L|||||F|||{TS}",
        f"NM|1975-2^Bilirubin^LN^2160-0^Creatinine^LN||1.4|mg/dL|||||F|||{TS}",
        f"NM|751-8^Neutrophils^LN~777-3^Platelets^LN||40|10*9/L|||||F|||{TS}",  # repeated
    ],
)
def test_hl7_codes_of_two_analytes_are_no_result(fields: str) -> None:
    _rejected(_hl7(fields), RejectionCode.AMBIGUOUS_ANALYTE)


def test_codes_of_one_analyte_are_one_result() -> None:
    result = _hl7(f"NM|1988-5^CRP^LN^30522-7^hs-CRP^LN||12|mg/L|||||F|||{TS}")
    assert isinstance(result, NormalisedResult)
    assert (result.analyte.value, result.value) == ("crp", 12.0)


def test_fhir_codes_of_two_analytes_are_no_result() -> None:
    resource = crp_observation("TWO-1", unit="U/L")
    resource["code"] = {"coding": [{"system": "http://loinc.org", "code": "1920-8"},
                                   {"system": "http://loinc.org", "code": "1742-6"}]}  # fmt: skip
    (observation,) = parse_observation(resource, "lab", "FHIR").observations
    _rejected(normalise(observation), RejectionCode.AMBIGUOUS_ANALYTE)


def test_a_cancellation_naming_two_analytes_is_rejected_too() -> None:
    message, _ = parse_oru(oru("V-2", [f"NM|751-8^N^LN^777-3^P^LN||||||||X|||{TS}"]))
    planned = plan_results(message, UnitParameters(), AT)
    _rejected(planned, RejectionCode.AMBIGUOUS_ANALYTE)


# --- OBX-5: one plain number of a type that holds one -------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        f"CWE|1988-5^CRP^LN||10^Above 10 mg/L^99LAB|mg/L|||||F|||{TS}",  # a coded answer
        f"CE|1988-5^CRP^LN||30|mg/L|||||F|||{TS}",  # a code that reads as a number
        f"DT|1988-5^CRP^LN||20261120|mg/L|||||F|||{TS}",  # a date, not 20,261,120 mg/L
        f"ST|1988-5^CRP^LN||5^-^10|mg/L|||||F|||{TS}",  # a range, not 5
        f"NM|1988-5^CRP^LN||12^5|mg/L|||||F|||{TS}",
        f"NM|1988-5^CRP^LN||12&5|mg/L|||||F|||{TS}",
        f"SN|1988-5^CRP^LN||^9&5|mg/L|||||F|||{TS}",
    ],
)
def test_hl7_value_that_is_not_one_plain_number_is_rejected(fields: str) -> None:
    _rejected(_hl7(fields), RejectionCode.NON_NUMERIC_VALUE)


@pytest.mark.parametrize("value_type", ["NM", "ST", "TX", "FT", ""])
def test_types_that_hold_a_number_are_read(value_type: str) -> None:
    result = _hl7(f"{value_type}|1988-5^CRP^LN||12.5^|mg/L|||||F|||{TS}")
    assert isinstance(result, NormalisedResult)
    assert result.value == 12.5


def test_a_non_trial_coded_value_keeps_its_first_component() -> None:
    """As stored (and digested) before: an unchanged resend stays a duplicate."""
    message, _ = parse_oru(oru("V-3", [f"CWE|600-7^Culture^LN||POS^Positive^L||||||F|||{TS}"]))
    assert message.observations[0].value == "POS"


# --- off the instrument's scale (HL7 table 0078, FHIR interpretation) ----------------------


@pytest.mark.parametrize(
    ("fields", "comparator"),
    [
        (f"NM|751-8^Neutrophils^LN||0.5|10*9/L||<|||F|||{TS}", Comparator.BELOW),
        (f"NM|1988-5^CRP^LN||200|mg/L|0-5|>|||F|||{TS}", Comparator.ABOVE),
        # in a later repetition
        (f"NM|1988-5^CRP^LN||200|mg/L|0-5|H~>|||F|||{TS}", Comparator.ABOVE),
        (f"SN|1988-5^CRP^LN||<^5|mg/L|0-5|<|||F|||{TS}", Comparator.BELOW),  # both agree
    ],
)
def test_hl7_off_scale_flag_makes_the_value_a_limit(fields: str, comparator: Comparator) -> None:
    result = _hl7(fields)
    assert isinstance(result, NormalisedResult), result
    assert result.comparator is comparator


@pytest.mark.parametrize(
    "fields",
    [
        f"SN|1988-5^CRP^LN||>^5|mg/L|0-5|<|||F|||{TS}",  # above 5, below the scale
        f"NM|1988-5^CRP^LN||<5|mg/L|0-5|>|||F|||{TS}",
        f"NM|1988-5^CRP^LN||5|mg/L|0-5|<~>|||F|||{TS}",  # below and above the scale
    ],
)
def test_hl7_a_limit_on_both_sides_is_refused(fields: str) -> None:
    _rejected(_hl7(fields), RejectionCode.CENSORED_VALUE)


def test_fhir_off_scale_interpretation_makes_the_value_a_limit() -> None:
    resource = crp_observation("OFF-1")
    resource["interpretation"] = [{"coding": [{"system": V3, "code": "H"}]},
                                  {"coding": [{"system": V3, "code": ">"}]}]  # fmt: skip
    (observation,) = parse_observation(resource, "l", "F").observations
    result = normalise(observation)
    assert isinstance(result, NormalisedResult), result
    assert (result.comparator, result.abnormal_flag) == (Comparator.ABOVE, "H")


def test_json_off_scale_flag_makes_the_value_a_limit() -> None:
    message = parse_lab_results({
        "message_id": "J-OFF", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [{"result_id": "R1", "loinc": "751-8", "value": "0.5", "unit": "10*9/L",
                     "abnormal_flag": "<", "status": "final",
                     "collected_at": "2026-11-20T08:00:00+01:00"}]})  # fmt: skip
    result = normalise(message.observations[0])
    assert isinstance(result, NormalisedResult), result
    assert (result.value, result.comparator) == (0.5, Comparator.BELOW)


def test_a_high_flag_is_published() -> None:
    result = _hl7(f"NM|1988-5^CRP^LN||200|mg/L|0-5|H|||F|||{TS}")
    assert isinstance(result, NormalisedResult)
    assert (result.value, result.abnormal_flag) == (200.0, "H")


# --- FHIR reference ranges: only the one normal range for everyone -------------------------


def _alt_with_ranges(ranges: list[dict[str, object]]) -> NormalisedResult | Rejected | None:
    resource = crp_observation("ALT-1", unit="U/L")
    resource["code"] = {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]}
    resource["referenceRange"] = ranges
    (observation,) = parse_observation(resource, "l", "F").observations
    return normalise(observation)


MEANING = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"


@pytest.mark.parametrize(
    "ranges",
    [
        [{"high": {"value": 25, "unit": "U/L"}, "appliesTo": [{"text": "female"}]},
         {"high": {"value": 50, "unit": "U/L"}, "appliesTo": [{"text": "male"}]}],
        [{"high": {"value": 25, "unit": "U/L"}}, {"high": {"value": 50, "unit": "U/L"}}],
        [{"high": {"value": 25, "unit": "U/L"}, "age": {"low": {"value": 18}}}],
        [{"high": {"value": 25, "unit": "U/L"},
          "type": {"coding": [{"system": MEANING, "code": "therapeutic"}]}}],
        [{"low": {"value": 0, "unit": "mg/dL"}, "high": {"value": 5}}],  # one bound's unit
    ],
)  # fmt: skip
def test_fhir_reference_range_that_is_not_the_one_for_everyone_is_dropped(
    ranges: list[dict[str, object]],
) -> None:
    result = _alt_with_ranges(ranges)
    assert isinstance(result, NormalisedResult)
    assert (result.reference_low, result.reference_high) == (None, None)


def test_fhir_normal_range_is_read_beside_others() -> None:
    result = _alt_with_ranges([
        {"high": {"value": 99, "unit": "U/L"},
         "type": {"coding": [{"system": MEANING, "code": "therapeutic"}]}},
        {"low": {"value": 5, "unit": "U/L"}, "high": {"value": 40, "unit": "U/L"},
         "type": {"coding": [{"system": MEANING, "code": "normal"}]}},
    ])  # fmt: skip
    assert isinstance(result, NormalisedResult)
    assert (result.reference_low, result.reference_high) == (5.0, 40.0)


# --- more digits than the published number keeps ------------------------------------------


@pytest.mark.parametrize(
    ("loinc", "value", "unit"),
    [("1988-5", "9.99999999999999999999", "mg/L"),  # CRP response: < 10 mg/L
     ("1988-5", "0.99999999999999999", "mg/dL"),
     ("751-8", "0.99999999999999999", "10*9/L")],  # neutrophils hold: < 1.0
)  # fmt: skip
def test_more_significant_digits_than_a_float_keeps_are_rejected(
    loinc: str, value: str, unit: str
) -> None:
    result = normalise(ObservationInput(
        result_key="k", codes=(Coding(loinc, "LN"),), value=value, unit=(unit,), status="F",
        collected_at=AT,
    ))  # fmt: skip
    _rejected(result, RejectionCode.NON_NUMERIC_VALUE)


@given(
    digits=st.integers(min_value=1, max_value=15),
    data=st.data(),
)
def test_up_to_fifteen_significant_digits_are_published_as_written(
    digits: int, data: st.DataObject
) -> None:
    mantissa = data.draw(st.integers(min_value=10 ** (digits - 1), max_value=10**digits - 1))
    # at most three digits before the point: below 1000 mg/L, CRP's plausibility ceiling
    point = data.draw(st.integers(min_value=max(digits - 3, 0), max_value=digits))
    text = str(mantissa)
    text = f"{text[: len(text) - point]}.{text[len(text) - point :]}" if point else text
    text = "0" + text if text.startswith(".") else text
    # 1.000 mg/L may be 1000 written with a thousands dot, a CRP at its plausibility ceiling:
    # refused as ambiguous (test_values_as_the_lab_meant)
    assume(text != "1.000")
    result = normalise(ObservationInput(
        result_key="k", codes=(Coding("1988-5", "LN"),), value=text, unit=("mg/L",),
        status="F", collected_at=AT,
    ))  # fmt: skip
    assert isinstance(result, NormalisedResult), (text, result)
    assert result.value == float(text)


def test_a_range_bound_with_too_many_digits_drops_the_range() -> None:
    assert parse_reference_range("0-9.99999999999999999999") == (None, None)
    assert parse_reference_range("0-9.5") == (0.0, 9.5)


# --- an abnormal flag is a table code, never free text (review 36) -------------------------


@pytest.mark.parametrize(
    ("flag", "published"),
    [("H", "H"), ("h", "H"), (" HH ", "HH"), ("ZZMRN123987", None), ("DOE JOHN", None)],
)
def test_only_a_table_code_is_kept_as_the_flag(flag: str, published: str | None) -> None:
    result = _hl7(f"NM|1988-5^CRP^LN||12|mg/L|0-5|{flag}|||F|||{TS}")
    assert isinstance(result, NormalisedResult)
    assert result.abnormal_flag == published


def test_a_fhir_interpretation_that_is_no_code_is_not_kept() -> None:
    resource = crp_observation("FLAG-1")
    resource["interpretation"] = [{"coding": [{"system": V3, "code": "ZZCANARYNAME"}]}]
    (observation,) = parse_observation(resource, "l", "F").observations
    result = normalise(observation)
    assert isinstance(result, NormalisedResult)
    assert result.abnormal_flag is None
