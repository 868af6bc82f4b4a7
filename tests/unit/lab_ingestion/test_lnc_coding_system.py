"""``LNC`` (UMLS's name for LOINC) in OBX-3's coding system is LOINC's where the code's
check digit is right (review 119: ``1988-5^CRP^LNC`` was refused, AE 103)."""

from __future__ import annotations

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.analyte_codes import identify_analyte, other_tests
from services.lab_ingestion.domain.model import Coding
from shared.contracts.events.lab import Analyte


def test_lnc_names_a_loinc_code_with_its_check_digit_right() -> None:
    assert identify_analyte([Coding("1988-5", "LNC")]) == (Analyte.CRP, "1988-5")
    assert identify_analyte([Coding("1988-5", "lnc")]) == (Analyte.CRP, "1988-5")


def test_lnc_under_a_wrong_check_digit_is_no_loinc_code() -> None:
    # 1968-7 is direct bilirubin; 1968-6 no LOINC code: under LNC it names no test
    assert other_tests([Coding("1988-5", "LN"), Coding("1968-6", "LNC")]) == ()
    assert other_tests([Coding("1988-5", "LN"), Coding("1968-7", "LNC")]) == ("1968-7",)


def test_an_hl7_result_coded_under_lnc_is_a_trial_result() -> None:
    text = (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|c1|P|2.3\r"
        "PID|1||MRN4711^^^HOSP^MR\rOBR|1|P1|F1|CRP|||20261120081500+0100\r"
        "OBX|1|NM|1988-5^CRP^LNC||42.5|mg/L|0-5|H|||F\r"
    )
    message, _ = parse_oru(text)
    assert identify_analyte(message.observations[0].codes) == (Analyte.CRP, "1988-5")
