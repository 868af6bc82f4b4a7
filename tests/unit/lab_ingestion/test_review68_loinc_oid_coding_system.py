"""Review 68: LOINC named by its bare OID in OBX-3's coding system is not LOINC.

What real senders do: HL7 v2 writes an OID bare (HD, EI and CWE components never carry
``urn:oid:``, which is FHIR's URI form). Senders whose code tables are maintained as OIDs
(state/CDC ELR feeds, HIE routing through Rhapsody or Mirth with a terminology service,
messages down-converted from FHIR/CDA) put LOINC's OID ``2.16.840.1.113883.6.1`` in
OBX-3.3 (or .6) instead of ``LN``.

What goes wrong: ``analyte_codes.LOINC_SYSTEMS`` lists ``urn:oid:2.16.840.1.113883.6.1`` but
not the bare OID, so ``1988-5^C reactive protein^2.16.840.1.113883.6.1`` is taken as a
local code: the CRP is "another test's". Alone in its message it is refused
``unknown-analyte`` ("the message holds no result of a trial analyte"); beside a result
coded ``LN`` it is dropped silently and the message answered AA. And the guard against a
second LOINC code beside the trial code (``other_tests``: direct bilirubin 1968-7 beside
total bilirubin 1975-2) does not see a LOINC code so written.

What should happen: the bare OID is LOINC, as its ``urn:oid:`` form already is.

Suggested fix: ``domain/analyte_codes.LOINC_SYSTEMS`` (add ``2.16.840.1.113883.6.1``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import NormalisedResult, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import plan_results

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)
LOINC_OID = "2.16.840.1.113883.6.1"


def _message(*obx: str) -> str:
    return (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|OID-68|P|2.5.1\r"
        "PID|1||123456^^^HOSP^MR\r"
        "OBR|1|PLC1|FIL1|CHEM^Chemistry^L|||20261120081512+0100\r"
        + "".join(f"{segment}|||F|||20261120081512+0100\r" for segment in obx)
    )


def test_a_crp_coded_with_loincs_bare_oid_is_a_crp() -> None:
    text = _message(f"OBX|1|NM|1988-5^C reactive protein^{LOINC_OID}||48|mg/L|0-5|H")
    message, _ = parse_oru(text, identify=lambda s: "h" * 64)
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, list), planned
    [(_, result)] = planned
    assert isinstance(result, NormalisedResult) and result.analyte.value == "crp"
    assert result.value == 48.0


def test_direct_bilirubin_coded_by_oid_beside_total_is_not_published_as_total() -> None:
    """The README's own example (1968-7 direct bilirubin with 1975-2 total bilirubin as its
    alternate is ambiguous), with the direct code's system written as the OID."""
    text = _message(
        f"OBX|1|NM|1968-7^Bilirubin direct^{LOINC_OID}^1975-2^Bilirubin total^LN||"
        "1.9|mg/dL|0.0-0.3|H"
    )
    message, _ = parse_oru(text, identify=lambda s: "h" * 64)
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, Rejected), (
        f"a direct bilirubin was planned as total bilirubin: {planned}"
    )
    assert planned.code is RejectionCode.AMBIGUOUS_ANALYTE


def _fhir(*codings: tuple[str, str]) -> dict[str, object]:
    return {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab:central", "value": "OBS-1"}],
        "code": {"coding": [{"system": system, "code": code} for code, system in codings]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN123"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 1.9, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                          "code": "mg/dL"},
    }  # fmt: skip


@pytest.mark.parametrize("system", [LOINC_OID, f"urn:oid:{LOINC_OID}"])
def test_fhir_reads_loincs_oid_in_either_form(system: str) -> None:
    total = parse_observation(_fhir(("1975-2", system)), "LIS", "HOSP")
    planned = plan_results(total, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, list), planned
    [(_, result)] = planned
    assert isinstance(result, NormalisedResult) and result.analyte.value == "bilirubin"
    direct = parse_observation(
        _fhir(("1968-7", system), ("1975-2", "http://loinc.org")), "LIS", "HOSP"
    )
    refused = plan_results(direct, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.AMBIGUOUS_ANALYTE
