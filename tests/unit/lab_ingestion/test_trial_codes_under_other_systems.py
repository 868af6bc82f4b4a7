"""Another trial analyte's LOINC code under a coding system that is not LOINC's, beside a
code that names a trial analyte, makes the result ambiguous (review 261 D2).

``other_tests`` counted LOINC codings only: platelets' ``777-3`` under ``https://loinc.org``,
``LOINC-2.7``, ``urn:lab`` or HL7's ``99LAB`` beside neutrophils' ``751-8`` was passed over
and the count published as neutrophils, although the same code alone there is refused as
maybe the trial's (``trial_coding_elsewhere``). The rule, for every pair of trial codes and
every system: another analyte's code anywhere is ambiguity; the same analyte's code
(CRP beside hs-CRP) is one test; a local code that is no trial code says nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODES,
    SAME_TEST_CODES,
    identify_analyte,
    names_another_trial_analyte,
    other_tests,
)
from services.lab_ingestion.domain.local_codes import LocalCode, LocalCodeTable, with_local_codes
from services.lab_ingestion.domain.model import (
    Coding,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import (
    DEFAULT_UNIT_PARAMETERS,
    check_one_analyte,
    normalise,
)
from services.lab_ingestion.domain.planning import plan_results
from tests.unit.lab_ingestion.hl7_samples import FAST, join, msh, seg

TRIAL_CODES = sorted({*LOINC_CODES, *SAME_TEST_CODES})
LOINC_SYSTEMS = ["http://loinc.org", "LN", "LOINC", "urn:oid:2.16.840.1.113883.6.1", None]
OTHER_SYSTEMS = ["https://loinc.org", "LOINC-2.7", "urn:lab", "99LAB", "L", "http://loinc.org|2.77"]
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _analyte(code: str) -> object:
    return LOINC_CODES.get(code) or SAME_TEST_CODES.get(code)


def _observation(*codes: Coding) -> ObservationInput:
    return ObservationInput("ORD1|751-8|", codes, "0.4", ("10*9/L",))


@FAST
@given(
    first=st.sampled_from(TRIAL_CODES),
    second=st.sampled_from(TRIAL_CODES),
    first_system=st.sampled_from(LOINC_SYSTEMS),
    second_system=st.sampled_from(OTHER_SYSTEMS),
    elsewhere_first=st.booleans(),
)
def test_another_analytes_trial_code_under_any_system_is_another_test(
    first: str, second: str, first_system: str | None, second_system: str, elsewhere_first: bool
) -> None:
    loinc, elsewhere = Coding(first, first_system), Coding(second, second_system)
    codes = (elsewhere, loinc) if elsewhere_first else (loinc, elsewhere)
    assert identify_analyte(codes) == (_analyte(first), first)
    if _analyte(second) is _analyte(first):
        assert other_tests(codes) == ()
        assert check_one_analyte(_observation(*codes)) is None
    else:
        assert other_tests(codes) == (second,)
        refused = check_one_analyte(_observation(*codes))
        assert isinstance(refused, Rejected)
        assert refused.code is RejectionCode.AMBIGUOUS_ANALYTE
        assert f"{second!r} under coding system" in refused.reason


@FAST
@given(
    trial=st.sampled_from(TRIAL_CODES),
    local=st.sampled_from(["PLT", "NEUT", "CRP", "1968-7", "2093-3", "777-4", "100-1", "X1"]),
    system=st.sampled_from([*OTHER_SYSTEMS, None]),
)
def test_a_local_code_that_is_no_trial_code_says_nothing(
    trial: str, local: str, system: str | None
) -> None:
    """``1968-7`` (direct bilirubin) under ``99LAB`` stays a laboratory's code as before;
    ``777-4`` (a wrong check digit) is no LOINC code; under no system a code written as a
    LOINC code is read as LOINC's (``2093-3``: cholesterol, another test)."""
    codes = (Coding(trial, "http://loinc.org"), Coding(local, system))
    written_as_loinc = local in ("1968-7", "2093-3", "777-4", "100-1")
    expected = (local,) if system is None and written_as_loinc else ()
    assert other_tests(codes) == expected


@pytest.mark.parametrize("system", OTHER_SYSTEMS)
def test_names_another_trial_analyte_only_outside_loincs_systems(system: str) -> None:
    neutrophils = LOINC_CODES["751-8"]
    assert names_another_trial_analyte(Coding("777-3", system), neutrophils)
    assert not names_another_trial_analyte(Coding("751-8", system), neutrophils)
    assert not names_another_trial_analyte(Coding("26499-4", system), neutrophils)
    assert not names_another_trial_analyte(Coding("777-3", "http://loinc.org"), neutrophils)
    assert not names_another_trial_analyte(Coding("PLT", system), neutrophils)


@pytest.mark.parametrize(
    "obx3",
    [
        "751-8^ANC^LN^777-3^PLT^99LAB",
        "777-3^PLT^99LAB^751-8^ANC^LN",
        "751-8^ANC^LN^777-3^PLT^LOINC-2.7",
        "751-8^ANC^LN^26515-7^PLT^L",
    ],
)
def test_hl7_obx3_of_a_neutrophil_and_a_platelet_code_elsewhere_is_refused(obx3: str) -> None:
    text = join([
        msh(),
        seg("PID", {3: "MRN1^^^HOSP^MR"}),
        seg("OBR", {1: "1", 3: "ORD1", 7: "20261120080000+0100"}),
        seg("OBX", {1: "1", 2: "NM", 3: obx3, 5: "0.4", 6: "10*9/L", 7: "1.8-7.7", 11: "F",
                    14: "20261120080000+0100"}),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, Rejected), f"published as one analyte: {planned}"
    assert planned.code is RejectionCode.AMBIGUOUS_ANALYTE


def test_a_mapped_local_code_beside_its_analytes_loinc_code_stays_one_result() -> None:
    """A sender's ``NEUT`` mapped to 751-8 beside 751-8 itself (README "local codes")."""
    table = LocalCodeTable([LocalCode("LIS", "HOSP", "99LAB", "NEUT", "751-8")])
    sent = (Coding("751-8", "LN"), Coding("NEUT", "99LAB"))
    codes = with_local_codes(sent, table.of_sender("LIS", "HOSP"))
    assert other_tests(codes) == ()
    assert check_one_analyte(_observation(*codes)) is None


def test_a_mapped_local_code_beside_another_analytes_code_elsewhere_is_ambiguous() -> None:
    table = LocalCodeTable([LocalCode("LIS", "HOSP", "99LAB", "NEUT", "751-8")])
    sent = (Coding("NEUT", "99LAB"), Coding("777-3", "99LAB"))
    codes = with_local_codes(sent, table.of_sender("LIS", "HOSP"))
    refused = check_one_analyte(_observation(*codes))
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.AMBIGUOUS_ANALYTE


def test_crp_and_hs_crp_elsewhere_stay_one_result() -> None:
    observation = ObservationInput(
        "ORD1|1988-5|", (Coding("1988-5", "LN"), Coding("30522-7", "99LAB")), "12", ("mg/L",),
        collected_at=RECEIVED,
    )  # fmt: skip
    result = normalise(observation)
    assert isinstance(result, NormalisedResult) and result.loinc == "1988-5"
