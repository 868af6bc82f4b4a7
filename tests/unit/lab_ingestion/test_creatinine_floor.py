"""Creatinine has a plausibility floor: a mg/dL value labelled umol/L is refused.

``2160-0 | 2.4 | umol/L | 62-106 | H`` was stored as 0.027 mg/dL: a creatinine in mg/dL
sent under umol/L, 88x too low. Cockcroft-Gault then gives a clearance in the thousands,
and the renal dose caps (PROTOCOL section 4: clearance 30-59 caps, < 30 holds) never apply.
No living patient's serum creatinine is below 0.1 mg/dL (8.84 umol/L), so below it lies a
slip, refused as the haemoglobin floor refuses one.
"""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import normalise
from services.lab_ingestion.domain.plausibility import PLAUSIBILITY_FLOORS, is_plausible
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.hl7_samples import one_result_oru, planned
from tests.unit.lab_ingestion.test_normalise import observation


def test_the_finding_a_mg_dl_value_labelled_umol_l_is_refused() -> None:
    result = planned(one_result_oru("2160-0^Creatinine^LN", "2.4", "umol/L", "62-106"))
    assert isinstance(result, Rejected), result
    assert result.code is RejectionCode.IMPLAUSIBLE_VALUE
    assert result.reason == (
        "creatinine value is below any human value (0.1 mg/dL): "
        "check the unit and the decimal point"
    )


@pytest.mark.parametrize(
    ("value", "unit", "code"),
    [
        ("2.4", ("umol/L",), "2160-0"),
        ("8.8", ("umol/L",), "2160-0"),
        ("0.09", ("mg/dL",), "2160-0"),
        ("0", ("mg/dL",), "2160-0"),
        ("5", ("umol/L",), "14682-9"),  # the other creatinine code: the same analyte
    ],
)
def test_creatinine_below_the_floor_is_refused(
    value: str, unit: tuple[str, ...], code: str
) -> None:
    result = planned(one_result_oru(f"{code}^Creatinine^LN", value, "^".join(unit)))
    assert isinstance(result, Rejected), result
    assert result.code is RejectionCode.IMPLAUSIBLE_VALUE
    assert "below any human value (0.1 mg/dL)" in result.reason


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [("8.84", "umol/L", 0.1), ("0.1", "mg/dL", 0.1), ("17.7", "umol/L", 0.2002262443438914),
     ("0.2", "mg/dL", 0.2), ("62", "umol/L", 0.7013574660633484)],
)  # fmt: skip
def test_creatinine_at_or_above_the_floor_is_read(value: str, unit: str, expected: float) -> None:
    result = normalise(observation(Analyte.CREATININE, value, (unit,)))
    assert isinstance(result, NormalisedResult), result
    assert result.value == expected


def test_the_floor_is_listed_and_in_the_canonical_unit() -> None:
    assert PLAUSIBILITY_FLOORS[Analyte.CREATININE] == 0.1
    assert is_plausible(Analyte.CREATININE, 0.1)
    assert not is_plausible(Analyte.CREATININE, 0.0999)
