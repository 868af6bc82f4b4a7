"""FHIR R4 routes of lab-ingestion (``POST /fhir/Observation``, ``POST /fhir``): a lab
token's Observations, alone or in a transaction or batch Bundle, answered in FHIR
(OperationOutcome, a Bundle response)."""

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
from services.lab_ingestion.adapters.fhir_redacted_copy import RedactedFhir
from services.lab_ingestion.adapters.fhir_transaction_copy import copy_without
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints import fhir_responses as fhir
from services.lab_ingestion.entrypoints.copies import LARGE_INPUT_CHARS, redacted_off_loop
from services.lab_ingestion.entrypoints.hl7_failures import copy_or_not_made
from services.lab_ingestion.entrypoints.http_answers import (
    closing,
)
from services.lab_ingestion.entrypoints.http_intake import LabIntake
from services.lab_ingestion.entrypoints.json_body import decode_json
from services.lab_ingestion.entrypoints.media_types import FHIR_RULE, check_media_type
from services.lab_ingestion.entrypoints.request_body import (
    BODY_SECONDS,
    UnreadableBody,
    fingerprint,
    read_body,
)
from services.lab_ingestion.service_layer.commands import (
    IngestOutcome,
    IngestTransaction,
)
from services.lab_ingestion.service_layer.senders import (
    FHIR_FACILITY,
    FhirSender,
    fhir_configured_as,
    fhir_sender_known,
)
from shared.contracts.envelope import utc_now
from shared.contracts.events.lab import Channel
from shared.web.app import PRINCIPAL_KEY
from shared.worker_threads import on_worker_thread

T = TypeVar("T")


