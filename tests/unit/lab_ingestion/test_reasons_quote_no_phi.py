"""A rejection's reason quotes a value or unit only in the shape of one (review 44): a
reason is stored, published on lab.rejected.v1 and sent back in MSA-3, and a misplaced
birth date, phone or AHV number, all digits and signs, is described by its length alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import UnitParameters, normalise
from services.lab_ingestion.domain.planning import plan_results
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.hl7_samples import fake_hash, join, msh, seg
from tests.unit.lab_ingestion.test_normalise import observation

# a birth date, a phone number, a Swiss AHV (social security) number: digits and signs only
PERSONAL_DIGITS = ["04.03.1961", "1961-03-04", "079 123 45 67", "+41 79 123 45 67",
                   "756.1234.5678.97"]  # fmt: skip


@pytest.mark.parametrize("value", PERSONAL_DIGITS)
def test_a_value_that_may_be_a_birth_date_or_phone_is_not_quoted(value: str) -> None:
    result = normalise(observation(value=value))
    assert isinstance(result, Rejected)
    assert value not in result.reason and "characters" in result.reason, result.reason


@pytest.mark.parametrize("unit", ["04.03.1961", "0791234567", "19610304"])
def test_a_unit_that_may_be_a_birth_date_or_phone_is_not_quoted(unit: str) -> None:
    result = normalise(observation(unit=(unit,)))
    assert isinstance(result, Rejected)
    assert unit not in result.reason and "characters" in result.reason, result.reason


@pytest.mark.parametrize(
    ("analyte", "value", "unit"),
    [(Analyte.CRP, "<0", "mg/L"), (Analyte.CRP, "-3", "mg/L"),
     (Analyte.PLATELETS, "25.000", "/uL")],  # 250.000: six digits, a birth date's (review 128)
)  # fmt: skip
def test_a_lab_number_is_still_quoted(analyte: Analyte, value: str, unit: str) -> None:
    result = normalise(observation(analyte, value=value, unit=(unit,)))
    assert isinstance(result, Rejected)
    assert repr(value) in result.reason, result.reason


def test_a_bare_unit_is_still_quoted() -> None:
    result = normalise(observation(unit=("%",)))
    assert isinstance(result, Rejected)
    assert "'%'" in result.reason, result.reason


@given(st.from_regex(r"[0-9]{2}[.\-/ ][0-9]{2}[.\-/ ][0-9]{2,4}", fullmatch=True))
def test_no_date_shaped_value_is_ever_quoted(value: str) -> None:
    result = normalise(observation(value=value))
    assert isinstance(result, Rejected)
    assert value not in result.reason


def test_an_hl7_birth_date_in_a_value_field_is_in_neither_the_copy_nor_the_reason() -> None:
    text = join([
        msh(),
        seg("PID", {3: "4711081512^^^HOSP^MR", 5: "DOE^JANE", 7: "19610304"}),
        seg("OBR", {1: "1", 3: "ORD1", 7: "202611010800+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "04.03.1961", 6: "mg/L", 11: "F",
                    14: "202611010800+0000"}),
    ])  # fmt: skip
    message, _ = parse_oru(text, identify=fake_hash)
    planned = plan_results(message, UnitParameters(), datetime(2026, 11, 2, tzinfo=UTC))
    assert isinstance(planned, Rejected)
    assert "04.03.1961" not in redact(text, fake_hash)
    assert "04.03.1961" not in planned.reason, planned.reason


@pytest.mark.parametrize("value_type", ["Smith", "ROE", "4711", "X1"])
def test_an_obx2_that_is_no_value_type_is_not_quoted(value_type: str) -> None:
    """A short word in OBX-2 may be a name: only HL7 table 0125 value types are quoted."""
    result = normalise(replace(observation(), value_type=value_type))
    assert isinstance(result, Rejected)
    assert value_type.upper() not in result.reason.upper(), result.reason
    assert "characters" in result.reason


@pytest.mark.parametrize("value_type", ["CWE", "DT", "XPN", "NR"])
def test_an_obx2_value_type_is_quoted(value_type: str) -> None:
    result = normalise(replace(observation(), value_type=value_type))
    assert isinstance(result, Rejected)
    assert f"'{value_type}'" in result.reason


@pytest.mark.parametrize("value_type", ["CE", "CWE", "DT", "NR"])
def test_an_obx2_type_of_no_number_is_told_before_a_missing_unit(value_type: str) -> None:
    """A coded value has no unit: what is wrong is that it is no number (review 157: it was
    told it had no unit); an empty one is told empty."""
    coded = replace(observation(value="260385009", unit=()), value_type=value_type)
    result = normalise(coded)
    assert isinstance(result, Rejected)
    assert result.code is RejectionCode.NON_NUMERIC_VALUE, result
    assert result.reason == f"crp value is of type '{value_type}' (OBX-2), not a number"
    empty = normalise(replace(coded, value=""))
    assert isinstance(empty, Rejected) and empty.reason == "crp value is empty", empty
