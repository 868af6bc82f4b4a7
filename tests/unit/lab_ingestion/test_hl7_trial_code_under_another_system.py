"""An HL7 OBX whose only trial code is a trial analyte's LOINC code under a coding system that
is not LOINC's (``1988-5^CRP^99LAB``, ``LOINC-2.7``) and no mapping of the sender's names
the test (twenty-third session): it was left out as another test's and the message answered
AA, a CRP of 85 lost. It is a trial result that cannot be used, as over FHIR (review 121):
the message is refused ``unknown-analyte`` at that OBX, as one of two results with a unit
that cannot be converted refuses it; the reason quotes the code, and the system only in a
coding system's shape, and says which names are read as LOINC's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODES,
    SAME_TEST_CODES,
    loinc_system,
    trial_coding_elsewhere,
)
from services.lab_ingestion.domain.local_codes import LocalCodeTable, checked_local_code
from services.lab_ingestion.domain.model import Coding, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import PlannedResult, plan_results
from services.lab_ingestion.domain.shown import CODING_SYSTEM
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.hl7_samples import FAST, fake_hash

HEAD = [
    "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
    "PID|1||MRN9^^^HOSP^MR",
    "OBR|1|PLC1|F9|LAB^Lab panel|||20261120070000+0000",
]
HB = "OBX|1|NM|718-7^Haemoglobin^LN||12.5|g/dL|12-16||||F|||20261120070000+0000"
PLT = "OBX|3|NM|777-3^Platelets^LN||250|10*9/L|150-400||||F|||20261120070000+0000"
TABLE = LocalCodeTable([checked_local_code("LIS", "HOSP", "L", "CRP", "1988-5")])


def crp(obx3: str, status: str = "F", value: str = "85", unit: str = "mg/L") -> str:
    return f"OBX|2|NM|{obx3}||{value}|{unit}|0-5|H|||{status}|||20261120070000+0000"


def planned(
    *obx: str, table: LocalCodeTable | None = None, channel: Channel | None = None
) -> list[PlannedResult] | Rejected:
    message, _ = parse_oru("\r".join([*HEAD, *obx]), identify=fake_hash,
                           local_codes=table or LocalCodeTable())  # fmt: skip
    if channel is not None:
        message = replace(message, channel=channel)
    return plan_results(message, DEFAULT_UNIT_PARAMETERS, datetime(2026, 11, 20, 12, tzinfo=UTC))


@pytest.mark.parametrize(
    ("obx3", "shown"),
    [
        ("1988-5^CRP^99LAB", "'99LAB'"),
        ("1988-5^CRP^LOINC-2.7", "'LOINC-2.7'"),
        ("751-8^Neutrophils^L", "'L'"),
        ("76485-2^CRP nmol^LN2.73", "'LN2.73'"),  # a same-measurement code too
        ("1988-5^CRP^2.16.840.1.113883.6.96", "'2.16.840.1.113883.6.96'"),  # SNOMED's OID
        ("1988-5^CRP^https://loinc.org", "'https://loinc.org'"),
        ("CRPX^CRP^L^1988-5^CRP^99LAB", "'99LAB'"),  # an unmapped local code beside it
        ("4548-4^HbA1c^LN^1988-5^CRP^99LAB", "'99LAB'"),  # another test's, read as LOINC
    ],
)
def test_a_trial_code_under_another_system_refuses_the_message_at_its_obx(
    obx3: str, shown: str
) -> None:
    rejected = planned(HB, crp(obx3))
    assert isinstance(rejected, Rejected), rejected
    assert rejected.code is RejectionCode.UNKNOWN_ANALYTE and rejected.observation == 1
    code = next(c for c in (*LOINC_CODES, *SAME_TEST_CODES) if f"{c}^" in obx3)
    assert f"LOINC code {code!r}" in rejected.reason and shown in rejected.reason
    assert "LN, LOINC, LNC (check digit right) or 2.16.840.1.113883.6.1" in rejected.reason


def test_alone_it_is_refused_with_its_own_reason_not_as_no_trial_result() -> None:
    rejected = planned(crp("1988-5^CRP^99LAB").replace("OBX|2|", "OBX|1|"))
    assert isinstance(rejected, Rejected) and rejected.observation == 0, rejected
    assert "'1988-5' (crp) under coding system '99LAB'" in rejected.reason


def test_it_is_refused_as_an_unconvertible_unit_on_one_of_two_is() -> None:
    """The rule of a message's unusable trial result: the message refused, at that OBX."""
    unconvertible = planned(HB, crp("1988-5^CRP^LN", unit="furlongs"))
    misfiled = planned(HB, crp("1988-5^CRP^99LAB"))
    assert isinstance(unconvertible, Rejected) and isinstance(misfiled, Rejected)
    assert unconvertible.observation == misfiled.observation == 1


