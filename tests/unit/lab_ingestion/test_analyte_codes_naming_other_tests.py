"""A result whose LOINC codes name two different tests is no trial result (review 64).

``identify_analyte`` takes the first LOINC code that is a trial analyte's and skips every
other LOINC code, and ``check_one_analyte`` only refuses codes naming two *trial* analytes.
So a result whose primary identifier (OBX-3.1, or FHIR's first coding) is the LOINC code of
a similar but different test (direct bilirubin 1968-7) and whose alternate identifier is a
trial analyte's (total bilirubin 1975-2) is published as the trial analyte: direct bilirubin
(about a quarter of the total, with its own ULN of 0.2-0.3 mg/dL) graded as total bilirubin
(PROTOCOL section 5; eligibility section 1: total bilirubin <= 1.5 mg/dL). The codes
contradict each other just as a neutrophil and a platelet code do: which test was measured
cannot be told, and the result must be refused (``ambiguous-analyte``), not guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import (
    Coding,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS, normalise
from services.lab_ingestion.domain.planning import plan_results
from tests.unit.lab_ingestion.hl7_samples import join, msh, seg

COLLECTED = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _observation(*codes: Coding) -> ObservationInput:
    return ObservationInput(
        "ORD1|1968-7|", codes, "0.9", ("mg/dL",), reference_range="0.0-0.3",
        collected_at=COLLECTED,
    )  # fmt: skip


def test_direct_bilirubin_with_a_total_bilirubin_alternate_code_is_not_total_bilirubin() -> None:
    result = normalise(
        _observation(
            Coding("1968-7", "LN", "Bilirubin.direct"), Coding("1975-2", "LN", "Bilirubin.total")
        )
    )
    assert isinstance(result, Rejected), f"direct bilirubin published as total bilirubin: {result}"
    assert result.code is RejectionCode.AMBIGUOUS_ANALYTE


def test_hl7_obx3_naming_direct_bilirubin_first_is_not_published_as_total_bilirubin() -> None:
    text = join([
        msh(),
        seg("PID", {3: "MRN1^^^HOSP^MR"}),
        seg("OBR", {1: "1", 3: "ORD1", 7: "20261120080000+0100"}),
        seg("OBX", {
            1: "1", 2: "NM", 3: "1968-7^Bilirubin direct^LN^1975-2^Bilirubin total^LN",
            5: "0.9", 6: "mg/dL", 7: "0.0-0.3", 8: "H", 11: "F",
            14: "20261120080000+0100",
        }),
    ])  # fmt: skip
    message, _ = parse_oru(text)
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, Rejected), (
        "a direct bilirubin of 0.9 mg/dL (ULN 0.3) was planned as total bilirubin "
        f"(3 x ULN: grade 2-3): {planned}"
    )
    assert planned.code is RejectionCode.AMBIGUOUS_ANALYTE


def test_fhir_codings_naming_two_different_loinc_tests_are_refused() -> None:
    resource = {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab:central", "value": "OBS-1"}],
        "code": {"coding": [
            {"system": "http://loinc.org", "code": "1968-7", "display": "Bilirubin.direct"},
            {"system": "http://loinc.org", "code": "1975-2", "display": "Bilirubin.total"},
        ]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN123"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 0.9, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                          "code": "mg/dL"},
    }  # fmt: skip
    message = parse_observation(resource, "LIS", "HOSP")
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, Rejected), f"direct bilirubin planned as total: {planned}"
    assert planned.code is RejectionCode.AMBIGUOUS_ANALYTE


@pytest.mark.parametrize(
    "codes",
    [
        # a trial analyte's code first, and another test's after it
        (Coding("1975-2", "LN"), Coding("1968-7", "LN")),
        # another trial analyte's (as before)
        (Coding("751-8", "LN"), Coding("777-3", "http://loinc.org")),
        # a LOINC code of no test the trial follows, with no coding system (counted as LOINC)
        (Coding("1975-2", "LN"), Coding("1968-7")),
        # a coding system LOINC whose code is none
        (Coding("1975-2", "LN"), Coding("BILD", "LN")),
    ],
)
def test_loinc_codes_naming_another_test_make_the_result_ambiguous(
    codes: tuple[Coding, ...],
) -> None:
    result = normalise(_observation(*codes))
    assert isinstance(result, Rejected) and result.code is RejectionCode.AMBIGUOUS_ANALYTE


@pytest.mark.parametrize(
    "codes",
    [
        (Coding("1988-5", "LN"), Coding("30522-7", "LN")),  # CRP and hs-CRP: one analyte
        (Coding("1975-2", "LN"), Coding("BILT", "99LOC", "Bilirubin")),  # a local code
        (Coding("1975-2", "LN"), Coding("BILT", None, "Bilirubin")),  # local, no system
        (Coding("1975-2", "http://loinc.org"), Coding("1968-7", "http://acme.org/codes")),
    ],
)
def test_codes_naming_one_test_are_one_result(codes: tuple[Coding, ...]) -> None:
    assert isinstance(normalise(_observation(*codes)), NormalisedResult)


def test_loinc_codes_of_no_trial_analyte_alone_are_ignored_not_refused() -> None:
    codes = (Coding("1968-7", "LN"), Coding("2093-3", "LN"))  # direct bilirubin, cholesterol
    assert normalise(_observation(*codes)) is None


def test_the_reason_quotes_codes_only() -> None:
    """A code that is written as no LOINC code is may be anything the sender put there (a
    name, a number): told by its length, as the rest of the message is never quoted."""
    result = normalise(
        _observation(Coding("1975-2", "LN", "Bilirubin"), Coding("MUELLER", "LN", "Hans"))
    )
    assert isinstance(result, Rejected) and result.code is RejectionCode.AMBIGUOUS_ANALYTE
    assert "'1975-2'" in result.reason and "(text of 7 characters)" in result.reason
    assert "MUELLER" not in result.reason and "Hans" not in result.reason
    assert "Bilirubin" not in result.reason
