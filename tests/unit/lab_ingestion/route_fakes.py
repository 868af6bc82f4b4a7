"""Hand-written fakes to drive lab-ingestion's HTTP routes in-process: the real aiohttp app
(auth, size limit, routes), a fake token store and a fake submit port (no database)."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.http import LabRoutes
from services.lab_ingestion.entrypoints.http_limits import MAX_REQUESTS
from services.lab_ingestion.entrypoints.openapi import OPENAPI_PATHS
from services.lab_ingestion.entrypoints.request_body import BODY_SECONDS
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
    RecordRejectedInput,
)
from shared.auth import Principal, Role, TokenStore
from shared.metrics import ReadinessMetrics
from shared.web.app import HANDLER_ARGS, ReadinessChecks, build_http_app

LAB_TOKEN = "cx_lab-token"
SITE_TOKEN = "cx_site-token"
LAB = {"Authorization": f"Bearer {LAB_TOKEN}"}
MRN = "MRN-4711-0815"
PATIENT_URL = "urn:uuid:7f1d8c9e-3b7a-4c1e-9f52-2a6b0c4d5e61"


def hash_identifier(value: str) -> str:
    encoded = value.encode("utf-8", "surrogatepass")  # as hospital_id_hmac
    return hmac.new(b"test-key", encoded, hashlib.sha256).hexdigest()


class FakeTokens(TokenStore):
    """Two known tokens; no database."""

    def __init__(self) -> None:  # the real store's pool and cache are not needed
        self._principals = {
            LAB_TOKEN: Principal(uuid.uuid4(), "central-lab", Role.LAB),
            SITE_TOKEN: Principal(uuid.uuid4(), "site", Role.SITE, site="CH-01"),
        }

    async def authenticate(self, token: str) -> Principal | None:
        return self._principals.get(token)


def stored_outcome(results: int = 1) -> IngestOutcome:
    """A message accepted and stored, with the ids of its results (a FHIR create's
    Location)."""
    ids = tuple(uuid.uuid4() for _ in range(results))
    return IngestOutcome(accepted=True, results=results, result_ids=ids)


class FakeSubmit:
    """Records every command; answers like the service layer would, or as told."""

    def __init__(
        self,
        answer: Callable[[Command], IngestOutcome] | None = None,
        error: Exception | None = None,
    ) -> None:
        self.commands: list[Command] = []
        self.answer = answer
        self.error = error

    async def __call__(self, command: Command) -> IngestOutcome:
        self.commands.append(command)
        if self.error is not None:
            raise self.error
        if isinstance(command, RecordRejectedInput):
            return IngestOutcome.rejected(command.code, command.reason)
        if self.answer is not None:
            return self.answer(command)
        if isinstance(command, IngestTransaction):
            parts = tuple(stored_outcome() for _ in command.messages)
            return IngestOutcome(accepted=True, results=len(parts), parts=parts)
        return stored_outcome(len(command.message.observations))

    @property
    def rejections(self) -> list[RecordRejectedInput]:
        return [c for c in self.commands if isinstance(c, RecordRejectedInput)]

    @property
    def ingests(self) -> list[IngestLabMessage]:
        return [c for c in self.commands if isinstance(c, IngestLabMessage)]


class FakeAcknowledger(Hl7Acknowledger):
    """Answers every HL7 message with the given ACK (``failed``: the service failed)."""

    def __init__(self, code: str, ack: str, failed: bool = False) -> None:  # nothing else
        self.code = code
        self.ack = ack
        self.failed = failed

    async def acknowledge_outcome(
        self,
        raw: bytes,
        channel: object,
        permitted_senders: frozenset[str] | None = None,
        *,
        peer: str | None = None,
    ) -> tuple[str, str, bool]:
        return self.code, self.ack, self.failed


class UnreachableTokens(FakeTokens):
    """The token store's database is down."""

    async def authenticate(self, token: str) -> Principal | None:
        raise ConnectionRefusedError("the database is down")


@contextlib.asynccontextmanager
async def lab_client(
    submit: FakeSubmit,
    acknowledger: Hl7Acknowledger | None = None,
    tokens: TokenStore | None = None,
    *,
    body_seconds: float = BODY_SECONDS,
    max_requests: int = MAX_REQUESTS,
    registry: CollectorRegistry | None = None,
) -> AsyncIterator[TestClient[Any, Any]]:
    registry = registry or CollectorRegistry()
    metrics = LabIngestionMetrics(registry)
    hl7 = acknowledger or Hl7Acknowledger(submit, hash_identifier, metrics)
    routes = LabRoutes(
        submit, hl7, hash_identifier, metrics, body_seconds=body_seconds,
        max_requests=max_requests,
    )  # fmt: skip
    app = build_http_app(
        service="lab-ingestion",
        registry=registry,
        readiness=ReadinessChecks({}, ReadinessMetrics(registry, "lab-ingestion")),
        tokens=tokens or FakeTokens(),
        routes=routes.routes(),
        openapi_paths=OPENAPI_PATHS,
    )
    server = TestServer(app)
    await server.start_server(**HANDLER_ARGS)  # as the runtime's (the constructor drops them)
    async with TestClient(server) as client:
        yield client


CRP: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "crp-1",
    "identifier": [{"system": "urn:lis", "value": "R-1"}],
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
    "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
    "effectiveDateTime": "2026-11-20T08:00:00+01:00",
    "valueQuantity": {"value": 1.5, "unit": "mg/dL", "code": "mg/dL"},
}
PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "pat-1",
    "identifier": [{"system": "urn:hosp", "value": MRN}],
    "name": [{"family": "Smith", "given": ["John"]}],
    "birthDate": "1961-03-04",
}


def observation(**changes: Any) -> dict[str, Any]:
    resource = copy.deepcopy(CRP)
    for key, value in changes.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    return resource


def observation_naming_patients(patients: int) -> dict[str, Any]:
    """A CRP Observation of ``patients`` contained Patients, each with its own number
    (``M00000``...): what made a kept copy's redaction quadratic (review 132)."""
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN123"}},
        "valueQuantity": {"value": 12.5, "unit": "mg/L"},
        "contained": [
            {"resourceType": "Patient", "id": f"p{i}", "identifier": [{"value": f"M{i:05d}"}]}
            for i in range(patients)
        ],
    }


def bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    entries = []
    for resource in resources:
        entry: dict[str, Any] = {"resource": resource}
        if resource.get("resourceType") == "Patient":
            entry["fullUrl"] = PATIENT_URL
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


JSON_BODY: dict[str, Any] = {
    "message_id": "LAB-1",
    "source": {"application": "LIS", "facility": "HOSP"},
    "patient": {"identifier": MRN},
    "results": [
        {"result_id": "R1", "loinc": "1988-5", "value": "12.5", "unit": "mg/L",
         "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"},
    ],
}  # fmt: skip
