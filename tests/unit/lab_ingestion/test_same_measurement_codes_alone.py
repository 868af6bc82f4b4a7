"""A trial analyte sent under one of its same-measurement LOINC codes alone (review 68).

``SAME_TEST_CODES`` are the trial analytes' measurements under another unit kind or method
(moles, manual count, P-5'-P). Alone they identify the analyte, the unit is checked as for
any result, the code published is the one the laboratory sent, and beside the protocol's own
code that code is published (as before); beside another analyte's code they are ambiguous.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODES,
    SAME_TEST_CODES,
    identify_analyte,
)
from services.lab_ingestion.domain.model import (
    Coding,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS, normalise
from services.lab_ingestion.domain.planning import plan_results
from shared.contracts.events.lab import Analyte

COLLECTED = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# each analyte's main code (the protocol's table), a value and unit it takes
MAIN = {a: next(c for c, b in LOINC_CODES.items() if b is a) for a in Analyte}
VALUE_IN = {
    Analyte.CRP: ("95.24", "nmol/L"),
    Analyte.NEUTROPHILS: ("0.3", "10*9/L"),
    Analyte.PLATELETS: ("20", "10*3/uL"),
    Analyte.HAEMOGLOBIN: ("4.2", "mmol/L"),
    Analyte.BILIRUBIN: ("95", "umol/L"),
    Analyte.ALT: ("35", "U/L"),
    Analyte.AST: ("35", "U/L"),
}
LOINC_SYSTEMS = st.sampled_from(["LN", "http://loinc.org", "2.16.840.1.113883.6.1", None])


def _result(*codes: Coding) -> ObservationInput:
    analyte = next(a for c in codes if (a := SAME_TEST_CODES.get(c.code)))
    value, unit = VALUE_IN[analyte]
    return ObservationInput("ORD1|x|", codes, value, (unit,), status="F", collected_at=COLLECTED)


def test_every_same_test_code_is_checked_and_listed() -> None:
    """The codes accepted alone: the review's four, ALT/AST by the IFCC P-5'-P method, and
    CRP and hs-CRP in moles (review 121)."""
    assert set(SAME_TEST_CODES) == {
        "14631-6", "59260-0", "753-4", "778-1", "1743-4", "30239-8", "76485-2", "76486-0"
    }  # fmt: skip
    assert set(SAME_TEST_CODES.values()) <= set(VALUE_IN)


@given(code=st.sampled_from(sorted(SAME_TEST_CODES)), system=LOINC_SYSTEMS)
def test_a_same_test_code_alone_is_its_analyte_published_under_the_code_sent(
    code: str, system: str | None
) -> None:
    analyte = SAME_TEST_CODES[code]
    assert identify_analyte([Coding("LOCAL", "99LAB"), Coding(code, system)]) == (analyte, code)
    result = normalise(_result(Coding(code, system)))
    assert isinstance(result, NormalisedResult), result
    assert result.analyte is analyte and result.loinc == code


@given(code=st.sampled_from(sorted(SAME_TEST_CODES)), main_first=st.booleans())
def test_beside_the_main_code_the_main_code_is_published_as_before(
    code: str, main_first: bool
) -> None:
    main = Coding(MAIN[SAME_TEST_CODES[code]], "LN")
    same = Coding(code, "LN")
    result = normalise(_result(*((main, same) if main_first else (same, main))))
    assert isinstance(result, NormalisedResult), result
    assert result.loinc == main.code


@given(code=st.sampled_from(sorted(SAME_TEST_CODES)), other=st.sampled_from(sorted(Analyte)))
def test_beside_another_analytes_code_it_is_ambiguous(code: str, other: Analyte) -> None:
    if other is SAME_TEST_CODES[code]:
        return
    result = normalise(_result(Coding(code, "LN"), Coding(MAIN[other], "LN")))
    assert isinstance(result, Rejected) and result.code is RejectionCode.AMBIGUOUS_ANALYTE


@pytest.mark.parametrize(
    ("code", "unit"),
    [("753-4", "mg/dL"), ("14631-6", "mmol/L"), ("59260-0", "umol/L"), ("778-1", "U/L")],
)
def test_the_unit_is_still_checked(code: str, unit: str) -> None:
    codes = (Coding(code, "LN"),)
    result = normalise(ObservationInput("ORD1|x|", codes, "5", (unit,), collected_at=COLLECTED))
    assert isinstance(result, Rejected) and result.code is RejectionCode.UNCONVERTIBLE_UNIT


def test_a_fhir_bilirubin_in_moles_alone_is_total_bilirubin() -> None:
    resource = {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab:central", "value": "OBS-1"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "14631-6"}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN123"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 34.2, "unit": "umol/L",
                          "system": "http://unitsofmeasure.org", "code": "umol/L"},
    }  # fmt: skip
    planned = plan_results(parse_observation(resource, "LIS", "HOSP"), DEFAULT_UNIT_PARAMETERS,
                           RECEIVED)  # fmt: skip
    assert isinstance(planned, list), planned
    [(_, result)] = planned
    assert isinstance(result, NormalisedResult)
    assert (result.analyte, result.loinc, result.value) == (Analyte.BILIRUBIN, "14631-6", 2.0)


@pytest.mark.parametrize("code", ["76485-2", "76486-0"])
def test_crp_in_moles_alone_is_crp_converted_from_nmol_per_litre(code: str) -> None:
    """Review 121: CRP in nmol/L under its moles code (the Swiss ch-lab-order compendium's)
    was unknown-analyte alone and silently ignored in a Bundle."""
    result = normalise(
        ObservationInput(
            "ORD1|x|",
            (Coding(code, "http://loinc.org"),),
            "95.24",
            ("nmol/L",),
            status="F",
            collected_at=COLLECTED,
        )
    )
    assert isinstance(result, NormalisedResult), result
    assert result.analyte is Analyte.CRP and result.loinc == code
    assert result.unit == "mg/L" and result.value == pytest.approx(10.0)
