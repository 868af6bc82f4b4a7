"""Realistic OBX-6 unit spellings and HL7 numbers accepted for a correct
result. Each message is a plain, correct ORU^R01 as an interface engine sends it; it is
parsed by the real codec and planned by the real domain (plan_results)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import plan_results

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


def message(code: str, value: str, unit: str, reference: str) -> str:
    return (
        "MSH|^~\\&|LIS|HOSP^1.2.3^ISO|LENA|TRIAL|20261120091512+0100||ORU^R01|MSG-61|P|2.5.1\r"
        "PID|1||123456^^^HOSP^MR\r"
        "ORC|RE|PLC1|FIL1||CM\r"
        "OBR|1|PLC1|FIL1|PANEL^Panel^L|||20261120081512+0100\r"
        f"OBX|1|NM|{code}||{value}|{unit}|{reference}|N|||F|||20261120081512+0100\r"
    )


@pytest.mark.parametrize(
    ("code", "value", "unit", "reference", "expected"),
    [
        # UCUM's own (case-sensitive) code of the international unit: [iU]; only the
        # case-insensitive form [IU]/L is listed
        ("ALT^ALT^L^1742-6^ALT^LN", "35", "[iU]/L", "0-40", 35.0),
        ("AST^AST^L^1920-8^AST^LN", "42", "[iU]/L", "0-40", 42.0),
        # US result text (Cerner/Epic): units/L
        ("ALT^ALT^L^1742-6^ALT^LN", "35", "units/L", "0-40", 35.0),
        # German laboratories: Tausend pro Mikroliter
        ("PLT^Thrombozyten^L^777-3^Platelets^LN", "250", "Tsd/µl", "150-400", 250.0),
        # Epic's x10(n) text, as x10(3)/uL is listed
        ("NEUT^Neutrophils^L^751-8^Neutrophils^LN", "3.2", "x10(9)/L", "1.8-7.5", 3.2),
        # French Giga/l (Giga/L is listed), and x10E9/L written with a lower-case litre
        ("PLT^Plaquettes^L^777-3^Platelets^LN", "250", "Giga/l", "150-400", 250.0),
        ("NEUT^Neutrophils^L^751-8^Neutrophils^LN", "3.2", "x10E9/l", "1.8-7.5", 3.2),
        ("NEUT^Neutrophils^L^751-8^Neutrophils^LN", "3.2", "10E9/l", "1.8-7.5", 3.2),
    ],
)
def test_a_common_unit_spelling_is_accepted(
    code: str, value: str, unit: str, reference: str, expected: float
) -> None:
    lab_message, _ = parse_oru(message(code, value, unit, reference), identify=lambda s: "h" * 64)
    planned = plan_results(lab_message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, list), planned
    [(_, result)] = planned
    assert result is not None and result.value == expected


def test_an_hl7_nm_value_with_a_trailing_decimal_point_is_accepted() -> None:
    """HL7 v2 NM: an optional sign, digits and an optional decimal point: ``12.`` is an NM
    of 12 (instruments that print a fixed point write it so)."""
    text = message("CRP^CRP^L^1988-5^CRP^LN", "12.", "mg/L", "0.0-8.0")  # flagged N
    lab_message, _ = parse_oru(text, identify=lambda s: "h" * 64)
    planned = plan_results(lab_message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, list), planned
    [(_, result)] = planned
    assert result is not None and result.value == 12.0
