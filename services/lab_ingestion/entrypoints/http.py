"""HTTP routes of lab-ingestion (port 8081, role `lab`): HL7, FHIR R4 and JSON pushes.

Routes only translate: read the body, parse it with the channel's adapter, hand a command to
the service layer, render its outcome. Unparseable input is kept as a rejection too.
"""

from __future__ import annotations

import asyncio
import decimal
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from services.lab_ingestion.adapters.fhir_parser import (
    FhirInputError,
    operation_outcome,
    parse_bundle,
    parse_observation,
)
from services.lab_ingestion.adapters.json_parser import (
    JsonInputError,
    parse_lab_results,
)
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.adapters.redaction import redact_fhir, redact_json
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger, Submit
from services.lab_ingestion.entrypoints.outcomes import count_outcome
from services.lab_ingestion.service_layer.commands import (
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
    RecordRejectedInput,
)
from shared.auth import Role
from shared.contracts.envelope import utc_now
from shared.contracts.events.lab import Channel
from shared.web.app import PRINCIPAL_KEY, problem, requires

ER7 = "x-application/hl7-v2+er7"
FHIR_JSON = "application/fhir+json"
HL7_STATUS = {"AA": 200, "AE": 422, "AR": 400}


class LabRoutes:
    def __init__(
        self,
        submit: Submit,
        acknowledger: Hl7Acknowledger,
        hash_identifier: Callable[[str], str],
        metrics: LabIngestionMetrics,
    ) -> None:
        self._submit = submit
        self._acknowledger = acknowledger
        self._hash = hash_identifier
        self._metrics = metrics

    def routes(self) -> list[web.RouteDef]:
        lab = requires(Role.LAB)
        return [
            web.post("/v1/hl7", lab(self.post_hl7)),
            web.post("/fhir/Observation", lab(self.post_fhir_observation)),
            web.post("/fhir", lab(self.post_fhir_bundle)),
            web.post("/v1/lab-results", lab(self.post_json)),
        ]

    async def post_hl7(self, request: web.Request) -> web.StreamResponse:
        code, ack = await self._acknowledger.acknowledge(await request.read(), Channel.HL7_HTTP)
        return web.Response(text=ack, status=HL7_STATUS[code], content_type=ER7)

    async def post_fhir_observation(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        application = request[PRINCIPAL_KEY].name
        try:
            if not isinstance(body, dict):
                raise FhirInputError([("error", "structure", "the body is not a JSON object", "")])
            message = parse_observation(body, application, "FHIR")
        except FhirInputError as error:
            return await self._fhir_rejected(body, application, error)
        outcome = await self._ingest(message, lambda: _dump(redact_fhir(body, self._hash)))
        return _fhir_response(outcome, created=True)

    async def post_fhir_bundle(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        application = request[PRINCIPAL_KEY].name
        try:
            if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                raise FhirInputError([("error", "structure", "POST /fhir takes a Bundle", "")])
            messages = parse_bundle(body, application, "FHIR")
        except FhirInputError as error:
            return await self._fhir_rejected(body, application, error)
        redacted = lambda: _dump(redact_fhir(body, self._hash))  # noqa: E731 - computed only on rejection
        if body.get("type") == "transaction":
            outcome = await self._submit_counted(
                IngestTransaction(tuple(messages), redacted, utc_now()), Channel.FHIR,
                f"{application}^FHIR",
            )  # fmt: skip
            outcomes = [outcome] * len(messages)
        else:
            outcomes = list(await asyncio.gather(*(self._ingest(m, redacted) for m in messages)))
        return web.json_response(_response_bundle(body, outcomes), content_type=FHIR_JSON)

    async def post_json(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            message = parse_lab_results(raw)
        except JsonInputError as error:
            body = _loads(raw)
            await self._record_rejection(
                Channel.JSON, str(error), _dump(redact_json(body, self._hash)) if body else "",
                source=f"{request[PRINCIPAL_KEY].name}^http",
            )  # fmt: skip
            return problem(400, "Invalid lab results", str(error))
        body = _loads(raw)
        # the metric's source label is the authenticated caller: bounded, unlike the body's
        outcome = await self._ingest(
            message, lambda: _dump(redact_json(body, self._hash)),
            label=f"{request[PRINCIPAL_KEY].name}^http",
        )  # fmt: skip
        if not outcome.accepted:
            return problem(422, "Lab results rejected", f"{outcome.code}: {outcome.reason}")
        return web.json_response(
            {"status": "duplicate" if outcome.duplicate else "accepted",
             "enrolled": outcome.enrolled, "results_stored": outcome.results},
            status=200 if outcome.duplicate else 202,
        )  # fmt: skip

    async def _ingest(
        self, message: LabMessage, redact: Callable[[], str], *, label: str | None = None
    ) -> IngestOutcome:
        """HTTP callers are authenticated by token, so the HL7 sender allow-list is not used."""
        command = IngestLabMessage(message, redact, utc_now(), check_source=False)
        return await self._submit_counted(command, message.channel, label or message.source)

    async def _submit_counted(
        self, command: IngestLabMessage | IngestTransaction, channel: Channel, source: str
    ) -> IngestOutcome:
        try:
            outcome = await self._submit(command)
        except Exception:
            outcome = IngestOutcome(accepted=False, reason="temporary internal error; resend")
        count_outcome(self._metrics, channel.value, source, outcome)
        return outcome

    async def _fhir_rejected(
        self, body: Any, application: str, error: FhirInputError
    ) -> web.Response:
        redacted = _dump(redact_fhir(body, self._hash)) if isinstance(body, dict) else ""
        reason = "; ".join(issue[2] for issue in error.issues)[:500] or "invalid FHIR resource"
        await self._record_rejection(Channel.FHIR, reason, redacted, source=f"{application}^FHIR")
        return web.json_response(
            operation_outcome(error.issues), status=400, content_type=FHIR_JSON
        )

    async def _record_rejection(
        self, channel: Channel, reason: str, payload: str, *, source: str
    ) -> None:
        command = RecordRejectedInput(
            channel, RejectionCode.MALFORMED, reason, payload, utc_now(), source=source
        )
        outcome = await self._submit(command)
        count_outcome(self._metrics, channel.value, source, outcome)


async def _json_body(request: web.Request) -> Any:
    return _loads(await request.read())


def _loads(raw: bytes) -> Any:
    """The decoded body, or None; decimals stay exact so the original value is kept as sent."""
    try:
        return json.loads(raw, parse_float=decimal.Decimal)
    except (ValueError, UnicodeDecodeError):
        return None


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _fhir_response(outcome: IngestOutcome, *, created: bool) -> web.Response:
    if outcome.accepted:
        text = "duplicate; already stored" if outcome.duplicate else "accepted"
        if not outcome.enrolled:
            text = "accepted; patient not enrolled, discarded"
        issues = [("information", "informational", text, "")]
        status = 201 if created and not outcome.duplicate else 200
    else:
        issues = [("error", "processing", f"{outcome.code}: {outcome.reason}", "")]
        status = 422
    return web.json_response(operation_outcome(issues), status=status, content_type=FHIR_JSON)


def _response_bundle(
    request_bundle: dict[str, Any], outcomes: list[IngestOutcome]
) -> dict[str, Any]:
    kind = (
        "transaction-response" if request_bundle.get("type") == "transaction" else "batch-response"
    )
    entries = []
    for outcome in outcomes:
        if outcome.accepted:
            status, issue = "201 Created", ("information", "informational", "accepted", "")
        else:
            status = "422 Unprocessable Entity"
            issue = ("error", "processing", f"{outcome.code}: {outcome.reason}", "")
        entries.append({"response": {"status": status, "outcome": operation_outcome([issue])}})
    return {"resourceType": "Bundle", "type": kind, "entry": entries}
