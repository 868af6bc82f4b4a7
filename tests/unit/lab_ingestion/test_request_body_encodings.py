"""Compressed request bodies: x-gzip is decoded as gzip, the size limit applies to the decoded
body and says so, and an answer to a body that cannot be read closes the connection."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from typing import Any

import pytest

from services.lab_ingestion.entrypoints.request_body import UnreadableBody, gunzip
from tests.unit.lab_ingestion.route_fakes import (
    JSON_BODY,
    LAB,
    FakeSubmit,
    lab_client,
    observation,
)

LIMIT = 2 * 1024 * 1024  # the service's client_max_size
HL7 = (
    "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|XG1|P|2.5.1\r"
    "PID|1||MRN1^^^HOSP^MR\r"
    "OBR|1|P1|F1|CRP|||20261120080000+0100\r"
    "OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F|||20261120080000+0100\r"
)
ROUTES = ["/v1/hl7", "/fhir/Observation", "/fhir", "/v1/lab-results"]


# --- gunzip --------------------------------------------------------------------------------


def test_gunzip_decodes_every_member_of_a_body() -> None:
    """RFC 1952: a gzip body may be several members, one after the other."""
    assert gunzip(gzip.compress(b"MSH|part one\r") + gzip.compress(b"OBX|part two\r"), 100) == (
        b"MSH|part one\rOBX|part two\r"
    )
    assert gunzip(b"", 100) == b""


def test_gunzip_stops_once_the_body_passes_the_limit() -> None:
    assert gunzip(gzip.compress(b"x" * 100), 100) == b"x" * 100
    assert gunzip(gzip.compress(b"x" * 101), 100) is None
    assert gunzip(gzip.compress(b"x" * 60) * 2, 100) is None  # counted over members


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"MSH|^~\\&|LIS|HOSP", "not valid gzip data"),
        (gzip.compress(b"MSH|^~\\&|LIS|HOSP" * 20)[:-12], "ends early"),
        (gzip.compress(b"MSH|") + b"trailing bytes", "not valid gzip data"),
    ],
    ids=["plain", "truncated", "trailing"],
)
def test_gunzip_refuses_what_is_not_whole_gzip(raw: bytes, why: str) -> None:
    with pytest.raises(UnreadableBody) as refused:
        gunzip(raw, LIMIT)
    assert refused.value.status == 400
    assert why in refused.value.reason
    assert f"{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}" in refused.value.reason


# --- x-gzip through the routes -------------------------------------------------------------


def _plain_body(path: str) -> bytes:
    if path == "/v1/hl7":
        return HL7.encode()
    if path == "/fhir":
        return json.dumps({"resourceType": "Bundle", "type": "batch",
                           "entry": [{"resource": observation()}]}).encode()  # fmt: skip
    if path == "/fhir/Observation":
        return json.dumps(observation()).encode()
    return json.dumps(JSON_BODY).encode()


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("encoding", ["x-gzip", "X-GZIP", "gzip"])
async def test_an_x_gzip_body_is_read_as_gzip(path: str, encoding: str) -> None:
    """aiohttp decodes gzip but passes x-gzip through: its compressed bytes reached the
    parsers (and, rejected, the stored payload) as if they were the message."""
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        headers = {**LAB, "Content-Encoding": encoding}
        response = await client.post(path, data=gzip.compress(_plain_body(path)), headers=headers)
        assert response.status in (200, 201, 202), await response.text()
    assert not submit.rejections
    (ingested,) = submit.ingests
    assert ingested.message.observations


# --- 413: the decoded body is too large ----------------------------------------------------


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate"])
async def test_a_413_of_a_body_too_large_once_decoded_says_so(path: str, encoding: str) -> None:
    """It blamed the compressed body's Content-Length, a few kilobytes, as the cause."""
    compress = zlib.compress if encoding == "deflate" else gzip.compress
    sent = compress(b" " * (LIMIT + 1))
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        headers = {**LAB, "Content-Encoding": encoding}
        response = await client.post(path, data=sent, headers=headers)
        assert response.status == 413
        detail = _detail(await response.json())
    (rejection,) = submit.rejections
    for reason in (detail, rejection.reason):
        assert f"the decoded body is larger than the limit of {LIMIT} bytes" in reason, reason
        assert f"(sent as {len(sent)} bytes of {encoding})" in reason, reason
        assert "Content-Length" not in reason, reason
    assert rejection.redacted_payload == ""


async def test_a_413_of_a_plain_body_names_its_content_length() -> None:
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        sent = b" " * (LIMIT + 1)
        response = await client.post("/v1/lab-results", data=sent, headers=LAB)
        assert response.status == 413
        detail = (await response.json())["detail"]
    assert detail == f"body is larger than the limit of {LIMIT} bytes (Content-Length {len(sent)})"


def _detail(answer: dict[str, Any]) -> str:
    """A problem's detail, or an OperationOutcome's diagnostics."""
    if answer.get("resourceType") == "OperationOutcome":
        return str(answer["issue"][0]["diagnostics"])
    return str(answer["detail"])


# --- an answer to an unreadable body closes the connection ---------------------------------

UNREADABLE = {
    "corrupt gzip": ({"Content-Encoding": "gzip"}, b"\x1f\x8b not gzip at all"),
    "corrupt x-gzip": ({"Content-Encoding": "x-gzip"}, b"\x1f\x8b not gzip at all"),
    "unsupported encoding": ({"Content-Encoding": "compress"}, b"MSH|"),
    # aiohttp refused these itself (400, no rejection kept) while it decoded bodies
    "brotli": ({"Content-Encoding": "br"}, b"\x8b\x02\x80MSH|\x03"),
    "zstd": ({"Content-Encoding": "zstd"}, b"\x28\xb5\x2f\xfd MSH|"),
    "too large": ({}, b" " * (LIMIT + 1)),
}


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("kind", list(UNREADABLE))
async def test_an_answer_to_an_unreadable_body_closes_the_connection(path: str, kind: str) -> None:
    """aiohttp closes the connection after a body it could not read: sent keep-alive, the
    answer let the client send its next request into a closed socket (no answer at all)."""
    headers, data = UNREADABLE[kind]
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        response = await client.post(path, data=data, headers={**LAB, **headers})
        assert response.status in (400, 413)
        assert response.headers.get("Connection", "").lower() == "close", response.headers
    (rejection,) = submit.rejections  # kept with its reason, never its content
    assert rejection.redacted_payload == ""


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compressed_body_cut_short_is_refused_never_read_in_part(
    path: str, encoding: str
) -> None:
    """aiohttp took a truncated gzip body for a whole one: an ORU cut short was answered AA
    with some of its results, and the lab never resent the rest."""
    compress = zlib.compress if encoding == "deflate" else gzip.compress
    sent = compress(_plain_body(path))[:-10]
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        headers = {**LAB, "Content-Encoding": encoding}
        response = await client.post(path, data=sent, headers=headers)
        assert response.status == 400, await response.text()
        assert response.headers.get("Connection") == "close"
    assert not submit.ingests
    (rejection,) = submit.rejections
    assert "ends early" in rejection.reason and rejection.redacted_payload == ""
