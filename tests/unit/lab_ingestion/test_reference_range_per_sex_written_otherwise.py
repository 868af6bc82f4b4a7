"""A range text listing a range per sex, the second written otherwise, gives no range.

``_holds_another_range`` counted as another range only a dashed interval or a comparator
before a number, so a text whose second range is written ``13.5 to 17.5`` or as a bare
limit (``M 41``, ``35 max``) was read as its first range, for every patient. The patient's
sex is not known here, and the ULN grades toxicity: ALT 100 U/L in a man is 2.4 x ULN 41
(CTCAE grade 1) but 3.03 x ULN 33 (grade 2). Dropped, the protocol's limits grade it
(PROTOCOL section 5). A note's number naming no population stays a note.
"""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.analytes import (
    DEFAULT_UNIT_PARAMETERS,
    UnitConversion,
    resolve_unit,
)
from services.lab_ingestion.domain.reference_ranges import reference_range_of
from shared.contracts.events.lab import Analyte


def _range(analyte: Analyte, unit: str, text: str) -> tuple[float | None, float | None]:
    conversion = resolve_unit(analyte, (unit,))
    assert isinstance(conversion, UnitConversion)
    return reference_range_of(analyte, text, conversion, DEFAULT_UNIT_PARAMETERS)


@pytest.mark.parametrize(
    ("analyte", "unit", "text"),
    [
        (Analyte.ALT, "U/L", "10-40 U/L (M), 7 to 35 (F)"),
        (Analyte.HAEMOGLOBIN, "g/dL", "12.0-16.0 g/dL (F); 13.5 to 17.5 (M)"),
        (Analyte.CREATININE, "mg/dL", "0.7-1.3 mg/dL (M) 0.6 to 1.1 (F)"),
        (Analyte.ALT, "U/L", "<33 U/L (F); M 41"),
        (Analyte.ALT, "U/L", "<41 U/L (M) or 33 (F)"),
        (Analyte.ALT, "U/L", "10-40 U/L (M), 35 max (F)"),
        (Analyte.ALT, "U/L", "10-40 U/L (M) / 7 bis 35 (F)"),
        (Analyte.ALT, "U/L", "10-40 U/L (H), 7 \u00e0 35 (F)"),
        (Analyte.ALT, "U/L", "10 - 40 U/L (M), 7 - 35 (F)"),
        (Analyte.CRP, "mg/L", "<5 mg/L (adult 18 y)"),
        (Analyte.CRP, "mg/L", "<5 mg/L (women 50)"),
        (Analyte.CRP, "mg/L", "<5 mg/L; 8"),
    ],
)
def test_a_range_text_listing_a_range_per_sex_is_dropped(
    analyte: Analyte, unit: str, text: str
) -> None:
    assert _range(analyte, unit, text) == (None, None)


@pytest.mark.parametrize(
    ("analyte", "unit", "text", "bounds"),
    [
        (Analyte.ALT, "U/L", "10-40 U/L (37\u00b0C)", (10.0, 40.0)),
        (Analyte.AST, "U/L", "<35 U/L (IFCC 37 C)", (None, 35.0)),
        (Analyte.CRP, "mg/L", "0.0-5.0 mg/L (Roche cobas 8000)", (0.0, 5.0)),
        (Analyte.CRP, "mg/L", "<5 mg/L (method 2)", (None, 5.0)),
        (Analyte.ALT, "U/L", "10-40 U/L (M)", (10.0, 40.0)),
        (Analyte.HAEMOGLOBIN, "g/dL", "12.0-16.0 g/dL (F)", (12.0, 16.0)),
    ],
)
def test_one_range_with_its_label_or_a_numbered_note_is_read(
    analyte: Analyte, unit: str, text: str, bounds: tuple[float | None, float | None]
) -> None:
    assert _range(analyte, unit, text) == bounds
