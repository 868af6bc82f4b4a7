"""POST /v1/lab-results and POST /v1/hl7 through the real aiohttp app, with a fake submit;
the OpenAPI document of the routes."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
from typing import Any

import pytest

from services.lab_ingestion.adapters.hl7_codec import Header, build_ack
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.openapi import OPENAPI_PATHS
from services.lab_ingestion.service_layer.commands import IngestOutcome
from tests.unit.lab_ingestion.route_fakes import (
    JSON_BODY,
    LAB,
    MRN,
    SITE_TOKEN,
    FakeAcknowledger,
    FakeSubmit,
    UnreachableTokens,
    lab_client,
    observation,
)

PROBLEM = "application/problem+json"


async def post_json(
    submit: FakeSubmit, body: Any = None, *, data: bytes | None = None, **kw: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = kw.pop("headers", LAB)
    async with lab_client(submit) as client:
        raw = data if data is not None else json.dumps(body).encode()
        response = await client.post("/v1/lab-results", data=raw, headers=headers)
        return response.status, await response.json(), dict(response.headers)


def lab_results(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(JSON_BODY)
    body.update(changes)
    return body


async def test_accepted_json_is_202() -> None:
    submit = FakeSubmit()
    status, body, _ = await post_json(submit, lab_results())
    assert (status, body["status"], body["results_stored"]) == (202, "accepted", 1)
    assert submit.ingests[0].message.patient_identifier == MRN


# --- item 1: PHI in a stored JSON rejection ----------------------------------------------


async def test_unknown_fields_and_patient_details_are_not_stored() -> None:
    body = lab_results(
        patient_name="Jane Roe",
        comment="Jane Roe born 1961-03-04",
        message_id="LAB-Jane-Roe",
        patient={"identifier": MRN, "name": "Jane Roe", "birth_date": "1961-03-04"},
    )
    submit = FakeSubmit()
    status, problem, _ = await post_json(submit, body)
    assert status == 400
    assert "<unknown element>" in problem["detail"]
    assert "patient_name" not in problem["detail"]  # a key's name may be PHI
    (rejection,) = submit.rejections
    payload = rejection.redacted_payload
    for phi in ("Jane", "Roe", "1961-03-04", MRN):
        assert phi not in payload, phi
    stored = json.loads(payload)
    assert sorted(stored["_dropped_fields"]) == [
        "<unknown element>", "<unknown element>", "patient.<unknown element>",
        "patient.<unknown element>",
    ]  # fmt: skip
    assert stored["results"] == JSON_BODY["results"]


async def test_an_unknown_key_is_never_echoed_by_name() -> None:
    """Review 17: a key "Smith, John *04.03.1961" was echoed in the 400, the stored reason
    (and so the lab.rejected.v1 event) and the stored payload's dropped fields."""
    key = "Smith, John *04.03.1961"
    body = lab_results(patient={"identifier": MRN, key: "see chart"})
    body["results"] = [body["results"][0] | {key: "x"}]
    submit = FakeSubmit()
    status, problem, _ = await post_json(submit, body)
    assert status == 400
    (rejection,) = submit.rejections
    for text in (problem["detail"], rejection.reason, rejection.redacted_payload):
        for phi in ("Smith", "John", "1961"):
            assert phi not in text, (phi, text)
    assert "patient.<unknown element>" in rejection.reason
    assert sorted(json.loads(rejection.redacted_payload)["_dropped_fields"]) == [
        "patient.<unknown element>", "results[0].<unknown element>",
    ]  # fmt: skip


# --- item 2: deeply nested JSON ------------------------------------------------------------


async def test_deeply_nested_json_is_400_and_kept() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    submit = FakeSubmit()
    status, problem, headers = await post_json(submit, data=raw)
    assert status == 400
    assert headers["Content-Type"].startswith(PROBLEM)
    assert "nested too deeply" in problem["detail"]
    (rejection,) = submit.rejections
    assert rejection.redacted_payload == ""
    assert hashlib.sha256(raw).hexdigest() in rejection.reason


@pytest.mark.parametrize(
    ("text", "rejected"),
    [
        ('{"message_id": "x\\u0000"}', True),
        ('{"a": [{"x\\u0000y": 1}]}', True),  # in a key too
        ('{"message_id": "x\\\\u0000"}', False),  # an escaped backslash, then "u0000"
    ],
)
async def test_a_nul_character_in_a_json_string_is_400(text: str, rejected: bool) -> None:
    """PostgreSQL's text cannot hold NUL: such a message could never be stored."""
    submit = FakeSubmit()
    status, problem, _ = await post_json(submit, data=text.encode())
    assert status == 400
    assert ("NUL" in problem["detail"]) is rejected, problem["detail"]


