"""HL7's highlighting escapes in a trial result's value read as nothing (review 68).

``\\H\\`` (start highlighting) and ``\\N\\`` (normal text) mark how a value is shown, no
character of it: a trial result's OBX-5 reads the number shown. Every other field reads them
as python-hl7 does (``_``): PID-3's number is never joined across one, and another test's
value (kept and digested as before) is unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import NormalisedResult
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import plan_results

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)
H, N = "\\H\\", "\\N\\"


def _message(obx: str, mrn: str = "123456") -> str:
    return (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|HL-73|P|2.5.1\r"
        f"PID|1||{mrn}^^^HOSP^MR\r"
        "OBR|1|PLC1|FIL1|CBC^Blood count^L|||20261120081512+0100\r"
        f"{obx}|||F|||20261120081512+0100\r"
    )


def _neutrophils(value_type: str, value: str) -> str:
    return f"OBX|1|{value_type}|751-8^Neutrophils^LN||{value}|10*9/L|1.8-7.5|A"


def _planned_value(text: str) -> float:
    message, _ = parse_oru(text, identify=lambda s: "h" * 64)
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, list), planned
    [(_, result)] = planned
    assert isinstance(result, NormalisedResult), result
    return result.value


@given(
    number=st.decimals(min_value=0, max_value=400, places=2).map(str),
    value_type=st.sampled_from(["NM", "ST", "TX", "FT"]),
    marks=st.sampled_from([(H, N), (H, ""), ("", N), (f"{H}{N}", ""), (f" {H}", f"{N} ")]),
)
def test_a_highlighted_number_reads_as_the_number_shown(
    number: str, value_type: str, marks: tuple[str, str]
) -> None:
    plain = _planned_value(_message(_neutrophils(value_type, number)))
    start, end = marks
    assert _planned_value(_message(_neutrophils(value_type, f"{start}{number}{end}"))) == plain


@pytest.mark.parametrize(("value", "expected"), [(f"<^{H}0.3{N}", "<0.3"), (f"^{H}0.3{N}", "0.3")])
def test_a_structured_numeric_highlighted(value: str, expected: str) -> None:
    message, _ = parse_oru(_message(_neutrophils("SN", value)), identify=lambda s: "h" * 64)
    assert message.observations[0].value == expected


def test_another_tests_value_reads_as_before() -> None:
    obx = f"OBX|1|TX|2093-3^Cholesterol^LN||{H}5.2{N}|mmol/L||H"
    message, _ = parse_oru(_message(obx), identify=lambda s: "h" * 64)
    assert message.observations[0].value == "_5.2_"


def test_a_patient_number_is_never_joined_across_a_highlight() -> None:
    seen: list[str] = []

    def identify(mrn: str) -> str:
        seen.append(mrn)
        return "h" * 64

    parse_oru(_message(_neutrophils("NM", "0.3"), mrn=f"123{H}456"), identify=identify)
    assert "123456" not in seen
