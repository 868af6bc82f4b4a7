"""A bound token's invalid JSON body that names no sender is answered 400, kept malformed.

A token bound to senders delivers only as them, but an input naming no sender is no claim:
only a sender the body names is checked against the token's (never the caller's own label,
``<token name>^http``). A body with no (readable) ``source`` (missing, or a body that is
not an object at all) is answered 400 naming what is wrong and kept as malformed; the
laboratory is not told its token is not allowed when its body is invalid.
"""

from __future__ import annotations

import json

import pytest

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import RecordRejectedInput
from tests.unit.lab_ingestion.route_fakes import JSON_BODY, LAB, lab_client
from tests.unit.lab_ingestion.test_json_bound_tokens import BoundTokens, EdgeSubmit


def _without_source() -> bytes:
    body = json.loads(json.dumps(JSON_BODY))
    del body["source"]
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "raw", [_without_source(), b"[]", b'{"message_id": "M-1"}'], ids=["no-source", "array", "bare"]
)
async def test_an_invalid_body_naming_no_sender_is_400_for_a_bound_token(raw: bytes) -> None:
    submit = EdgeSubmit()
    async with lab_client(submit, tokens=BoundTokens()) as client:
        response = await client.post("/v1/lab-results", data=raw, headers=LAB)
        text = await response.text()
    (kept,) = submit.commands
    assert isinstance(kept, RecordRejectedInput)
    assert response.status == 400, text
    assert kept.code is RejectionCode.MALFORMED
    assert kept.permitted_senders is None  # nothing named: nothing to check


async def test_an_invalid_body_naming_another_sender_is_still_403() -> None:
    body = json.loads(json.dumps(JSON_BODY))
    body["source"] = {"application": "LIS", "facility": "ELSEWHERE"}
    del body["message_id"]
    submit = EdgeSubmit()
    async with lab_client(submit, tokens=BoundTokens()) as client:
        response = await client.post("/v1/lab-results", json=body, headers=LAB)
    assert response.status == 403