class FhirRoutes:
    def __init__(
        self,
        intake: LabIntake,
        hash_identifier: Callable[[str], str],
        processing_id: str,
        body_seconds: float = BODY_SECONDS,
    ) -> None:
        self._intake = intake
        self._body_seconds = body_seconds
        self._hash = hash_identifier
        self._processing_id = processing_id  # P: FHIR test data (HTEST) is refused

    async def _read_fhir(
        self, request: web.Request
    ) -> tuple[FhirSender, str, bytes, Any] | web.StreamResponse:
        """Who sent it (``senders.fhir_configured_as``), the source it is kept and counted
        under, the raw body and its JSON; or the answer to a body that cannot be read or to a
        token whose sender cannot be told (each kept as a rejection)."""
        principal = request[PRINCIPAL_KEY]
        source = f"{principal.name}^{FHIR_FACILITY}"
        try:
            raw = await read_body(request, self._body_seconds)
            check_media_type(request.headers.getall("Content-Type", []), FHIR_RULE, raw)
            body = decode_json(raw, is_element_name)
        except UnreadableBody as error:
            return await self._unreadable_fhir(error, source)
        if not fhir_sender_known(principal.name, principal.senders):
            return await self._fhir_rejected(raw, body, fhir.SEVERAL_SENDERS, source, status=403)
        configured_as = fhir_configured_as(principal.name, principal.senders)
        return FhirSender(principal.name, configured_as), source, raw, body

    async def _parsed(self, parse: Callable[..., T], sender: FhirSender, body: Any) -> T:
        """``body`` parsed off the event loop (a large one must not hold up every sender)."""
        options = partial(
            parse, processing_id=self._processing_id, configured_as=sender.configured_as
        )
        return await on_worker_thread(options, body, sender.name, FHIR_FACILITY, self._hash)

    async def post_observation(self, request: web.Request) -> web.StreamResponse:
        read = await self._read_fhir(request)
        if isinstance(read, web.StreamResponse):
            return read
        sender, source, raw, body = read
        try:
            if not isinstance(body, dict):
                raise FhirInputError([("error", "structure", "the body is not a JSON object", "")])
            message = await self._parsed(parse_observation, sender, body)
        except FhirInputError as error:
            return await self._fhir_rejected(raw, body, error, source, sender.configured_as)
        copy = await redacted_off_loop(RedactedFhir(body, self._hash).whole, len(raw))
        outcome = await self._intake.ingest(message, copy, source)
        return fhir.observation_response(outcome)

    async def post_bundle(self, request: web.Request) -> web.StreamResponse:
        read = await self._read_fhir(request)
        if isinstance(read, web.StreamResponse):
            return read
        sender, source, raw, body = read
        try:
            if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                raise FhirInputError([("error", "structure", "POST /fhir takes a Bundle", "")])
            bundle = await self._parsed(parse_bundle, sender, body)
        except FhirInputError as error:
            return await self._fhir_rejected(raw, body, error, source, sender.configured_as)
        redacted = RedactedFhir(body, self._hash)
        if len(raw) > LARGE_INPUT_CHARS or any(e.error is not None for e in bundle.entries):
            await on_worker_thread(redacted.whole)  # redacted once, off the loop
        if bundle.type == TRANSACTION:
            return await self._transaction(bundle, redacted, source)
        return await self._batch(bundle, redacted, sender, source)

    async def _transaction(
        self, bundle: ParsedBundle, redacted: RedactedFhir, source: str
    ) -> web.Response:
        outcome = IngestOutcome(accepted=True)  # only Patients: nothing to store
        if bundle.messages:
            without = partial(copy_without, redacted.whole, bundle, self._hash)
            command = IngestTransaction(
                bundle.messages, redacted.whole, utc_now(), redact_without=without
            )
            outcome = await self._intake.submit_counted(command, Channel.FHIR, source)
        return fhir.transaction_response(bundle, outcome)

    async def _batch(
        self, bundle: ParsedBundle, redacted: RedactedFhir, sender: FhirSender, source: str
    ) -> web.Response:
        siblings = bundle.messages  # one tuple for every entry (a property builds a new one)
        # one time for every entry: what the Bundle's earlier send stored was received
        # before it, what its own entries store is not (``bundle_resends``)
        received_at = utc_now()

        async def one(entry: BundleEntry) -> IngestOutcome | None:
            payload = partial(redacted.entry, entry.index)
            if entry.error is not None:
                code, reason = fhir.rejection_of(entry.error)
                return await self._intake.record_rejection(
                    Channel.FHIR, code, reason, payload(), source,
                    configured_as=sender.configured_as,
                )  # fmt: skip
            if entry.message is not None:
                return await self._intake.ingest(
                    entry.message, payload, source, bundle=siblings, received_at=received_at
                )
            return None  # a Patient: used for matching, never stored

        outcomes = await asyncio.gather(*(one(entry) for entry in bundle.entries))
        handled = [outcome for outcome in outcomes if outcome is not None]
        if handled and all(outcome.transient for outcome in handled):
            return fhir.unavailable(*handled)
        return await on_worker_thread(fhir.batch_response, bundle, outcomes)  # one per entry

    async def _fhir_rejected(
        self,
        raw: bytes,
        body: Any,
        error: FhirInputError,
        source: str,
        configured_as: tuple[str, str] | None = None,
        *,
        status: int = 400,
    ) -> web.Response:
        """Kept as a rejection; answered ``status``, or 403 when the token's sender
        (``configured_as``) is gone from the allow-list, whatever else is wrong."""
        code, reason = fhir.rejection_of(error)
        if isinstance(body, dict):  # a redaction that fails keeps nothing of the body
            payload = await copy_or_not_made(on_worker_thread(RedactedFhir(body, self._hash).whole))
        else:  # not an object: nothing the redaction can vouch for is stored
            payload, reason = "", f"{reason}; {fingerprint(raw)}"
        outcome = await self._intake.record_rejection(
            Channel.FHIR, code, reason, payload, source, configured_as=configured_as
        )
        if outcome.transient:
            return fhir.unavailable(outcome)
        if outcome.code is RejectionCode.UNKNOWN_SOURCE and code is not outcome.code:
            return fhir.observation_response(outcome)  # 403: the token's sender is gone
        return fhir.invalid(error, status)

    async def _unreadable_fhir(self, error: UnreadableBody, source: str) -> web.Response:
        outcome = await self._intake.keep_unreadable(Channel.FHIR, error, source)
        if outcome.transient:
            return closing(fhir.unavailable(outcome))
        issue_code = _ISSUE_CODES.get(error.status, "structure")
        answer = fhir.fhir_json(
            operation_outcome([("error", issue_code, error.reason, None)]), error.status
        )
        return answer if error.status == 415 else closing(answer)  # 415: the body was read


# an unreadable body's issue: too large, not come in time, of a format not supported, or
# else not readable
_ISSUE_CODES = {413: "too-costly", 408: "timeout", 415: "not-supported"}