@pytest.mark.parametrize("status", ["F", "C", "P", "R", "S", "X", "D", "W", "Z"])
def test_any_status_holding_a_result_is_refused(status: str) -> None:
    """As over FHIR: a preliminary result, a correction, a cancellation (of which test?)."""
    value = "" if status in "XDW" else "85"
    rejected = planned(HB, crp("1988-5^CRP^99LAB", status=status, value=value))
    assert isinstance(rejected, Rejected) and rejected.code is RejectionCode.UNKNOWN_ANALYTE


@pytest.mark.parametrize("status", ["I", "O", "N"])
def test_a_status_of_no_result_is_left_out_as_before(status: str) -> None:
    results = planned(HB, crp("1988-5^CRP^99LAB", status=status, value=""))
    assert isinstance(results, list) and len(results) == 1, results


@pytest.mark.parametrize(
    "obx3",
    [
        "1988-5^CRP",  # no system, written as a LOINC code: LOINC's
        "1988-5^CRP^LN",
        "1988-5^CRP^loinc",
        "1988-5^CRP^LNC",  # UMLS's name, its check digit right
        "1988-5^CRP^2.16.840.1.113883.6.1",
        "CRPX^CRP^L^1988-5^CRP^LN",  # the alternate identifier under LN, the primary local
        "CRP^CRP^L^1988-5^CRP^99LAB",  # mapped: the LOINC code of its analyte is not read
    ],
)
def test_a_trial_code_read_as_loinc_or_mapped_is_a_result_as_before(obx3: str) -> None:
    results = planned(HB, crp(obx3), table=TABLE)
    assert isinstance(results, list) and len(results) == 2, results


# named as CRP, such a result is refused by its name instead (test_crp_under_unlisted_codes)
@pytest.mark.parametrize("obx3", ["4548-4^HbA1c^99LAB", "1988-4^Test^99LAB", "K-CRP^Test^99LAB"])
def test_no_trial_code_or_a_wrong_check_digit_is_another_tests(obx3: str) -> None:
    results = planned(HB, crp(obx3))
    assert isinstance(results, list) and len(results) == 1, results


def test_fhir_keeps_its_own_reason() -> None:
    rejected = planned(crp("1988-5^CRP^99LAB"), channel=Channel.FHIR)
    assert isinstance(rejected, Rejected) and rejected.observation is None
    assert "(http://loinc.org) only" in rejected.reason


@pytest.mark.parametrize(
    "system", ["SMITH", "HUBERMANN ROSWITHA", "04.03.1961", "079 123 45 67", "1.3.1961", "9912345"]
)
def test_a_system_that_may_be_a_name_date_or_number_is_not_quoted(system: str) -> None:
    rejected = planned(HB, crp(f"1988-5^CRP^{system}"))
    assert isinstance(rejected, Rejected), rejected
    assert system not in rejected.reason and "characters" in rejected.reason, rejected.reason


SYSTEM_TEXT = st.text(alphabet="ABCLNOIXZ0123456789.-_ /:", min_size=1, max_size=24)
TRIAL_CODES = st.sampled_from(sorted({*LOINC_CODES, *SAME_TEST_CODES}))


@FAST
@given(code=TRIAL_CODES, system=SYSTEM_TEXT, at=st.integers(0, 2))
def test_anywhere_among_good_results_under_any_other_system_it_is_refused_there(
    code: str, system: str, at: int
) -> None:
    written = system.strip()
    compared = written.lower().rstrip("/")
    if not compared or loinc_system(compared, code):
        return  # LOINC's: read as LOINC (another test's check then applies)
    others = [HB, PLT]
    obx = [*others[:at], crp(f"{code}^Test^{system}"), *others[at:]]
    rejected = planned(*obx)
    assert isinstance(rejected, Rejected), rejected
    assert rejected.code is RejectionCode.UNKNOWN_ANALYTE and rejected.observation == at
    assert repr(code) in rejected.reason
    quoted = f"coding system {written!r}" in rejected.reason
    assert quoted is bool(CODING_SYSTEM.fullmatch(written)), rejected.reason


@given(codes=st.lists(st.tuples(TRIAL_CODES, st.sampled_from(["LN", "LNC", None, "99LAB"])),
                      max_size=3))  # fmt: skip
def test_a_coding_elsewhere_is_found_only_when_no_coding_names_a_trial_analyte(
    codes: list[tuple[str, str | None]],
) -> None:
    codings = [Coding(code, system) for code, system in codes]
    found = trial_coding_elsewhere(codings)
    read = any(system != "99LAB" for _, system in codes)
    assert (found is not None) is (not read and bool(codes))
    assert found is None or found.system == "99LAB"
