"""FHIR test data (HTEST) is refused by a production deployment only; a test deployment
(processing id T, as for HL7's MSH-11) takes it."""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters.fhir_outcome import FhirInputError
from services.lab_ingestion.adapters.fhir_screening import refuse_test_data
from services.lab_ingestion.domain.model import RejectionCode

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"


@pytest.mark.parametrize(
    "label",
    [{"system": ACT_REASON, "code": "HTEST"}, {"code": "HTEST"},
     {"system": "urn:oid:2.16.840.1.113883.5.8", "code": "HTEST"}],
)  # fmt: skip
def test_a_production_deployment_refuses_test_data(label: dict[str, str]) -> None:
    with pytest.raises(FhirInputError) as raised:
        refuse_test_data({"meta": {"security": [label]}}, "Observation")
    assert raised.value.rejection is RejectionCode.WRONG_PROCESSING_ID
    assert [i.expression for i in raised.value.issues] == ["Observation.meta.security"]


def test_a_test_deployment_takes_test_data() -> None:
    refuse_test_data({"meta": {"tag": [{"code": "HTEST"}]}}, "Observation", "T")


def test_another_systems_htest_is_no_test_label() -> None:
    refuse_test_data({"meta": {"tag": [{"system": "urn:local", "code": "HTEST"}]}}, "Bundle")
