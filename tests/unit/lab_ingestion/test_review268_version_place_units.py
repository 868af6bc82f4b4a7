"""Review 268: what miscounted carets put into OBX-6's version places (CWE-7, 8).

D2: a text naming a unit that is not written as one alone (``mg/dl (Serum)``, ``% (percent)``,
``Milligramm pro Deziliter``) was passed over there, and a CRP in mg/dL published as mg/L: it
is compared as the same text in CWE-2 or 9 is. D1: a unit written with a plain caret there
(``x10^9/L``) was read in halves, its ``9/L`` told as another unit: read joined, as the same
unit written escaped is. Version ids (``2.1``, ``v2``, ``10`` then ``2``) change nothing.

Review 269: a unit so split with words after it (``10^9/L (cells)``) was refused by its
``9/L (cells)``: read as one text; a coding system's name in words about units (``Units
2.1``, ``UN/ECE Rec 20``) refused the result: it names no known unit. And base64 in a trial
result's OBX-3 components never read (CWE-7, 8, after CWE-12) was kept in the copy.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_kept_lines import mask_documents
from services.lab_ingestion.adapters.obx6_versions import misplaced_unit
from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.hl7_samples import FAST
from tests.unit.lab_ingestion.test_review259_numeric_reading import CRP, _refused, _stored

ANC, PLT = "751-8^ANC^LN", "777-3^PLT^LN"


@pytest.mark.parametrize(
    ("code", "value", "obx6"),
    [
        (CRP, "1.2", "mg/L^^UCUM^^^^mg/dl (Serum)"),
        (CRP, "1.2", "mg/L^^UCUM^^^^^mg/dL (milligrams per decilitre)"),
        (CRP, "1.2", "mg/L^^UCUM^^^^Milligramm pro Deziliter"),
        (CRP, "1.2", "mg/L^^UCUM^^^^CRP (mg/dL)"),
        (ANC, "55", "10*9/L^^UCUM^^^^% (percent)"),
    ],
)
def test_a_text_naming_another_unit_in_a_version_place_is_refused(
    code: str, value: str, obx6: str
) -> None:
    assert _refused(code, value, obx6) is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize(
    "obx6", ["mg/L^^UCUM^^^^mg/l (Serum)", "mg/L^^UCUM^^^^^milligrams per litre"]
)
def test_a_text_naming_the_same_unit_in_a_version_place_is_read(obx6: str) -> None:
    assert _stored(CRP, "1.2", obx6) == (1.2, "mg/L")


@pytest.mark.parametrize(
    ("code", "value", "obx6"),
    [
        (PLT, "250", "10*9/L^^UCUM^^^^x10^9/L"),
        (PLT, "250", "10\\S\\9/L^^UCUM^^^^x10^9/L"),
        (ANC, "5.2", "10*9/L^^UCUM^^^^^10^9/L"),
    ],
)
def test_a_unit_with_a_plain_caret_in_a_version_place_is_read_joined(
    code: str, value: str, obx6: str
) -> None:
    number, unit = _stored(code, value, obx6)
    assert number == float(value) and unit.startswith("10")


def test_a_plain_caret_unit_in_a_version_place_that_disagrees_is_refused() -> None:
    assert _refused(ANC, "5.2", "10*9/L^^UCUM^^^^x10^12/L") is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize("versions", ["10^2", "2.1^v2", "HL7 2.5^2.16.840.1.113883.6.8"])
def test_version_ids_change_nothing(versions: str) -> None:
    assert _stored(CRP, "1.2", f"mg/L^^UCUM^^^^{versions}") == (1.2, "mg/L")


@FAST
@given(st.text(alphabet="0123456789.vV", max_size=8))
def test_a_version_number_is_never_a_misplaced_unit(text: str) -> None:
    assert not misplaced_unit(text)


@pytest.mark.parametrize(
    "versions", ["10^9/L (cells)", "x10^9/L (Thrombozyten)", "10^9 Zellen/L", "10^9 cells/L"]
)
def test_a_split_unit_with_words_in_the_version_places_is_read_as_one(versions: str) -> None:
    assert _stored(PLT, "250", f"10*9/L^^UCUM^^^^{versions}")[0] == 250.0


def test_a_split_unit_with_words_in_the_version_places_that_disagrees_is_refused() -> None:
    obx6 = "10*9/L^^UCUM^^^^x10^12/L (cells)"
    assert _refused(PLT, "250", obx6) is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize(
    "versions",
    [
        "UCUM (Unified Code for Units of Measure)",
        "The Unified Code for Units of Measure 2.1",
        "2.1^SI-Units 1.0",
        "Units 2.1",
        "UN/ECE Rec 20",
    ],
)
def test_a_coding_systems_name_in_a_version_place_refuses_nothing(versions: str) -> None:
    assert _stored(CRP, "1.2", f"mg/L^mg/L^UCUM^^^^{versions}") == (1.2, "mg/L")


_BASE64 = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3"


def test_base64_in_obx_3_components_never_read_is_masked_in_a_trial_results_copy() -> None:
    unread = f"^^^^{_BASE64}^{_BASE64}^^^^^{_BASE64}"  # CWE-7, 8 and 13
    fields = ["OBX", "1", "NM", f"1988-5^CRP^LN{unread}", "", "20"]
    mask_documents("OBX", fields, ("|", "^", "~", "\\", "&"))
    parts = fields[3].split("^")
    assert parts[:3] == ["1988-5", "CRP", "LN"]
    assert _BASE64 not in fields[3], fields[3]


@pytest.mark.parametrize(
    ("code", "value", "versions"),
    [
        (CRP, "12", "CRP (mg%)"),
        (CRP, "12", "mg% (Serum)"),
        (CRP, "12", "Milligramm pro Deziliter Serum"),
        (CRP, "12", "IE/l (Serum)"),
        (CRP, "12", "10 hoch 12 pro Liter"),
        (PLT, "250", "10 hoch 12 pro Liter"),
        (PLT, "250", "Tsd./\u00b5l (Zellen)"),
        (CRP, "12", "10^mg/dL (Serum)"),
        (CRP, "12", "x10^mg/dl Serum"),
        (PLT, "250", "10^% (cells)"),
    ],
)
def test_unit_words_or_a_unit_after_a_version_number_are_compared(
    code: str, value: str, versions: str
) -> None:
    coded = "mg/L" if code == CRP else "10*9/L"
    assert _refused(code, value, f"{coded}^^UCUM^^^^{versions}") is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize("versions", ["10^v2", "x10^v2", "10^mg/L", "10^V2.1", "10^L", "10^SI"])
def test_a_version_pair_starting_with_a_power_base_refuses_nothing(versions: str) -> None:
    assert _stored(CRP, "1.2", f"mg/L^^UCUM^^^^{versions}") == (1.2, "mg/L")


@pytest.mark.parametrize(
    ("code", "obx6"),
    [
        (CRP, "mg/L^^UCUM^^^^ISO/IEC 80000"),
        (PLT, "10*9/L^^UCUM^^^^UN/CEFACT Rec 20"),
        (PLT, "10*9/L^^UCUM^^^^2.1^ISO/IEC 80000-1"),
        (CRP, "mg/L^^UCUM^^^^Local units"),
        (CRP, "mg/L^^UCUM^^^^unit list 2.1"),
        (CRP, "mg/L^^UCUM~mg/L^^UCUM^^^^CEN/TS 15"),
        (CRP, "mg/L^^UCUM^^^^10^UN/ECE Recommendation 20 Revision 17"),
        (CRP, "mg/L^^UCUM^^^^N/A"),
        (CRP, "mg/L^^UCUM^^^^HL7/UCUM^UCUM/2.1"),
    ],
)
def test_a_standards_or_unit_tables_label_refuses_nothing(code: str, obx6: str) -> None:
    value = "1.2" if code == CRP else "250"
    assert _stored(code, value, obx6)[0] == float(value)


@pytest.mark.parametrize(
    "obx6",
    [
        "10*9/L^^UCUM^^^^(%)",
        "10*9/L^^UCUM^^^^[%]",
        "10*9/L^^UCUM^^^^2.1^(%)",
        "10*9/L^^UCUM^^^^20 %",
        "10*9/L^^UCUM~10*9/L^^UCUM^^^^(%)",
        "10*9/L^^UCUM^^^^10^9/L^(%)",
    ],
)
def test_a_percent_not_alone_in_a_version_place_is_compared(obx6: str) -> None:
    assert _refused(ANC, "3.1", obx6) is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize(
    ("code", "obx6"),
    [
        (CRP, "mg/L^^UCUM^^^^Lokale Einheiten"),
        (PLT, "10*9/L^^UCUM^^^^2.1^unités locales"),
        (ANC, "10*9/L^^UCUM^^^^unità SI 2.1"),
        (CRP, "mg/L^^UCUM~mg/L^^UCUM^^^^Einheiten v2"),
        (CRP, "mg/L^^UCUM^^^^liste des unités"),
        (CRP, "mg/L^^UCUM^^^^10^Local units"),
        (CRP, "mg/L^^UCUM^^^^10^SI-Einheiten 2.1"),
        (CRP, "mg/L^^UCUM^^^^x10^20 \u00e9dition"),
    ],
)
def test_a_unit_tables_label_in_any_language_refuses_nothing(code: str, obx6: str) -> None:
    value = "1.2" if code == CRP else "3.1"
    assert _stored(code, value, obx6)[0] == float(value)


@pytest.mark.parametrize(
    ("code", "obx6"),
    [
        (ANC, "10*9/L^^UCUM^^^^UCUM:%"),
        (ANC, "10*9/L^^UCUM^^^^ISO:%"),
        (ANC, "10*9/L^^UCUM^^^^2.1^v2:%"),
        (ANC, '10*9/L^^UCUM^^^^"%"'),
        (ANC, "10*9/L^^UCUM^^^^#%"),
        (ANC, "10*9/L^^UCUM^^^^HL7 %"),
        (ANC, "10*9/L^^UCUM~10*9/L^^UCUM^^^^SI;%"),
        (CRP, "mg/L^^UCUM^^^^lab:mg/dL"),
        (CRP, "mg/L^^UCUM^^^^2.1^SI:mg/dL"),
    ],
)
def test_a_unit_after_a_label_in_a_version_place_is_compared(code: str, obx6: str) -> None:
    value = "12" if code == CRP else "3.1"
    assert _refused(code, value, obx6) is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize(
    "versions", ["Rev. E", "2.1^Version M", "Liste G", "lab:M", "HL7 v2.5 E", "MOLIS", "Molis 8"]
)
def test_a_revision_letter_or_a_lab_systems_name_refuses_nothing(versions: str) -> None:
    assert _stored(CRP, "1.2", f"mg/L^^UCUM^^^^{versions}") == (1.2, "mg/L")


@pytest.mark.parametrize(
    ("code", "obx6"),
    [
        (ANC, "10*9/L^^UCUM^^^^10*9/L im Serum %"),
        (ANC, "10*9/L^^UCUM^^^^2.1^10*9/L de la liste %"),
        (CRP, "mg/L^^UCUM^^^^Labor,mg/dL"),
        (CRP, "mg/L^^UCUM^^^^2.1_mg/dL"),
        (CRP, "mg/L^^UCUM^^^^lab=mg/dL"),
        (CRP, "mg/L^^UCUM^^^^\u201emg/dL\u201c"),
    ],
)
def test_a_percent_after_words_or_a_unit_after_a_comma_is_compared(code: str, obx6: str) -> None:
    value = "12" if code == CRP else "3.1"
    assert _refused(code, value, obx6) is RejectionCode.UNCONVERTIBLE_UNIT
