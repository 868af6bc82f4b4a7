"""What a lab is told of a message the service itself fails on (review 45): a kept HL7 copy
is replayed once the fault is fixed ("do not resend"); a FHIR or JSON copy never is, so its
lab is asked to resend it once the fault is fixed, never told not to."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.http import LabRoutes
from services.lab_ingestion.entrypoints.openapi import OPENAPI_PATHS
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestOutcome,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.group_commit import GroupCommitter
from services.lab_ingestion.service_layer.replay import ReplayRefused, checked_copy
from services.lab_ingestion.service_layer.unprocessable import keep_unprocessable
from shared.db.pool import TRANSIENT_DB_ERRORS
from shared.metrics import ReadinessMetrics
from shared.web.app import HANDLER_ARGS, ReadinessChecks, build_http_app
from tests.integration.lab_fixtures import BIRTH, obx, oru
from tests.unit.lab_ingestion.route_fakes import (
    JSON_BODY,
    LAB,
    FakeTokens,
    bundle,
    hash_identifier,
    observation,
)


class PoisonedService:
    """The service layer failing on every message (a fault of ours), while it can still
    keep rejections: what ``keep_unprocessable`` relies on."""

    def __init__(self) -> None:
        self.kept: list[RecordRejectedInput] = []

    async def __call__(self, commands: Sequence[Command]) -> list[IngestOutcome]:
        rejections = [c for c in commands if isinstance(c, RecordRejectedInput)]
        if len(rejections) != len(commands):
            raise RuntimeError("a fault of ours, on every try")
        self.kept.extend(rejections)
        return [IngestOutcome.rejected(c.code, c.reason) for c in rejections]


@contextlib.asynccontextmanager
async def poisoned_client() -> AsyncIterator[tuple[TestClient[Any, Any], PoisonedService]]:
    service = PoisonedService()
    committer: GroupCommitter[Command, IngestOutcome] = GroupCommitter(
        service,
        transient=TRANSIENT_DB_ERRORS,
        on_failure=partial(
            keep_unprocessable, service, identify=hash_identifier, transient=TRANSIENT_DB_ERRORS
        ),
    )
    stopping = asyncio.Event()
    worker = asyncio.create_task(committer.run(stopping))
    registry = CollectorRegistry()
    metrics = LabIngestionMetrics(registry)
    routes = LabRoutes(
        committer.submit, Hl7Acknowledger(committer.submit, hash_identifier, metrics),
        hash_identifier, metrics,
    )  # fmt: skip
    app = build_http_app(
        service="lab-ingestion", registry=registry,
        readiness=ReadinessChecks({}, ReadinessMetrics(registry, "lab-ingestion")),
        tokens=FakeTokens(), routes=routes.routes(), openapi_paths=OPENAPI_PATHS,
    )  # fmt: skip
    server = TestServer(app)
    await server.start_server(**HANDLER_ARGS)
    try:
        async with TestClient(server) as client:
            yield client, service
    finally:
        stopping.set()
        await asyncio.wait_for(worker, 5)


def _as_stored(kept: RecordRejectedInput) -> KeptRejection:
    return KeptRejection(
        kept.rejection_id, kept.channel.value, kept.source, kept.control_id, kept.code.value,
        kept.reason, kept.redacted_payload, kept.received_at, kept.patient_hmac,
        kept.content_digest, None, None,
    )  # fmt: skip


def _replayable(kept: RecordRejectedInput) -> bool:
    try:
        checked_copy(_as_stored(kept), lambda _: (_ for _ in ()).throw(ValueError("n/a")))
    except ReplayRefused as refused:
        return "cannot be read" in str(refused)  # got past the channel check
    return True


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/fhir/Observation", observation()),
        ("/fhir", bundle("transaction", observation())),
        ("/fhir", bundle("batch", observation())),
        ("/v1/lab-results", JSON_BODY),
    ],
)
async def test_a_poison_fhir_or_json_message_is_never_told_do_not_resend(
    path: str, body: dict[str, Any]
) -> None:
    async with poisoned_client() as (client, service):
        response = await client.post(path, data=json.dumps(body).encode(), headers=LAB)
        text = await response.text()
    (kept,) = service.kept
    assert kept.code.value == "processing-failed"
    assert not _replayable(kept)  # `cachexia replay` refuses it: only the lab can resend it
    assert "do not resend" not in text and "do not resend" not in kept.reason, text
    assert "resend it once" in kept.reason and "422" in f"{response.status} {text}"


async def test_a_poison_hl7_message_is_kept_for_its_replay() -> None:
    async with poisoned_client() as (client, service):
        message = oru("P-1", [obx("1988-5", "40", "mg/L")])
        response = await client.post("/v1/hl7", data=message.encode(), headers=LAB)
        text = await response.text()
    (kept,) = service.kept
    assert _replayable(kept) and "do not resend" in kept.reason and "MSA|AE|P-1" in text


async def test_a_poison_hl7_message_whose_copy_replay_refuses_asks_for_a_resend() -> None:
    """Its MSH-10 holds the patient's birth date, scrubbed from the kept copy: a replay
    refuses such a copy, so the lab is asked to resend once the fault is fixed (review 46)."""
    async with poisoned_client() as (client, service):
        message = oru(f"{BIRTH}-1", [obx("1988-5", "40", "mg/L")])
        await client.post("/v1/hl7", data=message.encode(), headers=LAB)
    (kept,) = service.kept
    assert "[redacted]" in (kept.control_id or "")  # what checked_copy refuses to replay
    assert "do not resend" not in kept.reason and "resend it once" in kept.reason
