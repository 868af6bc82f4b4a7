"""Base64 text in a FHIR string element or a JSON field is not kept in the copy of a
rejected input, as an HL7 copy's is not (``base64_text``): a report one decode away names the
patient. What a trial result is read from is kept as sent (a trial Observation's value, a
JSON trial result's value): the same rule as HL7's."""

from __future__ import annotations

import base64
import copy
import json

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.json_redaction import redact_json
from tests.unit.lab_ingestion.route_fakes import JSON_BODY, hash_identifier

REPORT = base64.b64encode(b"Report of HUBERMANN ROSWITHA, born 17.03.1951").decode()


def _hash(_: str) -> str:
    return "ab" * 32


def test_base64_in_a_fhir_value_string_is_not_kept() -> None:
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"text": "report"}, "valueString": REPORT}  # fmt: skip
    assert REPORT not in json.dumps(redact_fhir(observation, _hash))


def test_base64_in_a_document_references_description_is_not_kept() -> None:
    document = {"resourceType": "DocumentReference", "status": "current",
                "description": REPORT,
                "content": [{"attachment": {"contentType": "application/pdf"}}]}  # fmt: skip
    assert REPORT not in json.dumps(redact_fhir(document, _hash))


def test_base64_in_a_fhir_observations_unit_and_code_text_is_not_kept() -> None:
    quantity = {"value": 1, "unit": REPORT}
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"text": REPORT}, "valueQuantity": quantity}  # fmt: skip
    assert REPORT not in json.dumps(redact_fhir(observation, _hash))


def test_base64_in_a_trial_fhir_observations_value_is_not_kept_its_code_is() -> None:
    """Review 105: a trial Observation's value was kept as sent, a base64 report naming the
    patient too (one decode away). Base64 is no measurement: masked as in any value."""
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
                   "valueString": REPORT,
                   "referenceRange": [{"text": REPORT}]}  # fmt: skip
    kept = redact_fhir(observation, _hash)
    assert REPORT not in json.dumps(kept)
    assert kept["code"] == observation["code"] and kept["status"] == "final"


def test_base64_in_a_json_results_value_is_not_kept() -> None:
    """A result of a test the trial does not follow."""
    body = copy.deepcopy(JSON_BODY)
    body["results"][0].update(loinc="11502-2", value=REPORT, reference_range=REPORT)
    assert REPORT not in json.dumps(redact_json(body, hash_identifier))


def test_base64_in_a_json_trial_results_value_is_not_kept() -> None:
    """Review 105: as in FHIR and HL7, a trial result's base64 value is no measurement."""
    body = copy.deepcopy(JSON_BODY)
    body["results"][0]["value"] = REPORT
    kept = redact_json(body, hash_identifier)["results"][0]
    assert REPORT not in json.dumps(kept) and kept["loinc"] == "1988-5"
