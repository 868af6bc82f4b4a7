"""A token bound to senders: a JSON body naming another sender is answered 403 whether or
not the rest of it is valid (review 45), as /v1/hl7 answers it unknown-source; before, an
invalid one was answered 400 and kept as a malformed input of the caller's."""

from __future__ import annotations

import json
import uuid

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.domain.records import Sender
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestOutcome,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.senders import rejection_of_input
from shared.auth import Principal, Role
from tests.unit.lab_ingestion.route_fakes import JSON_BODY, LAB, FakeSubmit, FakeTokens, lab_client


class BoundTokens(FakeTokens):
    async def authenticate(self, token: str) -> Principal | None:
        return Principal(uuid.uuid4(), "central-lab", Role.LAB, frozenset({"LIS^HOSP"}))


class EdgeSubmit(FakeSubmit):
    """Answers an input refused at the edge as the batch ingestor does
    (``rejection_of_input``: a sender the token is not for, or one not on the allow-list,
    else the input's own reason); LIS^HOSP, the token's sender, is on it."""

    async def __call__(self, command: Command) -> IngestOutcome:
        self.commands.append(command)
        assert isinstance(command, RecordRejectedInput)
        context = BatchContext({("LIS", "HOSP"): Sender()}, {}, {}, {})
        code, reason = rejection_of_input(context, command)
        return IngestOutcome.rejected(code, reason)


async def test_an_invalid_json_body_of_another_sender_is_403_for_a_bound_token() -> None:
    body = json.loads(json.dumps(JSON_BODY))
    body["source"] = {"application": "OTHER", "facility": "LAB"}
    body["results"][0]["collected_at"] = "2026-11-20"  # a date alone: invalid
    submit = EdgeSubmit()
    async with lab_client(submit, tokens=BoundTokens()) as client:
        response = await client.post("/v1/lab-results", data=json.dumps(body).encode(), headers=LAB)
        text = await response.text()
    assert response.status == 403, text
    (kept,) = submit.commands
    assert isinstance(kept, RecordRejectedInput) and kept.source == "OTHER^LAB"


async def test_an_invalid_json_body_of_its_own_sender_is_still_400() -> None:
    body = json.loads(json.dumps(JSON_BODY))
    body["results"][0]["collected_at"] = "2026-11-20"
    submit = EdgeSubmit()
    async with lab_client(submit, tokens=BoundTokens()) as client:
        response = await client.post("/v1/lab-results", data=json.dumps(body).encode(), headers=LAB)
    assert response.status == 400
    (kept,) = submit.commands
    assert isinstance(kept, RecordRejectedInput) and kept.code is RejectionCode.MALFORMED
