"""A range's note holding a digit is no second range: a range whose note after the unit
held a digit was dropped, taken for "another range". A single range annotated with its
assay temperature (IFCC enzymes at 37 °C), its method or analyser is one range, read
(PROTOCOL section 5: LLN and ULN come from the result's own range when present; dropped,
the protocol's defaults grade ALT/AST against another laboratory's ULN). A note holding
another range (an interval, a comparator before a number) still drops it."""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.analytes import (
    DEFAULT_UNIT_PARAMETERS,
    UnitConversion,
    resolve_unit,
)
from services.lab_ingestion.domain.reference_ranges import reference_range_of
from shared.contracts.events.lab import Analyte


@pytest.mark.parametrize(
    ("analyte", "unit", "text", "bounds"),
    [
        (Analyte.ALT, "U/L", "10-40 U/L (37°C)", (10.0, 40.0)),
        (Analyte.AST, "U/L", "<35 U/L (IFCC 37 C)", (None, 35.0)),
        (Analyte.CRP, "mg/L", "0.0-5.0 mg/L (Roche cobas 8000)", (0.0, 5.0)),
        (Analyte.CRP, "mg/L", "<5 mg/L (method 2)", (None, 5.0)),
    ],
    ids=["alt-37C", "ast-ifcc-37", "crp-analyser", "crp-method-2"],
)
def test_one_range_with_a_numbered_note_is_read(
    analyte: Analyte, unit: str, text: str, bounds: tuple[float | None, float | None]
) -> None:
    conversion = resolve_unit(analyte, (unit,))
    assert isinstance(conversion, UnitConversion)
    assert reference_range_of(analyte, text, conversion, DEFAULT_UNIT_PARAMETERS) == bounds


@pytest.mark.parametrize(
    ("analyte", "unit", "text"),
    [
        (Analyte.ALT, "U/L", "<33 U/L (F), <41 U/L (M)"),
        (Analyte.CREATININE, "mg/dL", "0.5-1.1 mg/dL (F); 0.7-1.3 mg/dL (M)"),
        (Analyte.ALT, "U/L", "10-40 U/L (37°C), 8-35 U/L (25°C)"),
        (Analyte.CRP, "mg/L", "<5 mg/L (adult) >=1 (neonate)"),
        (Analyte.AST, "U/L", "<35 U/L (F) \u226440 (M)"),
    ],
    ids=["alt-per-sex", "crea-per-sex", "alt-per-temperature", "crp-low-only", "ast-le-sign"],
)
def test_a_note_holding_another_range_drops_the_range(
    analyte: Analyte, unit: str, text: str
) -> None:
    conversion = resolve_unit(analyte, (unit,))
    assert isinstance(conversion, UnitConversion)
    assert reference_range_of(analyte, text, conversion, DEFAULT_UNIT_PARAMETERS) == (None, None)