# --- item 3: internal errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [lab_results(), lab_results(results=[])], ids=["ingest", "rejection"]
)
async def test_an_internal_error_is_503_with_retry_after_and_logged(
    body: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    submit = FakeSubmit(error=ConnectionRefusedError(f"no database for {MRN}"))
    with caplog.at_level(logging.ERROR):
        status, problem, headers = await post_json(submit, body)
    assert status == 503
    assert headers["Content-Type"].startswith(PROBLEM)
    assert headers["Retry-After"].isdigit()
    assert "None" not in problem["detail"] and "resend" in problem["detail"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ConnectionRefusedError" in logged and MRN not in logged


async def test_a_rejection_has_its_code_not_none() -> None:
    submit = FakeSubmit(lambda _: IngestOutcome.rejected(RejectionCode.MISSING_UNIT, "no unit"))
    status, problem, _ = await post_json(submit, lab_results())
    assert (status, problem["detail"]) == (422, "missing-unit: no unit")


async def test_an_internal_error_ack_on_post_hl7_is_503() -> None:
    header = Header(sending_application="LIS", sending_facility="HOSP", control_id="C1")
    internal = build_ack(header, "AR", text="resend", control_id="A1")
    malformed = build_ack(header, "AR", text="bad", error=RejectionCode.MALFORMED, control_id="A2")
    for ack, failed, status in ((internal, True, 503), (malformed, False, 400)):
        async with lab_client(FakeSubmit(), FakeAcknowledger("AR", ack, failed)) as client:
            response = await client.post("/v1/hl7", data=b"MSH|...", headers=LAB)
            assert response.status == status
            assert await response.text() == ack
            assert ("Retry-After" in response.headers) is (status == 503)


HL7 = (
    "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1\r"
    "PID|1||MRN1^^^HOSP^MR\r"
    "OBR|1|P1|F1|CRP|||20261120080000+0100\r"
    "OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F|||20261120080000+0100\r"
)


async def test_post_hl7_acknowledgements_are_timed_like_mllp_ones() -> None:
    async with lab_client(FakeSubmit()) as client:
        response = await client.post("/v1/hl7", data=HL7.encode(), headers=LAB)
        assert response.status == 200
        metrics = await (await client.get("/metrics")).text()
    assert 'lab_ack_latency_seconds_count{channel="hl7-http"} 1.0' in metrics


async def test_post_hl7_answers_503_when_the_service_failed() -> None:
    async with lab_client(FakeSubmit(error=RuntimeError("database is down"))) as client:
        response = await client.post("/v1/hl7", data=HL7.encode(), headers=LAB)
        assert response.status == 503
        assert "Retry-After" in response.headers
        assert "\rMSA|AR|C1|" in await response.text()


async def test_post_hl7_with_an_escape_in_msh11_is_an_ar_not_a_server_error() -> None:
    message = HL7.replace("|C1|P|", "|C1|P^\\.in+x\\|")
    async with lab_client(FakeSubmit()) as client:
        response = await client.post("/v1/hl7", data=message.encode(), headers=LAB)
        assert response.status == 400  # malformed, as any other AR of unreadable HL7
        # named for what it is, not as a parser crash ("unparseable HL7: ValueError")
        assert "\rMSA|AR|C1|an HL7 formatting escape (.in)" in await response.text()


@pytest.mark.parametrize("version", ["2.3", "2.4", "2.5.1"])
async def test_post_hl7_answers_503_when_the_service_failed_in_every_version(version: str) -> None:
    """Before 2.5 the ACK's error code is in ERR-1, not ERR-3: reading the ACK missed it."""
    async with lab_client(FakeSubmit(error=RuntimeError("database is down"))) as client:
        message = HL7.replace("|P|2.5.1\r", f"|P|{version}\r")
        response = await client.post("/v1/hl7", data=message.encode(), headers=LAB)
        assert response.status == 503


@pytest.mark.parametrize("path", ["/v1/hl7", "/fhir/Observation", "/fhir", "/v1/lab-results"])
async def test_a_corrupt_compressed_body_is_a_400_and_kept(path: str) -> None:
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        headers = {**LAB, "Content-Encoding": "gzip", "Content-Type": "application/json"}
        response = await client.post(path, data=b"\x1f\x8b not gzip at all", headers=headers)
        assert response.status == 400
    assert len(submit.rejections) == 1


@pytest.mark.parametrize("path", ["/v1/hl7", "/fhir/Observation", "/fhir", "/v1/lab-results"])
@pytest.mark.parametrize("encoding", ["x-foo", "compress", "x-lab-pack"])
async def test_a_body_in_an_encoding_the_service_cannot_read_is_a_400_and_kept(
    path: str, encoding: str
) -> None:
    """Read as if it were plain, an unknown encoding's body would be taken at face value."""
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        headers = {**LAB, "Content-Encoding": encoding, "Content-Type": "application/json"}
        response = await client.post(path, data=json.dumps(JSON_BODY).encode(), headers=headers)
        assert response.status == 400
    (rejection,) = submit.rejections
    assert "not supported" in rejection.reason and not submit.ingests


@pytest.mark.parametrize("code", list(RejectionCode))
async def test_post_hl7_never_answers_503_for_a_rejected_message(code: RejectionCode) -> None:
    async with lab_client(FakeSubmit(lambda _: IngestOutcome.rejected(code, "no"))) as client:
        response = await client.post("/v1/hl7", data=HL7.encode(), headers=LAB)
        assert response.status in (400, 422)


# --- item 6: other routes keep problem+json ------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/lab-results", "/v1/hl7"])
async def test_auth_and_size_errors_elsewhere_are_problem_json(path: str) -> None:
    site = {"Authorization": f"Bearer {SITE_TOKEN}"}
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        for headers, data, status in (
            ({}, b"{}", 401),
            (site, b"{}", 403),
            (LAB, b" " * (3 * 1024 * 1024), 413),
        ):
            response = await client.post(path, data=data, headers=headers)
            assert response.status == status
            assert response.content_type == PROBLEM
    assert [r.redacted_payload for r in submit.rejections] == [""]  # the 413, kept


# --- item 7: specific reasons --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{oops", "body is not valid JSON: line 1 column 2"),
        (b"\xff\xfe{}", "body is not UTF-8"),
    ],
)
async def test_an_unparseable_body_is_kept_by_length_and_digest_only(
    raw: bytes, reason: str
) -> None:
    submit = FakeSubmit()
    status, problem, _ = await post_json(submit, data=raw)
    assert status == 400
    assert problem["detail"].startswith(reason)
    (rejection,) = submit.rejections
    assert rejection.reason.startswith(reason)
    assert f"{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}" in rejection.reason
    assert rejection.redacted_payload == ""


