"""Review 282: what task 280's and review 279's readings of unit texts broke, each case
refused or passed over where the code before them read it right.

- a local unit code's words joined by underscores (``CRP_MG_L``, ``HB_G_DL``) were cut
  into units (``MG``, ``DL``) and the result refused;
- a percent after a two-character sign (``+/-3 %``) was no longer a quantity;
- a long run of numbers and commas (``1,2,1,2,...``) took quadratic time: a 30 kB unit
  text was planned past the committer's give-up and answered "resend" for ever;
- a dilution's colon (``1:10``) was glue, and its 10 read as a count's factor;
- ``PCT`` in capitals (procalcitonin), ``percentile`` or ``prozentual`` in a version
  place was a percent;
- a label before a quoted unit's words (``Einheit "IE/l"``) hid them: passed over.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.obx6_versions import misplaced_units
from services.lab_ingestion.domain.analytes import resolve_unit
from services.lab_ingestion.domain.model import NormalisedResult, Rejected
from services.lab_ingestion.domain.unit_symbols import symbols_in
from services.lab_ingestion.domain.unit_words import units_named
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.hl7_samples import one_result_oru, planned


def _planned(code: str, value: str, obx6: str) -> NormalisedResult | Rejected:
    """The one result of an ORU with ``obx6`` as OBX-6, as planned (or its refusal)."""
    results = planned(one_result_oru(code, value, obx6))
    if isinstance(results, Rejected):
        return results
    [(_, result)] = results
    assert isinstance(result, NormalisedResult | Rejected)
    return result


def _read(analyte: Analyte, *components: str) -> bool:
    return not isinstance(resolve_unit(analyte, components), Rejected)


@pytest.mark.parametrize(
    ("analyte", "code", "text"),
    [
        (Analyte.CRP, "mg/L", "CRP_MG_L"),
        (Analyte.CRP, "mg/L", "MG_L_CRP"),
        (Analyte.CRP, "mg/L", "MG_L_1"),
        (Analyte.CRP, "mg/L", "MG_L_V2"),
        (Analyte.CRP, "mg/L", "CRP:MG_L"),
        (Analyte.CRP, "mg/L", "mg/L;MG_L"),
        (Analyte.CREATININE, "umol/L", "CREA_UMOL_L"),
        (Analyte.CREATININE, "umol/L", "UMOL_L;Jaffe"),
        (Analyte.HAEMOGLOBIN, "g/dL", "HB_G_DL"),
        (Analyte.ALT, "U/L", "ALT_UL"),
        (Analyte.ALT, "U/L", "ALT_IU_L"),
    ],
)
def test_a_local_codes_words_joined_by_underscores_are_read_whole(
    analyte: Analyte, code: str, text: str
) -> None:
    assert _read(analyte, code, text, "UCUM"), resolve_unit(analyte, (code, text, "UCUM"))


def test_a_fhir_local_code_with_underscores_beside_its_display_is_read() -> None:
    assert _read(Analyte.CRP, "CRP_MG_L", "mg/L")


@pytest.mark.parametrize("text", ["mg/dL_Serum", "2.1_mg/dL", "Labor_mg/dL", "CRP:mg/dL"])
def test_a_unit_glued_by_an_underscore_to_a_label_is_still_compared(text: str) -> None:
    assert not _read(Analyte.CRP, "mg/L", text, "UCUM")


@pytest.mark.parametrize("text", ["mg/L, +/-3 %", "mg/L; +-3 %", "mg/L, -/+3 %", "mg/L ±3 %"])
def test_a_percent_after_a_signed_number_is_a_quantity(text: str) -> None:
    assert _read(Analyte.CRP, "mg/L", text, "UCUM"), resolve_unit(Analyte.CRP, ("mg/L", text))


@pytest.mark.parametrize("pattern", ["1,2,", "1'0", "12:3", "A_B_"])
def test_a_long_text_of_numbers_and_marks_is_read_in_one_pass(pattern: str) -> None:
    # 30,000 characters: quadratic reading took about 25 s (review 282), one pass a few ms
    assert units_named((pattern * 8000)[:30000]) == ()


def test_a_dilutions_colon_is_no_glue() -> None:
    assert _read(Analyte.NEUTROPHILS, "/uL", "Verdünnung 1:10 cells/µL", "UCUM")
    assert symbols_in("1:10") == ()


@pytest.mark.parametrize("word", ["PCT", "percentile", "Perzentile", "prozentual"])
def test_a_word_near_percent_is_no_percent_in_a_version_place(word: str) -> None:
    assert misplaced_units(word) == []
    assert isinstance(_planned("1988-5^CRP^LN", "12", f"mg/L^^UCUM^^^^{word}"), NormalisedResult)


@pytest.mark.parametrize("word", ["pct", "Perzent", "pourcentage", "percentuale", "Prozentsatz"])
def test_a_percent_word_in_a_version_place_is_a_percent(word: str) -> None:
    assert misplaced_units(word) != []
    assert isinstance(_planned("751-8^NEUT^LN", "3.1", f"10*9/L^^UCUM^^^^{word}"), Rejected)


@pytest.mark.parametrize(
    ("analyte", "code", "text"),
    [
        (Analyte.CRP, "mg/L", 'Einheit "IE/l"'),
        (Analyte.ALT, "ukat/L", 'Einheit "IE/l"'),
        (Analyte.ALT, "ukat/L", "Unit \u201eIE/l\u201c"),
        (Analyte.CRP, "mg/L", "Unit 'IE/l'"),
    ],
)
def test_unit_words_quoted_after_a_label_are_compared(
    analyte: Analyte, code: str, text: str
) -> None:
    assert not _read(analyte, code, text, "UCUM")


def test_a_quoted_unit_after_a_label_is_read() -> None:
    assert _read(Analyte.CRP, "mg/L", 'Einheit "mg/l"', "UCUM")
    assert not _read(Analyte.CRP, "mg/L", 'Einheit "mg/dl"', "UCUM")


_CODE_WORD = st.text(alphabet="ABCDEFGHIKLMNOPRSTUVXYZ0123456789", min_size=1, max_size=5)


@given(st.lists(_CODE_WORD, min_size=2, max_size=4))
def test_a_code_of_words_joined_by_underscores_names_no_unit_of_its_parts(
    words: list[str],
) -> None:
    code = "_".join(words)
    assert symbols_in(f"CRP:{code}") == symbols_in(code)
