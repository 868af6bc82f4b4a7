"""An OBX-7 that lists several ranges (one per sex) is no range of this result.

PROTOCOL section 5: LLN and ULN come from the result's own reference range (OBX-7) when
present, else from the protocol's defaults; they grade ALT, AST, bilirubin and creatinine as
multiples of the ULN. The README decides that a range for a population the patient's sex or
age would choose is not read (FHIR: "several, or one for a population or an age (the
patient's sex and age are not known here), leave none"), and that OBX-7 followed by words
that are no unit (``0-5 (adult)``) is dropped, never misread.

Before, once a unit followed the first range, everything after it was ignored: ``<33 U/L (F),
<41 U/L (M)`` is published as ULN 33 U/L for every patient. A man's ALT of 180 U/L is then
5.5 x ULN, grade 3 (a safety alert), where his own ULN of 41 gives 4.4 x ULN, grade 2; a
man's creatinine of 1.7 mg/dL against the women's ULN 1.1 is grade 2 (1.5 x ULN), against
his own 1.3, grade 1.
"""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.model import NormalisedResult
from tests.unit.lab_ingestion.hl7_samples import one_result_oru, only_result


def _published(obx3: str, value: str, unit: str, obx7: str) -> NormalisedResult:
    return only_result(one_result_oru(obx3, value, unit, obx7))


@pytest.mark.parametrize(
    ("obx3", "measured", "obx7"),
    [
        ("1742-6^ALT^LN", ("180", "U/L"), "<33 U/L (F), <41 U/L (M)"),
        ("1742-6^ALT^LN", ("180", "U/L"), "<33 U/L F; <41 U/L M"),
        ("1920-8^AST^LN", ("180", "U/L"), "10-32 U/L (F) 10-40 U/L (M)"),
        ("2160-0^Creatinine^LN", ("1.7", "mg/dL"), "0.5-1.1 mg/dL (F); 0.7-1.3 mg/dL (M)"),
        ("2160-0^Creatinine^LN", ("150", "umol/L"), "45-84 umol/L (F), 59-104 umol/L (M)"),
        ("718-7^Hemoglobin^LN", ("12.5", "g/dL"), "12.0-15.5 g/dL (F); 13.5-17.5 g/dL (M)"),
    ],
)
def test_a_range_text_listing_one_range_per_sex_gives_no_lln_or_uln(
    obx3: str, measured: tuple[str, str], obx7: str
) -> None:
    result = _published(obx3, *measured, obx7)
    assert (result.reference_low, result.reference_high) == (None, None), (
        f"{obx7!r} published as {result.reference_low}-{result.reference_high} "
        f"{result.unit}: the first sex's range, whatever the patient's"
    )


def test_one_range_with_its_unit_is_still_read() -> None:
    """What the fix must keep (README: ``12-16 g/dL (F)`` is read, in its own unit)."""
    result = _published("1742-6^ALT^LN", "180", "U/L", "<41 U/L")
    assert (result.reference_low, result.reference_high) == (None, 41.0)