async def test_the_stored_reason_names_the_field() -> None:
    submit = FakeSubmit()
    body = lab_results()
    del body["results"][0]["loinc"]
    status, _, _ = await post_json(submit, body)
    assert status == 400
    assert submit.rejections[0].reason == "results[0].loinc: Field required"


# --- OpenAPI -----------------------------------------------------------------------------


def test_openapi_describes_the_new_statuses_and_formats() -> None:
    for path in ("/fhir", "/fhir/Observation"):
        responses = OPENAPI_PATHS[path]["post"]["responses"]
        for status in ("400", "401", "403", "413", "503"):
            assert "application/fhir+json" in responses[status]["content"], (path, status)
        assert "Retry-After" in responses["503"]["headers"]
    assert "batch" in OPENAPI_PATHS["/fhir"]["post"]["description"]
    json_responses = OPENAPI_PATHS["/v1/lab-results"]["post"]["responses"]
    for status in ("401", "403", "413", "503"):
        assert "application/problem+json" in json_responses[status]["content"]
    assert "503" in OPENAPI_PATHS["/v1/hl7"]["post"]["responses"]


def test_openapi_gives_the_json_request_and_answer_schemas() -> None:
    """The request schema is the model's own; its references resolve inside it ($id)."""
    post = OPENAPI_PATHS["/v1/lab-results"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$id"] and set(schema["required"]) == {"message_id", "source", "patient",
                                                        "results"}  # fmt: skip
    refs = re.findall(r'"\$ref": "#/\$defs/([^"]+)"', json.dumps(schema))
    assert refs and all(ref in schema["$defs"] for ref in refs)
    for status in ("200", "202"):
        answer = post["responses"][status]["content"]["application/json"]["schema"]
        assert set(answer["required"]) == {
            "status",
            "enrolled",
            "results_stored",
            "results_cancelled",
        }


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/v1/lab-results", PROBLEM), ("/v1/hl7", PROBLEM),
     ("/fhir/Observation", "application/fhir+json"), ("/fhir", "application/fhir+json")],
)  # fmt: skip
async def test_a_token_that_cannot_be_checked_is_answered_503_retry_after(
    path: str, content_type: str
) -> None:
    """The database behind the tokens is down: nothing was done, the sender resends."""
    submit = FakeSubmit()
    async with lab_client(submit, tokens=UnreachableTokens()) as client:
        response = await client.post(path, data=b"{}", headers=LAB)
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
        assert response.headers["Content-Type"].startswith(content_type)
    assert submit.commands == []


async def test_a_lone_surrogate_in_the_patient_identifier_is_kept_not_a_500() -> None:
    raw = json.dumps(lab_results(patient={"identifier": "@@"})).replace('"@@"', '"MRN\\ud800"')
    submit = FakeSubmit()
    status, _, _ = await post_json(submit, data=raw.encode())
    assert status == 400
    (rejection,) = submit.rejections
    assert "MRN" not in rejection.redacted_payload


async def test_a_number_beyond_any_measurement_is_refused_before_it_is_read() -> None:
    """fhir.resources serialises decimals through int(Decimal(...)): 1e999999999 would hold
    the event loop for minutes."""
    submit = FakeSubmit()
    raw = json.dumps(observation()).replace('"value": 1.5', '"value": 1e999999999')
    assert "1e999999999" in raw
    async with lab_client(submit) as client:
        response = await client.post("/fhir/Observation", data=raw.encode(), headers=LAB)
        assert response.status == 400
        assert "beyond 1e" in await response.text()
    assert len(submit.rejections) == 1
