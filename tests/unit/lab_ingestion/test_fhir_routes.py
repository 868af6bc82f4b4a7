"""POST /fhir/Observation and POST /fhir through the real aiohttp app, with a fake submit."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from services.lab_ingestion.adapters.redaction import REDACTED
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
)
from tests.unit.lab_ingestion.route_fakes import (
    LAB,
    MRN,
    PATIENT,
    PATIENT_URL,
    SITE_TOKEN,
    FakeSubmit,
    bundle,
    lab_client,
    observation,
    stored_outcome,
)

FHIR_JSON = "application/fhir+json"
INVALID = {"value": "n/a", "unit": "mg/dL"}  # valueQuantity.value must be a number


async def post(
    submit: FakeSubmit, path: str, body: Any = None, *, data: bytes | None = None, **kw: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = kw.pop("headers", LAB)
    async with lab_client(submit) as client:
        raw = data if data is not None else json.dumps(body).encode()
        response = await client.post(path, data=raw, headers=headers)
        assert response.content_type == FHIR_JSON, await response.text()
        return response.status, await response.json(), dict(response.headers)


def issue(outcome: dict[str, Any], index: int = 0) -> dict[str, Any]:
    OperationOutcome.model_validate(outcome)
    assert outcome["resourceType"] == "OperationOutcome"
    return outcome["issue"][index]  # type: ignore[no-any-return]  # decoded JSON is Any


def statuses(response_bundle: dict[str, Any]) -> list[str]:
    Bundle.model_validate(response_bundle)  # a valid FHIR R4 Bundle
    return [e["response"]["status"] for e in response_bundle.get("entry", [])]


# --- item 1: PHI in a stored FHIR rejection ----------------------------------------------


async def test_a_rejected_observation_keeps_no_patient_name_from_displays() -> None:
    resource = observation(
        valueQuantity=INVALID,
        subject={"identifier": {"value": MRN}, "display": "John Smith"},
        performer=[{"reference": "Practitioner/p1", "display": "Dr Jones for JOHN SMITH"}],
        method={"text": "John Smith, drawn at home"},
        note=[{"text": "JOHN SMITH, call back"}],
    )
    submit = FakeSubmit()
    status, _, _ = await post(submit, "/fhir/Observation", resource)
    assert status == 400
    (rejection,) = submit.rejections
    for phi in ("John", "Smith", "JOHN", "SMITH", MRN):
        assert phi not in rejection.redacted_payload, phi
    stored = json.loads(rejection.redacted_payload)
    assert stored["method"]["text"].endswith(", drawn at home")  # the rest of it is kept
    assert stored["note"] == [{"text": REDACTED}]  # a note, free text, is not
    assert stored["performer"] == [{"reference": "Practitioner/p1"}]


async def test_an_unknown_element_naming_the_patient_is_not_stored() -> None:
    resource = observation(patientName="Jane Roe", note=[{"text": "for Jane Roe"}])
    submit = FakeSubmit()
    status, outcome, _ = await post(submit, "/fhir/Observation", resource)
    assert status == 400
    assert issue(outcome)["expression"] == ["Observation.<unknown element>"]  # not echoed
    payload = submit.rejections[0].redacted_payload
    assert "Jane" not in payload and "Roe" not in payload


async def test_an_unknown_element_with_a_harmless_name_is_not_stored_either() -> None:
    """Review 17: an element FHIR R4 does not define ("comment") was kept with its value."""
    resource = observation(comment="Pt John Smith, born 1961-03-04, phone 079 123 45 67")
    submit = FakeSubmit()
    status, outcome, _ = await post(submit, "/fhir/Observation", resource)
    assert status == 400
    assert issue(outcome)["expression"] == ["Observation.<unknown element>"]
    payload = json.loads(submit.rejections[0].redacted_payload)
    assert "comment" not in payload and payload["code"] == resource["code"]
    for phi in ("John", "Smith", "1961", "079"):
        assert phi not in json.dumps(payload), phi


async def test_extensions_and_narratives_about_the_patient_are_not_stored() -> None:
    """Review 17: an extension url without "patient-" kept its value; so did a narrative."""
    base = "http://lab.example.org/fhir/StructureDefinition/"
    div = '<div xmlns="http://www.w3.org/1999/xhtml">CRP for SMITH, John (04.03.1961)</div>'
    resource = observation(
        valueQuantity=INVALID,
        extension=[
            {"url": base + "ordering-patient-name", "valueString": "John Smith"},
            {"url": base + "patientDOB", "valueDate": "1961-03-04"},
        ],
        text={"status": "generated", "div": div},
    )
    submit = FakeSubmit()
    status, _, _ = await post(submit, "/fhir/Observation", resource)
    assert status == 400
    payload = json.loads(submit.rejections[0].redacted_payload)
    assert payload["extension"] == [{"url": base + "ordering-patient-name"},
                                    {"url": base + "patientDOB"}]  # fmt: skip
    assert payload["text"]["status"] == "generated"
    for phi in ("John", "Smith", "1961"):
        assert phi not in json.dumps(payload), phi


async def test_a_patients_city_district_and_state_are_scrubbed_from_a_rejected_entry() -> None:
    patient = PATIENT | {"address": [{"line": ["12 Baker Street"], "city": "Springfield",
                                      "district": "Northside", "state": "Vaud"}]}  # fmt: skip
    method = {"text": "drawn at home: 12 Baker Street, Northside, Springfield (Vaud)"}
    other = observation(subject={"reference": PATIENT_URL}, method=method, valueQuantity=INVALID)
    submit = FakeSubmit()
    status, _, _ = await post(submit, "/fhir", bundle("batch", patient, other))
    assert status == 200
    (rejection,) = submit.rejections
    for phi in ("Baker", "Northside", "Springfield", "Vaud"):
        assert phi not in rejection.redacted_payload, phi
    assert "drawn at home" in rejection.redacted_payload


# --- item 2: deeply nested JSON ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/fhir/Observation", "/fhir"])
async def test_deeply_nested_json_is_400_and_kept_without_its_text(path: str) -> None:
    raw = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    submit = FakeSubmit()
    status, outcome, _ = await post(submit, path, data=raw)
    assert status == 400
    assert "nested too deeply" in issue(outcome)["diagnostics"]
    (rejection,) = submit.rejections
    assert rejection.redacted_payload == ""
    assert hashlib.sha256(raw).hexdigest() in rejection.reason
    assert str(len(raw)) in rejection.reason


# --- item 3: internal errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/fhir/Observation", observation()),
        ("/fhir/Observation", observation(valueQuantity=INVALID)),  # the rejection fails
        ("/fhir", bundle("transaction", observation())),
        ("/fhir", bundle("batch", observation())),
    ],
)
async def test_an_internal_error_is_503_transient_with_retry_after_and_logged(
    path: str, body: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    submit = FakeSubmit(error=RuntimeError(f"database is down ({MRN})"))
    with caplog.at_level(logging.ERROR):
        status, outcome, headers = await post(submit, path, body)
    assert status == 503
    assert headers["Retry-After"].isdigit()
    assert issue(outcome)["code"] == "transient"
    assert "None" not in issue(outcome)["diagnostics"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged
    assert MRN not in logged and "database is down" not in logged


async def test_a_batch_entry_that_hits_an_internal_error_is_503_in_its_entry() -> None:
    def answer(command: Command) -> IngestOutcome:
        assert isinstance(command, IngestLabMessage)
        if command.message.observations[0].result_key == "urn:lis|R-2":
            raise RuntimeError("database is down")
        return stored_outcome()

    second = observation(identifier=[{"system": "urn:lis", "value": "R-2"}])
    status, body, _ = await post(
        FakeSubmit(answer), "/fhir", bundle("batch", observation(), second)
    )
    assert status == 200
    assert statuses(body) == ["201 Created", "503 Service Unavailable"]
    assert body["entry"][1]["response"]["outcome"]["issue"][0]["code"] == "transient"


# --- item 4: a batch takes each entry on its own ---------------------------------------------


async def test_a_batch_ingests_the_valid_entry_and_rejects_the_invalid_one_alone() -> None:
    invalid = observation(id="crp-2", identifier=None, valueQuantity=INVALID)
    invalid["subject"] = {"reference": PATIENT_URL, "display": "John Smith"}
    submit = FakeSubmit()
    status, body, _ = await post(submit, "/fhir", bundle("batch", observation(), invalid, PATIENT))
    assert status == 200
    assert body["type"] == "batch-response"
    assert statuses(body) == ["201 Created", "400 Bad Request", "200 OK"]
    bad = body["entry"][1]["response"]["outcome"]["issue"][0]
    assert bad["expression"] == ["Bundle.entry[1].resource.valueQuantity.value"]
    (ingested,) = submit.ingests
    assert ingested.message.patient_identifier == MRN
    (rejection,) = submit.rejections
    assert rejection.reason.startswith("Bundle.entry[1].resource.valueQuantity.value: ")
    stored = json.loads(rejection.redacted_payload)
    assert stored["resource"]["id"] == "crp-2"  # only its own entry, redacted
    for phi in (MRN, "Smith", "1961-03-04"):
        assert phi not in rejection.redacted_payload
    # the valid entry's rejection, if the service layer made one, would be its entry alone
    assert json.loads(ingested.redact())["resource"]["id"] == "crp-1"


# --- item 5: response Bundles ------------------------------------------------------------


async def test_a_transaction_rejected_by_processing_is_one_422_operation_outcome() -> None:
    """It names the entry that failed it: the second Observation, after the Patient."""

    def answer(command: Command) -> IngestOutcome:
        assert isinstance(command, IngestTransaction)
        return IngestOutcome(
            accepted=False, code=RejectionCode.UNCONVERTIBLE_UNIT,
            reason="transaction rejected", failed_part=1,
        )  # fmt: skip

    status, outcome, _ = await post(
        FakeSubmit(answer), "/fhir", bundle("transaction", observation(), PATIENT, observation())
    )
    assert status == 422
    assert issue(outcome)["code"] == "processing"
    assert issue(outcome)["diagnostics"].startswith("unconvertible-unit: ")
    assert issue(outcome)["expression"] == ["Bundle.entry[2].resource"]


async def test_an_invalid_transaction_is_400_and_one_rejection_of_the_whole_bundle() -> None:
    submit = FakeSubmit()
    status, outcome, _ = await post(
        submit, "/fhir", bundle("transaction", observation(), observation(valueQuantity=INVALID))
    )
    assert status == 400
    assert issue(outcome)["expression"] == ["Bundle.entry[1].resource.valueQuantity.value"]
    assert submit.ingests == [] and len(submit.commands) == 1
    assert json.loads(submit.rejections[0].redacted_payload)["type"] == "transaction"


async def test_an_unsupported_resource_fails_a_transaction_and_one_batch_entry() -> None:
    specimen = {"resourceType": "Medication", "id": "m1"}
    submit = FakeSubmit()
    status, outcome, _ = await post(submit, "/fhir", bundle("transaction", observation(), specimen))
    assert status == 400
    assert issue(outcome)["code"] == "not-supported"
    assert submit.rejections[0].code is RejectionCode.UNSUPPORTED_MESSAGE

    submit = FakeSubmit()
    status, body, _ = await post(submit, "/fhir", bundle("batch", PATIENT, specimen, observation()))
    assert status == 200
    assert statuses(body) == ["200 OK", "400 Bad Request", "201 Created"]
    patient, unsupported = (body["entry"][i]["response"]["outcome"]["issue"][0] for i in (0, 1))
    assert patient["severity"] == "information" and "matching" in patient["diagnostics"]
    assert unsupported["code"] == "not-supported" and "Medication" in unsupported["diagnostics"]
    assert [r.code for r in submit.rejections] == [RejectionCode.UNSUPPORTED_MESSAGE]


async def test_a_transaction_response_has_one_entry_per_request_entry_in_order() -> None:
    first = observation(subject={"reference": PATIENT_URL})
    second = observation(identifier=[{"system": "urn:lis", "value": "R-2"}])
    status, body, _ = await post(
        FakeSubmit(), "/fhir", bundle("transaction", first, PATIENT, second)
    )
    assert status == 200
    assert body["type"] == "transaction-response"
    assert statuses(body) == ["201 Created", "200 OK", "201 Created"]


async def test_each_observation_of_a_transaction_is_answered_for_itself() -> None:
    stored, duplicate = (
        stored_outcome(),
        IngestOutcome(accepted=True, duplicate=True),
    )
    submit = FakeSubmit(
        lambda _: IngestOutcome(accepted=True, results=1, parts=(duplicate, stored))
    )
    second = observation(identifier=[{"system": "urn:lis", "value": "R-2"}])
    _, body, _ = await post(submit, "/fhir", bundle("transaction", observation(), second))
    assert statuses(body) == ["200 OK", "201 Created"]
    assert "duplicate" in body["entry"][0]["response"]["outcome"]["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("outcome", "text"),
    [
        (IngestOutcome(accepted=True, duplicate=True), "duplicate"),
        (IngestOutcome(accepted=True, enrolled=False), "not enrolled"),
    ],
)
async def test_nothing_created_is_200_ok_with_an_informational_outcome(
    outcome: IngestOutcome, text: str
) -> None:
    submit = FakeSubmit(lambda _: outcome)
    status, body, _ = await post(submit, "/fhir", bundle("batch", observation()))
    assert statuses(body) == ["200 OK"]
    entry_issue = body["entry"][0]["response"]["outcome"]["issue"][0]
    assert entry_issue["severity"] == "information" and text in entry_issue["diagnostics"]
    status, single, _ = await post(submit, "/fhir/Observation", observation())
    assert status == 200
    assert text in issue(single)["diagnostics"]


async def test_a_processing_rejection_in_a_batch_is_422_in_its_entry() -> None:
    submit = FakeSubmit(lambda _: IngestOutcome.rejected(RejectionCode.MISSING_UNIT, "no unit"))
    _, body, _ = await post(submit, "/fhir", bundle("batch", observation()))
    assert statuses(body) == ["422 Unprocessable Entity"]


# --- item 6: auth and size errors as OperationOutcome ------------------------------------


@pytest.mark.parametrize("path", ["/fhir/Observation", "/fhir"])
@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "login"),
        ({"Authorization": "Bearer cx_unknown"}, 401, "login"),
        ({"Authorization": f"Bearer {SITE_TOKEN}"}, 403, "forbidden"),
    ],
)
async def test_auth_errors_on_fhir_routes_are_operation_outcomes(
    path: str, headers: dict[str, str], status: int, code: str
) -> None:
    submit = FakeSubmit()
    answered, outcome, response_headers = await post(submit, path, {}, headers=headers)
    assert answered == status
    assert issue(outcome)["code"] == code
    if status == 401:
        assert response_headers["WWW-Authenticate"].startswith("Bearer")
    assert submit.commands == []


@pytest.mark.parametrize("path", ["/fhir/Observation", "/fhir"])
async def test_a_body_over_the_limit_is_413_too_costly_and_kept(path: str) -> None:
    submit = FakeSubmit()
    status, outcome, _ = await post(submit, path, data=b" " * (3 * 1024 * 1024))
    assert status == 413
    assert issue(outcome)["code"] == "too-costly"
    assert submit.rejections[0].redacted_payload == ""


# --- item 7: specific rejection reasons ----------------------------------------------------


async def test_the_stored_reason_names_the_location() -> None:
    submit = FakeSubmit()
    status, _, _ = await post(submit, "/fhir/Observation", observation(code=None))
    assert status == 400
    assert submit.rejections[0].reason == "Observation.code: Field required"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"resourceType": "Observation",', "body is not valid JSON: line 1 column 32"),
        (b'{"status": "fin\xe9"}', "body is not UTF-8"),
        (b'{"value": NaN}', "body is not valid JSON: NaN"),
    ],
)
async def test_an_unparseable_body_is_kept_by_length_and_digest_only(
    raw: bytes, reason: str
) -> None:
    submit = FakeSubmit()
    status, outcome, _ = await post(submit, "/fhir/Observation", data=raw)
    assert status == 400
    assert reason in issue(outcome)["diagnostics"]
    (rejection,) = submit.rejections
    assert rejection.reason.startswith(reason)
    assert f"{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}" in rejection.reason
    assert rejection.redacted_payload == ""


async def test_a_body_that_is_not_an_object_is_not_stored() -> None:
    submit = FakeSubmit()
    status, _, _ = await post(submit, "/fhir/Observation", ["John Smith", MRN])
    assert status == 400
    assert submit.rejections[0].redacted_payload == ""
    assert "sha256" in submit.rejections[0].reason


async def test_a_long_reason_is_capped_at_500_characters() -> None:
    resource = observation(**{f"unknown{i}": 1 for i in range(60)})
    submit = FakeSubmit()
    status, _, _ = await post(submit, "/fhir/Observation", resource)
    assert status == 400
    assert len(submit.rejections[0].reason) == 500


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/fhir/Observation", 405, "not-supported"),
        ("DELETE", "/fhir", 405, "not-supported"),
        ("POST", "/fhir/Patient", 404, "not-found"),
        ("GET", "/fhir/Observation/o1", 404, "not-found"),
    ],
)
async def test_other_methods_and_paths_under_fhir_answer_an_operation_outcome(
    method: str, path: str, status: int, code: str
) -> None:
    async with lab_client(FakeSubmit()) as client:
        response = await client.request(method, path, headers=LAB)
        assert response.status == status
        outcome = await response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == code
