"""HTTP routes of lab-ingestion (port 8081, role `lab`): HL7, FHIR R4 and JSON pushes.

Routes only translate: read the body, parse it with the channel's adapter, hand a command to
the service layer, render its outcome. Input that cannot be used is kept as a rejection
(redacted, with a specific reason), and an internal error is answered 503 with Retry-After:
nothing was stored, so the sender resends. FHIR routes answer in FHIR (OperationOutcome),
the others in problem+json. The FHIR routes are in ``fhir_routes``, what every channel does
with its input in ``http_intake``; how many are taken at once and how long a body may take
to come, in ``http_limits`` and ``request_body``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from aiohttp import web

from services.lab_ingestion.adapters.hl7_msh import PRODUCTION
from services.lab_ingestion.adapters.json_parser import (
    JsonInputError,
    named_sender,
    parse_lab_results,
)
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.json_schema import is_schema_key
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.adapters.redaction import dump_json
from services.lab_ingestion.domain.matching import mask_identifier_in_id
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints import fhir_responses as fhir
from services.lab_ingestion.entrypoints.copies import redacted_off_loop
from services.lab_ingestion.entrypoints.fhir_accept import answered_in_json
from services.lab_ingestion.entrypoints.fhir_capability import capability_statement
from services.lab_ingestion.entrypoints.fhir_routes import FhirRoutes
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger, Submit
from services.lab_ingestion.entrypoints.http_answers import (
    answering_defects,
    closing,
    json_answer,
    unavailable_problem,
)
from services.lab_ingestion.entrypoints.http_intake import LabIntake
from services.lab_ingestion.entrypoints.http_limits import MAX_REQUESTS, RequestLimit
from services.lab_ingestion.entrypoints.json_body import decode_json
from services.lab_ingestion.entrypoints.media_types import (
    HL7_RULE,
    JSON_RULE,
    check_media_type,
)
from services.lab_ingestion.entrypoints.outcomes import timed
from services.lab_ingestion.entrypoints.request_body import (
    BODY_SECONDS,
    UnreadableBody,
    fingerprint,
    read_body,
)
from shared.auth import Role
from shared.contracts.events.lab import Channel
from shared.web.app import PRINCIPAL_KEY, Handler, problem, requires

ER7 = "x-application/hl7-v2+er7"
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
        body_seconds: float = BODY_SECONDS,
        max_requests: int = MAX_REQUESTS,
    ) -> None:
        self._acknowledger = acknowledger
        self._hash = hash_identifier
        self._metrics = metrics
        self._intake = LabIntake(submit, metrics)
        self._body_seconds = body_seconds
        self._limit = RequestLimit(max_requests, metrics)
        self._fhir = FhirRoutes(self._intake, hash_identifier, processing_id, body_seconds)

    def routes(self) -> list[web.RouteDef]:
        lab = requires(Role.LAB)
        lab_fhir = requires(Role.LAB, render=fhir.fhir_error)
        time = partial(timed, self._metrics)  # every answer: 401, 403 and 503 too
        hl7, json, fhir_ = (partial(self._guarded, c) for c in
                            (Channel.HL7_HTTP, Channel.JSON, Channel.FHIR))  # fmt: skip
        observation, bundle = (
            time(Channel.FHIR, lab_fhir(answered_in_json(fhir_(handler))))
            for handler in (self._fhir.post_observation, self._fhir.post_bundle)
        )
        metadata = answered_in_json(capability_statement)  # no token: FHIR clients ask first
        return [
            web.post("/v1/hl7", time(Channel.HL7_HTTP, lab(hl7(self.post_hl7)))),
            web.post("/v1/lab-results", time(Channel.JSON, lab(json(self.post_json)))),
            # each FHIR path with a trailing slash too (a base URL ending in one): the same
            # handler, its token, role and limits (review 131)
            *(
                route
                for slash in ("", "/")
                for route in (
                    web.post(f"/fhir/Observation{slash}", observation),
                    web.post(f"/fhir{slash}", bundle),
                    web.get(f"/fhir/metadata{slash}", metadata),
                )
            ),
            # README: FHIR paths always answer an OperationOutcome, 404 and 405 too
            web.route("*", "/fhir", fhir.fhir_fallback),
            web.route("*", "/fhir/{rest:.*}", fhir.fhir_fallback),
        ]

    def _guarded(self, channel: Channel, handler: Handler) -> Handler:
        """``handler`` within the request limit, a defect answered 503 (``answering_defects``)."""
        return self._limit.guard(channel, answering_defects(channel, self._metrics, handler))

    async def post_hl7(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = await read_body(request, self._body_seconds)
            check_media_type(request.headers.getall("Content-Type", []), HL7_RULE, raw)
        except UnreadableBody as error:
            source = f"{request[PRINCIPAL_KEY].name}^http"
            return await self._unreadable_problem(Channel.HL7_HTTP, error, source)
        code, ack, failed = await self._acknowledger.acknowledge_outcome(
            raw, Channel.HL7_HTTP, request[PRINCIPAL_KEY].senders
        )
        if failed:
            return web.Response(text=ack, status=503, content_type=ER7, headers=fhir.RETRY_AFTER)
        return web.Response(text=ack, status=HL7_STATUS.get(code, 400), content_type=ER7)

    async def post_json(self, request: web.Request) -> web.StreamResponse:
        principal = request[PRINCIPAL_KEY]
        source = f"{principal.name}^http"
        try:
            raw = await read_body(request, self._body_seconds)
            check_media_type(request.headers.getall("Content-Type", []), JSON_RULE, raw)
            body = decode_json(raw, is_schema_key)
        except UnreadableBody as error:
            return await self._unreadable_problem(Channel.JSON, error, source)
        try:
            message = mask_identifier_in_id(parse_lab_results(body), self._hash)
        except JsonInputError as error:
            payload = dump_json(redact_json(body, self._hash)) if isinstance(body, dict) else ""
            reason = str(error) if payload else f"{error}; {fingerprint(raw)}"
            rejected = await self._intake.record_rejection(
                Channel.JSON, RejectionCode.MALFORMED, reason, payload, source,
                named=named_sender(body), permitted_senders=principal.senders,
            )  # fmt: skip
            if rejected.transient or rejected.code is RejectionCode.UNKNOWN_SOURCE:
                return json_answer(rejected)  # 503; 403: a sender the token is not for
            return problem(400, "Invalid lab results", reason)
        copy = await redacted_off_loop(lambda: dump_json(redact_json(body, self._hash)), len(raw))
        outcome = await self._intake.ingest(
            message, copy, source, permitted_senders=principal.senders
        )
        return json_answer(outcome)

    async def _unreadable_problem(
        self, channel: Channel, error: UnreadableBody, source: str
    ) -> web.Response:
        outcome = await self._intake.keep_unreadable(channel, error, source)
        if outcome.transient:
            return closing(unavailable_problem(outcome))
        if error.status == 415:  # the body was read whole: the connection can carry another
            return problem(415, "Unsupported Media Type", error.reason)
        title = _TITLES.get(error.status, "Unreadable body")
        return closing(problem(error.status, title, error.reason))


_TITLES = {413: "Payload Too Large", 408: "Request Timeout"}
