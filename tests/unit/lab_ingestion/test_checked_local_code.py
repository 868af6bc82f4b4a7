"""``checked_local_code``, for any input (beside test_local_codes.py's examples and its
properties of the code): a coding system is kept only as a sender can write it in OBX-3 (one
component, not LOINC's), a mapping only to a trial analyte's LOINC code; what is kept is
stripped, its coding system upper case, and checks again as itself."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODE,
    LOINC_CODES,
    LOINC_SYSTEMS,
    SAME_TEST_CODES,
    is_loinc_code,
)
from services.lab_ingestion.domain.local_codes import (
    MAX_LOCAL_CODE_CHARS,
    InvalidLocalCode,
    checked_local_code,
    local_key,
)

TRIAL_CODES = {**LOINC_CODES, **SAME_TEST_CODES}
SEPARATORS = "|^~\\&"
# printable characters (str.isprintable: no control, format or separator but the space)
_PRINTABLE = st.characters(
    blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"),
    blacklist_characters=SEPARATORS,
) | st.just(" ")
_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters=SEPARATORS)


def _part(alphabet: st.SearchStrategy[str], min_size: int = 0) -> st.SearchStrategy[str]:
    """Text a sender can write as one component, within the length kept once stripped."""
    return st.text(alphabet, min_size=min_size, max_size=MAX_LOCAL_CODE_CHARS).filter(
        lambda text: len(text.strip()) >= min_size
    )


codes = _part(_PRINTABLE, min_size=1)
systems = _part(_ASCII).filter(lambda s: s.strip().lower().rstrip("/") not in LOINC_SYSTEMS)
trial_loinc = st.sampled_from(sorted(TRIAL_CODES))
loinc_shaped = st.from_regex(LOINC_CODE, fullmatch=True)


@given(codes, systems, trial_loinc, st.text(), st.text())
def test_a_code_a_sender_can_write_is_kept_stripped_its_system_upper_case(
    code: str, system: str, loinc: str, application: str, facility: str
) -> None:
    # else a LOINC code: under no system written as one, under any a valid one
    assume(not is_loinc_code(code.strip()))
    assume(system.strip() or not LOINC_CODE.fullmatch(code.strip()))
    kept = checked_local_code(application, facility, system, code, loinc)
    assert (kept.code, kept.system, kept.loinc) == (code.strip(), system.strip().upper(), loinc)
    assert kept.system == kept.system.upper()  # as PostgreSQL's upper() compares it
    assert (kept.application, kept.facility) == (application.strip(), facility.strip())
    assert kept.key == local_key(system, code)
    assert kept.analyte is kept.applied_analyte is TRIAL_CODES[loinc]
    again = checked_local_code(kept.application, kept.facility, kept.system, kept.code, kept.loinc)
    assert again == kept


@given(systems, st.sampled_from(SEPARATORS), codes)
def test_a_coding_system_holding_an_hl7_separator_is_refused(
    system: str, separator: str, code: str
) -> None:
    with pytest.raises(InvalidLocalCode, match="holds an HL7 separator"):
        checked_local_code("LIS", "HOSP", f"{system}{separator}"[-20:], code, "1988-5")


@given(codes, st.sampled_from(sorted(LOINC_SYSTEMS)), st.booleans(), trial_loinc)
def test_any_code_of_the_loinc_system_is_refused(
    code: str, system: str, upper: bool, loinc: str
) -> None:
    with pytest.raises(InvalidLocalCode, match="is a LOINC code"):
        checked_local_code("LIS", "HOSP", system.upper() if upper else system, code, loinc)


@given(codes, loinc_shaped.filter(lambda code: code not in TRIAL_CODES))
def test_a_target_not_a_trial_analytes_loinc_code_is_refused(code: str, loinc: str) -> None:
    assume(not is_loinc_code(code.strip()))  # refused first as LOINC's own (``1029-8``)
    with pytest.raises(InvalidLocalCode, match="not the LOINC code of a trial analyte"):
        checked_local_code("LIS", "HOSP", "L", code, loinc)


@given(systems, st.sampled_from(sorted({*TRIAL_CODES, "1968-7", "2345-7", "11502-2"})))
def test_a_loinc_code_with_its_check_digit_is_refused_under_any_system(
    system: str, code: str
) -> None:
    """``1968-7`` (direct bilirubin) under ``LNC`` or ``99LAB`` is still direct bilirubin."""
    with pytest.raises(InvalidLocalCode, match="is a LOINC code"):
        checked_local_code("LIS", "HOSP", system, code, "1975-2")


@given(st.from_regex(r"[0-9]{1,7}", fullmatch=True))
def test_a_code_shaped_as_loinc_with_a_wrong_check_digit_is_a_laboratorys_own(
    number: str,
) -> None:
    """Exactly one check digit makes a LOINC code of a number: under a system of its own,
    each of the nine others is the laboratory's code (``100-1^Haemoglobin^L``)."""
    right = [d for d in "0123456789" if is_loinc_code(f"{number}-{d}")]
    assert len(right) == 1
    for digit in "0123456789":
        code = f"{number}-{digit}"
        if digit == right[0]:
            continue
        assert checked_local_code("LIS", "HOSP", "L", code, "718-7").code == code
