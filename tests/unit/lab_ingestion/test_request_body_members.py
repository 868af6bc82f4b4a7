"""A gzip body's members: at most MAX_GZIP_MEMBERS of them, each read from where the last one
ended (the rest of the body was copied for every member: 100,000 empty members in 2 MiB cost
seconds of CPU on the worker threads that also parse FHIR)."""

from __future__ import annotations

import gzip
import hashlib
import os
from typing import Any

import pytest

from services.lab_ingestion.entrypoints.request_body import (
    MAX_GZIP_MEMBERS,
    UnreadableBody,
    gunzip,
)
from tests.unit.lab_ingestion.route_fakes import LAB, FakeSubmit, lab_client

LIMIT = 2 * 1024 * 1024  # the service's client_max_size
EMPTY_MEMBER = gzip.compress(b"", mtime=0)  # 20 bytes
TOO_MANY = f"more than {MAX_GZIP_MEMBERS} gzip members"


def _refused(raw: bytes) -> UnreadableBody:
    with pytest.raises(UnreadableBody) as refused:
        gunzip(raw, LIMIT)
    assert refused.value.status == 400
    assert f"{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}" in refused.value.reason
    return refused.value


def test_a_body_of_as_many_members_as_allowed_is_decoded() -> None:
    parts = [f"OBX|{number}|NM|1988-5^CRP^LN||12\r".encode() for number in range(MAX_GZIP_MEMBERS)]
    assert gunzip(b"".join(gzip.compress(part) for part in parts), LIMIT) == b"".join(parts)


@pytest.mark.parametrize(
    "members", [MAX_GZIP_MEMBERS + 1, LIMIT // len(EMPTY_MEMBER)], ids=["one-too-many", "2MiB"]
)
def test_a_body_of_more_members_is_refused(members: int) -> None:
    """Also the 2 MiB body of ~105,000 empty members, which was read (3 s of CPU) as empty."""
    assert TOO_MANY in _refused(EMPTY_MEMBER * members).reason


def test_members_larger_than_what_is_fed_at_a_time_are_read_whole() -> None:
    """Incompressible members of 200 kB: each ends inside a later slice than it began in."""
    parts = [os.urandom(200_000), b"", os.urandom(150_000), b"MSH|end\r"]
    body = b"".join(gzip.compress(part) for part in parts)
    assert gunzip(body, LIMIT) == b"".join(parts)
    assert "ends early" in _refused(body[: len(body) // 2]).reason
    assert "not valid gzip data" in _refused(body + b"\x00" * 10).reason
    assert gunzip(body, sum(map(len, parts)) - 1) is None  # the limit counts every member


@pytest.mark.parametrize("path", ["/v1/lab-results", "/fhir/Observation", "/v1/hl7"])
async def test_a_body_of_too_many_members_is_answered_400_and_kept_as_a_rejection(
    path: str,
) -> None:
    body = EMPTY_MEMBER * (LIMIT // len(EMPTY_MEMBER))
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        headers = {**LAB, "Content-Type": "application/json", "Content-Encoding": "gzip"}
        response = await client.post(path, data=body, headers=headers)
        assert response.status == 400
        assert response.headers.get("Connection") == "close"
        detail = _detail(await response.json())
    (rejection,) = submit.rejections
    for reason in (detail, rejection.reason):
        assert TOO_MANY in reason, reason
    assert rejection.redacted_payload == ""
    assert not submit.ingests


def _detail(answer: dict[str, Any]) -> str:
    """A problem's detail, or an OperationOutcome's diagnostics."""
    if answer.get("resourceType") == "OperationOutcome":
        return str(answer["issue"][0]["diagnostics"])
    return str(answer["detail"])
