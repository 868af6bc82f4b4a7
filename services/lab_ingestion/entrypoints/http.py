"""HTTP routes of lab-ingestion (port 8081, role `lab`): HL7, FHIR R4 and JSON pushes.

Routes only translate: read the body, parse it with the channel's adapter, hand a command to
the service layer, render its outcome. Input that cannot be used is kept as a rejection
(redacted, with a specific reason), and an internal error is answered 503 with Retry-After:
nothing was stored, so the sender resends. FHIR routes answer in FHIR (OperationOutcome),
the others in problem+json.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from services.lab_ingestion.adapters.fhir_bundle import (
    TRANSACTION,
    BundleEntry,
    ParsedBundle,
    parse_bundle,
)
from services.lab_ingestion.adapters.fhir_elements import is_element_name
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError, operation_outcome
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.fhir_redaction import RedactedFhir
from services.lab_ingestion.adapters.hl7_msh import PRODUCTION
from services.lab_ingestion.adapters.json_parser import (
    JsonInputError,
    is_schema_key,
    named_sender,
    parse_lab_results,
)
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.adapters.redaction import dump_json
from services.lab_ingestion.domain.matching import mask_identifier_in_id
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.entrypoints import fhir_responses as fhir
from services.lab_ingestion.entrypoints.copies import LARGE_INPUT_CHARS, redacted_off_loop
from services.lab_ingestion.entrypoints.fhir_capability import capability_statement
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger, Submit
from services.lab_ingestion.entrypoints.http_answers import (
    closing,
    json_answer,
    log_internal_error,
    unavailable_problem,
)
from services.lab_ingestion.entrypoints.outcomes import count_outcome, timed
from services.lab_ingestion.entrypoints.request_body import (
    UnreadableBody,
    decode_json,
    fingerprint,
    read_body,
)
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.senders import (
    FHIR_FACILITY,
    FhirSender,
    fhir_configured_as,
    fhir_sender_known,
)
from shared.auth import Role
from shared.contracts.envelope import utc_now
from shared.contracts.events.lab import Channel
from shared.web.app import PRINCIPAL_KEY, problem, requires

ER7 = "x-application/hl7-v2+er7"
T = TypeVar("T")
HL7_STATUS = {"AA": 200, "AE": 422, "AR": 400}


class LabRoutes:
    def __init__(
        self,
        submit: Submit,
        acknowledger: Hl7Acknowledger,
        hash_identifier: Callable[[str], str],
        metrics: LabIngestionMetrics,
        *,
        processing_id: str = PRODUCTION,
    ) -> None:
        self._submit = submit
        self._acknowledger = acknowledger
        self._hash = hash_identifier
        self._metrics = metrics
        self._processing_id = processing_id  # P: FHIR test data (HTEST) is refused

    def routes(self) -> list[web.RouteDef]:
        lab = requires(Role.LAB)
        lab_fhir = requires(Role.LAB, render=fhir.fhir_error)
        time = partial(timed, self._metrics)  # every answer: 401, 403 and 503 too
        return [
            web.post("/v1/hl7", time(Channel.HL7_HTTP, lab(self.post_hl7))),
            web.post("/fhir/Observation", time(Channel.FHIR, lab_fhir(self.post_fhir_observation))),
            web.post("/fhir", time(Channel.FHIR, lab_fhir(self.post_fhir_bundle))),
            web.post("/v1/lab-results", time(Channel.JSON, lab(self.post_json))),
            web.get("/fhir/metadata", capability_statement),  # no token: FHIR clients ask first
            # README: FHIR paths always answer an OperationOutcome, 404 and 405 too
            web.route("*", "/fhir", fhir.fhir_fallback),
            web.route("*", "/fhir/{rest:.*}", fhir.fhir_fallback),
        ]

    async def post_hl7(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = await read_body(request)
        except UnreadableBody as error:
            source = f"{request[PRINCIPAL_KEY].name}^http"
            return await self._unreadable_problem(Channel.HL7_HTTP, error, source)
        code, ack, failed = await self._acknowledger.acknowledge_outcome(
            raw, Channel.HL7_HTTP, request[PRINCIPAL_KEY].senders
        )
        if failed:
            return web.Response(text=ack, status=503, content_type=ER7, headers=fhir.RETRY_AFTER)
        return web.Response(text=ack, status=HL7_STATUS.get(code, 400), content_type=ER7)

    async def _read_fhir(
        self, request: web.Request
    ) -> tuple[FhirSender, str, bytes, Any] | web.StreamResponse:
        """Who sent it (``senders.fhir_configured_as``), the source it is kept and counted
        under, the raw body and its JSON; or the answer to a body that cannot be read or to a
        token whose sender cannot be told (each kept as a rejection)."""
        principal = request[PRINCIPAL_KEY]
        source = f"{principal.name}^{FHIR_FACILITY}"
        try:
            raw = await read_body(request)
            body = decode_json(raw, is_element_name)
        except UnreadableBody as error:
            return await self._unreadable_fhir(error, source)
        if not fhir_sender_known(principal.name, principal.senders):
            return await self._fhir_rejected(raw, body, fhir.SEVERAL_SENDERS, source, status=403)
        configured_as = fhir_configured_as(principal.name, principal.senders)
        return FhirSender(principal.name, configured_as), source, raw, body

    def _fhir_parser(self, parse: Callable[..., T], sender: FhirSender) -> Callable[..., T]:
        return partial(parse, processing_id=self._processing_id, configured_as=sender.configured_as)

    async def post_fhir_observation(self, request: web.Request) -> web.StreamResponse:
        read = await self._read_fhir(request)
        if isinstance(read, web.StreamResponse):
            return read
        sender, source, raw, body = read
        try:
            if not isinstance(body, dict):
                raise FhirInputError([("error", "structure", "the body is not a JSON object", "")])
            # parsed off the event loop: a large resource must not hold up every sender
            message = await asyncio.to_thread(
                self._fhir_parser(parse_observation, sender),
                body, sender.name, FHIR_FACILITY, self._hash,
            )  # fmt: skip
        except FhirInputError as error:
            return await self._fhir_rejected(raw, body, error, source)
        copy = await redacted_off_loop(RedactedFhir(body, self._hash).whole, len(raw))
        outcome = await self._ingest(message, copy, source)
        return fhir.observation_response(outcome)

    async def post_fhir_bundle(self, request: web.Request) -> web.StreamResponse:
        read = await self._read_fhir(request)
        if isinstance(read, web.StreamResponse):
            return read
        sender, source, raw, body = read
        try:
            if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                raise FhirInputError([("error", "structure", "POST /fhir takes a Bundle", "")])
            bundle = await asyncio.to_thread(
                self._fhir_parser(parse_bundle, sender),
                body, sender.name, FHIR_FACILITY, self._hash,
            )  # fmt: skip
        except FhirInputError as error:
            return await self._fhir_rejected(raw, body, error, source)
        redacted = RedactedFhir(body, self._hash)
        if len(raw) > LARGE_INPUT_CHARS or any(e.error is not None for e in bundle.entries):
            await asyncio.to_thread(redacted.whole)  # redacted once, off the loop
        if bundle.type == TRANSACTION:
            return await self._transaction(bundle, redacted, source)
        return await self._batch(bundle, redacted, source)

    async def _transaction(
        self, bundle: ParsedBundle, redacted: RedactedFhir, source: str
    ) -> web.Response:
        outcome = IngestOutcome(accepted=True)  # only Patients: nothing to store
        if bundle.messages:
            command = IngestTransaction(bundle.messages, redacted.whole, utc_now())
            outcome = await self._submit_counted(command, Channel.FHIR, source)
        return fhir.transaction_response(bundle, outcome)

    async def _batch(
        self, bundle: ParsedBundle, redacted: RedactedFhir, source: str
    ) -> web.Response:
        siblings = bundle.messages  # one tuple for every entry (a property builds a new one)

        async def one(entry: BundleEntry) -> IngestOutcome | None:
            payload = partial(redacted.entry, entry.index)
            if entry.error is not None:
                code, reason = fhir.rejection_of(entry.error)
                return await self._record_rejection(Channel.FHIR, code, reason, payload(), source)
            if entry.message is not None:
                return await self._ingest(entry.message, payload, source, bundle=siblings)
            return None  # a Patient: used for matching, never stored

        outcomes = await asyncio.gather(*(one(entry) for entry in bundle.entries))
        handled = [outcome for outcome in outcomes if outcome is not None]
        if handled and all(outcome.transient for outcome in handled):
            return fhir.unavailable()
        return await asyncio.to_thread(fhir.batch_response, bundle, outcomes)  # one per entry

    async def post_json(self, request: web.Request) -> web.StreamResponse:
        principal = request[PRINCIPAL_KEY]
        source = f"{principal.name}^http"
        try:
            raw = await read_body(request)
            body = decode_json(raw, is_schema_key)
        except UnreadableBody as error:
            return await self._unreadable_problem(Channel.JSON, error, source)
        try:
            message = mask_identifier_in_id(parse_lab_results(body), self._hash)
        except JsonInputError as error:
            payload = dump_json(redact_json(body, self._hash)) if isinstance(body, dict) else ""
            reason = str(error) if payload else f"{error}; {fingerprint(raw)}"
            rejected = await self._record_rejection(
                Channel.JSON, RejectionCode.MALFORMED, reason, payload, source,
                named=named_sender(body), permitted_senders=principal.senders,
            )  # fmt: skip
            if rejected.transient or rejected.code is RejectionCode.UNKNOWN_SOURCE:
                return json_answer(rejected)  # 503; 403: a sender the token is not for
            return problem(400, "Invalid lab results", reason)
        copy = await redacted_off_loop(lambda: dump_json(redact_json(body, self._hash)), len(raw))
        outcome = await self._ingest(message, copy, source, permitted_senders=principal.senders)
        return json_answer(outcome)

    async def _ingest(
        self,
        message: LabMessage,
        redact: Callable[[], str],
        source: str,
        *,
        permitted_senders: frozenset[str] | None = None,
        bundle: tuple[LabMessage, ...] = (),
    ) -> IngestOutcome:
        """HTTP callers are authenticated by token, so the HL7 sender allow-list is not used
        (a token bound to senders is checked instead). The metric's source label is the
        authenticated caller: bounded, unlike the body's."""
        command = IngestLabMessage(
            message, redact, utc_now(), check_source=False, permitted_senders=permitted_senders,
            bundle=bundle,
        )  # fmt: skip
        return await self._submit_counted(command, message.channel, source)

    async def _submit_counted(
        self, command: Command, channel: Channel, source: str
    ) -> IngestOutcome:
        try:
            outcome = await self._submit(command)
        except Exception as error:  # nothing was stored: the sender must try again
            log_internal_error(error, channel, source)
            outcome = IngestOutcome(accepted=False, reason=fhir.TRANSIENT_TEXT, transient=True)
        # every counter counts messages: a transaction's Observations, even rejected ones
        messages = len(command.messages) if isinstance(command, IngestTransaction) else 1
        count_outcome(self._metrics, channel.value, source, outcome, messages=messages)
        return outcome

    async def _record_rejection(
        self,
        channel: Channel,
        code: RejectionCode,
        reason: str,
        payload: str,
        source: str,
        *,
        named: str | None = None,
        permitted_senders: frozenset[str] | None = None,
    ) -> IngestOutcome:
        """Keep an input refused at the edge (``source``: the caller, the metric's label;
        ``named``: the sender the body names, the only one checked against the token's
        senders: a body naming none is refused for what is wrong with it)."""
        command = RecordRejectedInput(
            channel, code, reason[: fhir.MAX_REASON], payload, utc_now(), source=named or source,
            permitted_senders=permitted_senders if named else None,
        )  # fmt: skip
        return await self._submit_counted(command, channel, source)

    async def _fhir_rejected(
        self, raw: bytes, body: Any, error: FhirInputError, source: str, status: int = 400
    ) -> web.Response:
        code, reason = fhir.rejection_of(error)
        if isinstance(body, dict):
            payload = await asyncio.to_thread(RedactedFhir(body, self._hash).whole)
        else:  # not an object: nothing the redaction can vouch for is stored
            payload, reason = "", f"{reason}; {fingerprint(raw)}"
        outcome = await self._record_rejection(Channel.FHIR, code, reason, payload, source)
        return fhir.unavailable() if outcome.transient else fhir.invalid(error, status)

    async def _unreadable_fhir(self, error: UnreadableBody, source: str) -> web.Response:
        outcome = await self._keep_unreadable(Channel.FHIR, error, source)
        if outcome.transient:
            return closing(fhir.unavailable())
        issue_code = "too-costly" if error.status == 413 else "structure"
        return closing(
            fhir.fhir_json(
                operation_outcome([("error", issue_code, error.reason, None)]), error.status
            )
        )

    async def _unreadable_problem(
        self, channel: Channel, error: UnreadableBody, source: str
    ) -> web.Response:
        outcome = await self._keep_unreadable(channel, error, source)
        if outcome.transient:
            return closing(unavailable_problem())
        title = "Payload Too Large" if error.status == 413 else "Unreadable body"
        return closing(problem(error.status, title, error.reason))

    async def _keep_unreadable(
        self, channel: Channel, error: UnreadableBody, source: str
    ) -> IngestOutcome:
        """An unreadable body is rejected with its reason but no payload (it cannot be
        redacted); the reason names its length and digest instead."""
        return await self._record_rejection(
            channel, RejectionCode.MALFORMED, error.reason, "", source
        )
