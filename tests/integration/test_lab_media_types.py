"""The HTTP routes' Content-Type, through the running service (real PostgreSQL and broker): a
body declared as another format than the route's is answered 415 (FHIR: an OperationOutcome
saying only JSON is supported) and kept as a rejection by its length and SHA-256 only,
counted and announced on lab.rejected.v1; the token is checked first; a body declaring no
type, octet-stream or the route's own is read as before."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp
import pytest

from tests.integration.lab_fixtures import MRN, crp_observation, obx, oru, payload_searched
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

REFUSED = "unsupported-message-type"


def _json_body(message_id: str) -> bytes:
    return json.dumps({
        "message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [{"result_id": f"{message_id}-R1", "loinc": "1988-5", "value": "12.5",
                     "unit": "mg/L", "status": "final",
                     "collected_at": "2026-11-20T08:00:00+01:00"}],
    }).encode()  # fmt: skip


async def _post(
    lab: Lab, path: str, body: bytes, content_type: str | None, *, token: bool = True
) -> tuple[int, str, Any]:
    headers = {"Authorization": f"Bearer {lab.lab_token}"} if token else {}
    skip: tuple[str, ...] = ()
    if content_type is None:
        skip = ("Content-Type",)  # aiohttp would declare bytes application/octet-stream
    else:
        headers["Content-Type"] = content_type
    async with (
        aiohttp.ClientSession(skip_auto_headers=skip) as http,
        http.post(f"{lab.http}{path}", data=body, headers=headers) as answer,
    ):
        return answer.status, answer.content_type, await answer.json(content_type=None)


async def _rejections(lab: Lab) -> list[Any]:
    return list(
        await lab.pool.fetch("SELECT channel, reason_code, reason, payload FROM rejections")
    )


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/lab-results", "application/xml"),
        ("/v1/lab-results", "text/html; charset=utf-8"),
        ("/v1/lab-results", "application/x-www-form-urlencoded"),
        ("/v1/lab-results", "multipart/form-data; boundary=x"),
        ("/v1/hl7", "application/json"),
        ("/v1/hl7", "application/hl7v2+xml"),
    ],
)
async def test_a_body_of_another_media_type_is_refused_415_and_kept_by_its_digest(
    lab: Lab, path: str, content_type: str
) -> None:
    body = (
        _json_body("MT-1")
        if path == "/v1/lab-results"
        else oru("MT-1", [obx("1988-5", "12.5", "mg/L")]).encode()
    )
    status, media, answer = await _post(lab, path, body, content_type)
    assert status == 415, answer
    assert media == "application/problem+json"
    assert "this route takes" in answer["detail"], answer
    (kept,) = await _rejections(lab)
    assert kept["reason_code"] == REFUSED and kept["payload"] == ""
    assert hashlib.sha256(body).hexdigest() in kept["reason"]
    assert MRN not in kept["reason"]
    channel = "json" if path == "/v1/lab-results" else "hl7-http"
    assert kept["channel"] == channel
    assert await lab.metric("lab_messages_rejected_total", channel=channel, reason=REFUSED) == 1
    (event,) = await lab.events("lab.rejected.v1", 1)
    assert event.payload["reason_code"] == REFUSED
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 0


@pytest.mark.parametrize("content_type", ["application/fhir+xml", "application/xml"])
@pytest.mark.parametrize("path", ["/fhir/Observation", "/fhir"])
async def test_fhir_xml_is_answered_by_an_operation_outcome_saying_only_json(
    lab: Lab, path: str, content_type: str
) -> None:
    body = b'<Observation xmlns="http://hl7.org/fhir"><status value="final"/></Observation>'
    status, media, answer = await _post(lab, path, body, content_type)
    assert status == 415, answer
    assert media == "application/fhir+json"
    assert answer["resourceType"] == "OperationOutcome"
    (issue,) = answer["issue"]
    assert issue["code"] == "not-supported"
    assert "only JSON" in issue["diagnostics"], issue
    (kept,) = await _rejections(lab)
    assert (kept["channel"], kept["reason_code"], kept["payload"]) == ("fhir", REFUSED, "")
    assert hashlib.sha256(body).hexdigest() in kept["reason"]
    assert await lab.metric("lab_messages_rejected_total", channel="fhir", reason=REFUSED) == 1


async def test_the_token_is_checked_before_the_media_type(lab: Lab) -> None:
    status, _, _ = await _post(lab, "/v1/lab-results", b"<x/>", "application/xml", token=False)
    assert status == 401
    assert await _rejections(lab) == []


@pytest.mark.parametrize(
    ("path", "content_type", "expected"),
    [
        ("/v1/lab-results", None, 202),  # no Content-Type: read as JSON
        ("/v1/lab-results", "application/octet-stream", 202),
        ("/v1/lab-results", "Application/JSON; charset=UTF-8", 202),
        ("/v1/lab-results", "application/vnd.lab+json", 202),
        ("/fhir/Observation", "application/fhir+json; charset=utf-8", 201),
        ("/fhir/Observation", "application/json", 201),
        ("/fhir/Observation", None, 201),
        ("/v1/hl7", "x-application/hl7-v2+er7", 200),
        ("/v1/hl7", "text/plain; charset=iso-8859-1", 200),  # MSH-18 names the set
        ("/v1/hl7", None, 200),
        # review 118: what real senders declare (a body of ASCII in ISO-8859-1 reads the same)
        ("/v1/lab-results", "application/json; charset=us-ascii", 202),
        ("/v1/lab-results", "application/json, application/json", 202),  # folded by a proxy
        ("/v1/lab-results", "text/json", 202),
        ("/v1/lab-results", "text/plain; charset=ISO-8859-1", 202),  # Mirth's, StringEntity's
        ("/v1/lab-results", "application/json; charset=iso-8859-1", 202),
        ("/fhir/Observation", "application/fhir+json; charset=us-ascii", 201),
        ("/fhir/Observation", "text/plain; charset=ISO-8859-1", 201),
    ],
)
async def test_the_routes_own_media_types_and_none_are_read(
    lab: Lab, path: str, content_type: str | None, expected: int
) -> None:
    if path == "/v1/lab-results":
        body = _json_body("OK-1")
    elif path == "/fhir/Observation":
        body = json.dumps(crp_observation("OK-1")).encode()
    else:
        body = oru("OK-1", [obx("1988-5", "12.5", "mg/L")]).encode()
    status, _, _ = await _post_any(lab, path, body, content_type)
    assert status == expected
    assert await _rejections(lab) == []


async def _post_any(
    lab: Lab, path: str, body: bytes, content_type: str | None
) -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    skip: tuple[str, ...] = ("Content-Type",) if content_type is None else ()
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with (
        aiohttp.ClientSession(skip_auto_headers=skip) as http,
        http.post(f"{lab.http}{path}", data=body, headers=headers) as answer,
    ):
        return answer.status, answer.content_type, await answer.read()


@pytest.mark.parametrize("path", ["/v1/lab-results", "/fhir/Observation"])
async def test_a_body_beyond_ascii_declared_iso_8859_1_is_refused_415(lab: Lab, path: str) -> None:
    """Its ``é`` (0xE9) would be misread as UTF-8: refused saying so, kept by its digest."""
    if path == "/v1/lab-results":
        payload: dict[str, Any] = json.loads(_json_body("LAT-1"))
        payload["results"][0]["comment"] = "Probe hämolytisch"
    else:
        payload = crp_observation("LAT-1")
        payload["note"] = [{"text": "Probe hämolytisch"}]
    body = json.dumps(payload, ensure_ascii=False).encode("latin-1")
    status, _, answer = await _post(lab, path, body, "text/plain; charset=ISO-8859-1")
    assert status == 415, answer
    text = json.dumps(answer)
    assert "beyond ASCII, which would be misread" in text, answer
    (kept,) = await _rejections(lab)
    assert kept["reason_code"] == REFUSED and kept["payload"] == ""


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/hl7", "text/mrn4711-19580214"),
        ("/v1/lab-results", "application/x-mrn4711"),
        ("/fhir/Observation", "application/19580214+xml"),
        ("/v1/lab-results", "application/json; charset=mrn4711-19580214"),
    ],
)
async def test_a_declared_type_no_list_names_is_quoted_nowhere(
    lab: Lab, path: str, content_type: str
) -> None:
    """Review 125: a token-shaped Content-Type (``text/mrn4711-19580214``) was quoted in the
    415, the kept rejection and its lab.rejected.v1 event; a type (or character set) of no
    known list is told by its length."""
    if path == "/v1/hl7":
        body = oru("MT-PHI", [obx("1988-5", "12.5", "mg/L")]).encode()
    elif path == "/v1/lab-results":
        payload: dict[str, Any] = json.loads(_json_body("MT-PHI"))
        payload["results"][0]["comment"] = "Probe hämolytisch"  # beyond ASCII
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    else:
        body = json.dumps(crp_observation("MT-PHI")).encode()
    status, _, answer = await _post(lab, path, body, content_type)
    assert status == 415, answer
    (kept,) = await _rejections(lab)
    (event,) = await lab.events("lab.rejected.v1", 1)
    for said in (json.dumps(answer), kept["reason"], payload_searched(event.payload)):
        assert "4711" not in said and "19580214" not in said, said
        assert "another media type (" in said or "another character set (" in said, said
