"""Values stored as the laboratory meant them, or refused (PROTOCOL section 6; review 56).

Each test states what a laboratory meant and checks that the service either stores exactly
that or refuses the result; a failing test is a value that reaches dose and toxicity rules
other than the one the laboratory meant, or a common, correct input that is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import (
    Coding,
    NormalisedResult,
    ObservationInput,
    Rejected,
)
from services.lab_ingestion.domain.normalise import normalise

COLLECTED = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
LOINC = {
    "alt": "1742-6",
    "ast": "1920-8",
    "platelets": "777-3",
    "neutrophils": "751-8",
    "creatinine": "2160-0",
}


def _normalised(analyte: str, value: str, unit: str) -> NormalisedResult | Rejected | None:
    return normalise(
        ObservationInput(
            result_key="ORD1|x|",
            codes=(Coding(LOINC[analyte], "LN"),),
            value=value,
            unit=(unit,),
            status="F",
            collected_at=COLLECTED,
        )
    )


def _hl7(code: str, value: str, unit: str) -> NormalisedResult | Rejected | None:
    message = (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|MSG-1|P|2.5.1\r"
        "PID|1||MRN123^^^HOSP^MR\r"
        "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120081500+0100\r"
        f"OBX|1|NM|{code}||{value}|{unit}|||||F|||20261120081500+0100\r"
    )
    parsed, _ = parse_oru(message)
    return normalise(parsed.observations[0])


# --- 1. a thousands dot read as a decimal point, outside counts per microlitre -------------
#
# The service refuses "1,500" in every unit (a comma before three digits may be a thousands
# separator) and "250.000" per microlitre (German laboratories write thousands with a dot),
# but reads "1.500" in any other unit as one and a half. Enzyme activities (U/L) and
# creatinine in umol/L are reported as whole numbers: three decimals there are a thousands
# separator, and the values that carry one are exactly the grade-4 ones (ALT/AST above
# 20 x ULN, creatinine above 1000 umol/L). (Counts in 10^3/uL and the readings kept as
# decimals: see test_thousands_dot_readings.)


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "meant"),
    [
        ("alt", "1.500", "U/L", "ALT 1500 U/L (30 x ULN, grade 4) stored as 1.5 U/L (normal)"),
        ("ast", "2.400", "U/l", "AST 2400 U/L (grade 4) stored as 2.4 U/L (normal)"),
        (
            "creatinine",
            "1.200",
            "\u00b5mol/l",
            "creatinine 1200 umol/L (13.6 mg/dL) stored as 0.0136 mg/dL",
        ),
    ],
)
def test_a_thousands_dot_is_not_read_as_a_decimal_point(
    analyte: str, value: str, unit: str, meant: str
) -> None:
    result = _normalised(analyte, value, unit)
    assert isinstance(result, Rejected), f"{meant}: accepted as {result!r}"


def test_a_thousands_dot_in_an_hl7_alt_result_is_not_stored_as_a_normal_value() -> None:
    """The same through the real HL7 reader: OBX-5 ``1.500`` with OBX-6 ``U/L``."""
    result = _hl7("1742-6^ALT^LN", "1.500", "U/L")
    assert isinstance(result, Rejected), f"ALT 1500 U/L accepted as {result!r}"


# --- 2. common unit spellings refused ------------------------------------------------------
#
# PROTOCOL section 6: units are recognised by UCUM code "and by the common local spellings of
# the same units". These are the spellings of very large laboratories: Quest Diagnostics'
# "Thousand/uL"; the US "mc" for micro (ISMP's list of error-prone abbreviations makes
# hospitals write mcL, not uL or µL): "K/mcL", "10^3/mcL", "x10(3)/mcL", "cells/mcL";
# "x10(3)/uL" (Epic/Cerner result text); "UI/L" (unites/unita internationales: France,
# Italy, Spain) and "Giga/L" (France). Each is refused (unconvertible-unit), so the result
# never reaches the dose decision.


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected"),
    [
        ("platelets", "250", "Thousand/uL", 250.0),
        ("platelets", "250", "K/mcL", 250.0),
        ("platelets", "250", "10^3/mcL", 250.0),
        ("platelets", "250", "x10(3)/uL", 250.0),
        ("platelets", "250", "x10(3)/mcL", 250.0),
        ("platelets", "250", "Giga/L", 250.0),
        ("neutrophils", "1500", "cells/mcL", 1.5),
        ("alt", "40", "UI/L", 40.0),
    ],
)
def test_common_unit_spellings_are_recognised(
    analyte: str, value: str, unit: str, expected: float
) -> None:
    result = _normalised(analyte, value, unit)
    assert isinstance(result, NormalisedResult), f"{unit!r} refused: {result!r}"
    assert result.value == expected


# --- 3. a count per microlitre far below any measurable count ------------------------------
#
# A platelet count sent as "250" with "/uL" (the unit mislabelled for 10^3/uL, the same slip
# the service refuses when the value has decimals: "1.5 /uL") is stored as 0.25 x10^9/L:
# grade-4 thrombocytopenia and a dose hold. No analyser reports a platelet count below
# 1 x10^9/L (1000 /uL); the plausibility checks only look for values above a ceiling.


def test_a_platelet_count_per_microlitre_far_below_any_measurable_count_is_refused() -> None:
    result = _normalised("platelets", "250", "/uL")
    assert isinstance(result, Rejected), f"platelets 250 /uL accepted as {result!r}"
