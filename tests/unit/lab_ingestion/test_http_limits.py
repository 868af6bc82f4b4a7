"""lab-ingestion's HTTP limits in-process (the real aiohttp app, a fake submit port), over a
raw socket (review 113): a body that stalls or trickles is answered 408 at its deadline and
kept by what came; beyond the cap of pushes received at once, a push is answered 503 with
Retry-After at once, in its route's format; a slot is given back however its push ends.
tests/integration/test_lab_listener_limits.py drives the real service."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from services.lab_ingestion.entrypoints.openapi import OPENAPI_PATHS
from tests.unit.lab_ingestion.route_fakes import LAB, LAB_TOKEN, FakeSubmit, lab_client

HL7 = "x-application/hl7-v2+er7"


async def begin_post(
    client: TestClient[Any, Any], path: str, body: bytes, headers: dict[str, str]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A POST whose head and ``body`` are sent, and then nothing."""
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    head = {"Host": "lab", "Authorization": f"Bearer {LAB_TOKEN}", **headers}
    lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
    writer.write(f"POST {path} HTTP/1.1\r\n{lines}\r\n".encode() + body)
    await writer.drain()
    return reader, writer


async def answer(reader: asyncio.StreamReader, timeout: float = 5) -> tuple[int, str, Any]:
    """Status, head and decoded JSON body of the answer."""
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)).decode()
    length = next(
        int(line.split(":", 1)[1]) for line in head.split("\r\n")
        if line.lower().startswith("content-length:")
    )  # fmt: skip
    body = await asyncio.wait_for(reader.readexactly(length), timeout)
    return int(head.split(" ", 2)[1]), head.lower(), json.loads(body)


async def test_a_stalled_body_is_answered_408_at_its_deadline_and_kept_by_what_came() -> None:
    submit = FakeSubmit()
    async with lab_client(submit, body_seconds=0.3) as client:
        sent = b"MSH|^~\\&|LIS|HOSP|" * 10
        reader, writer = await begin_post(client, "/v1/hl7", sent, {
            "Content-Type": HL7, "Content-Length": "100000",
        })  # fmt: skip
        status, head, body = await answer(reader)
        writer.close()
    assert status == 408 and "connection: close" in head
    assert body["title"] == "Request Timeout"
    (kept,) = submit.rejections
    digest = hashlib.sha256(sent).hexdigest()
    assert kept.redacted_payload == "" and kept.reason == (
        "body not received in full within 0.3 s (connection closed; Content-Length 100000): "
        f"the first {len(sent)} bytes, sha256 {digest} came"
    )
    assert submit.ingests == []


async def test_a_body_trickled_is_cut_off_though_it_never_stalls() -> None:
    """A chunked FHIR body sent a byte every 50 ms: answered in FHIR (issue: timeout)."""
    submit = FakeSubmit()
    async with lab_client(submit, body_seconds=0.5) as client:
        reader, writer = await begin_post(client, "/fhir/Observation", b"", {
            "Content-Type": "application/fhir+json", "Transfer-Encoding": "chunked",
        })  # fmt: skip

        async def trickle() -> None:
            while True:
                writer.write(b"1\r\n \r\n")
                await writer.drain()
                await asyncio.sleep(0.05)

        trickling = asyncio.ensure_future(trickle())
        try:
            status, _, body = await answer(reader)
        finally:
            trickling.cancel()
            writer.close()
    assert status == 408
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "timeout"
    (kept,) = submit.rejections
    assert "not received in full within 0.5 s" in kept.reason
    assert "Content-Length" not in kept.reason


async def test_a_body_that_comes_in_time_is_read_whole() -> None:
    submit = FakeSubmit()
    async with lab_client(submit, body_seconds=2.0) as client:
        body = json.dumps({"message_id": "J-1"}).encode()
        reader, writer = await begin_post(client, "/v1/lab-results", body[:5], {
            "Content-Type": "application/json", "Content-Length": str(len(body)),
        })  # fmt: skip
        await asyncio.sleep(0.2)
        writer.write(body[5:])
        status, _, answered = await answer(reader)
        writer.close()
    assert status != 408 and "not received" not in json.dumps(answered)


async def test_beyond_the_cap_a_push_is_answered_503_at_once_in_its_route_format() -> None:
    registry = CollectorRegistry()
    submit = FakeSubmit()
    async with lab_client(submit, body_seconds=30, max_requests=1, registry=registry) as client:
        _, stalled = await begin_post(client, "/v1/hl7", b"MSH|", {
            "Content-Type": HL7, "Content-Length": "100000",
        })  # fmt: skip
        await asyncio.sleep(0.1)  # its body being read: the one slot taken
        json_reader, json_writer = await begin_post(client, "/v1/lab-results", b"{}", {
            "Content-Type": "application/json", "Content-Length": "2",
        })  # fmt: skip
        json_busy = await answer(json_reader, timeout=1)
        json_writer.close()
        fhir = {**LAB, "Content-Type": "application/fhir+json"}
        async with client.post("/fhir/Observation", data=b"{}", headers=fhir) as response:
            fhir_busy = (response.status, response.headers.get("Retry-After"),
                         await response.json(content_type=None))  # fmt: skip
        async with client.post("/v1/hl7", data=b"MSH|") as response:  # no token: no slot
            unauthorised = response.status
        stalled.close()  # the client gone: its slot is given back
        await asyncio.sleep(0.2)
        async with client.post(
            "/v1/lab-results", data=b"{}", headers={**LAB, "Content-Type": "application/json"}
        ) as response:  # fmt: skip
            after = response.status
    status, head, problem = json_busy
    assert status == 503 and "retry-after: 5" in head and "connection: close" in head
    assert problem["detail"].startswith("too many lab pushes are being received at once")
    assert fhir_busy[:2] == (503, "5") and fhir_busy[2]["resourceType"] == "OperationOutcome"
    assert unauthorised == 401
    assert after == 400  # read, and refused for what it is (an empty object)
    busy = registry.get_sample_value(
        "lab_messages_resend_asked_total", {"channel": "json", "reason": "too-many-requests"}
    )
    assert busy == 1
    assert [r.reason for r in submit.rejections if "at once" in r.reason] == []  # none kept


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/v1/hl7", HL7),
        ("/v1/lab-results", "application/json"),
        ("/fhir/Observation", "application/fhir+json"),
        ("/fhir", "application/fhir+json"),
    ],
)
async def test_the_408_of_a_stalled_body_is_in_the_openapi_document(
    path: str, media_type: str
) -> None:
    """Review 123: /openapi.json left the 408 out; it lists it, in the format answered."""
    async with lab_client(FakeSubmit(), body_seconds=0.2) as client:
        reader, writer = await begin_post(client, path, b"{", {
            "Content-Type": media_type, "Content-Length": "1000",
        })  # fmt: skip
        status, head, body = await answer(reader)
        writer.close()
    assert status == 408
    answered = next(
        line.split(":", 1)[1].split(";")[0].strip()
        for line in head.split("\r\n")
        if line.startswith("content-type:")
    )
    documented = OPENAPI_PATHS[path]["post"]["responses"]["408"]
    assert answered in documented["content"], (answered, documented)
    if answered == "application/fhir+json":
        assert body["issue"][0]["code"] == "timeout"
        assert "issue code timeout" in documented["description"]
