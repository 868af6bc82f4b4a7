"""What every HTTP channel of lab-ingestion does with an input: hand its command to the
service layer (an internal error is answered as transient: nothing was stored, or, its
commit's answer lost, stored without knowing what; the sender resends), count the outcome,
and keep an input refused at the edge as a rejection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.entrypoints import fhir_responses as fhir
from services.lab_ingestion.entrypoints.hl7_flow import Submit
from services.lab_ingestion.entrypoints.http_answers import (
    log_internal_error,
)
from services.lab_ingestion.entrypoints.outcomes import count_outcome, failed_outcome
from services.lab_ingestion.entrypoints.request_body import (
    UnreadableBody,
)
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
    RecordRejectedInput,
)
from shared.contracts.envelope import utc_now
from shared.contracts.events.lab import Channel


class LabIntake:
    def __init__(self, submit: Submit, metrics: LabIngestionMetrics) -> None:
        self._submit = submit
        self._metrics = metrics

    async def ingest(
        self,
        message: LabMessage,
        redact: Callable[[], str],
        source: str,
        *,
        permitted_senders: frozenset[str] | None = None,
        bundle: tuple[LabMessage, ...] = (),
        received_at: datetime | None = None,
    ) -> IngestOutcome:
        """HTTP callers are authenticated by token, so the HL7 sender allow-list is not used
        (a token bound to senders is checked instead). The metric's source label is the
        authenticated caller: bounded, unlike the body's. ``received_at``: a batch Bundle's,
        the same for each of its entries (now, by default)."""
        command = IngestLabMessage(
            message, redact, received_at or utc_now(), check_source=False,
            permitted_senders=permitted_senders, bundle=bundle,
        )  # fmt: skip
        return await self.submit_counted(command, message.channel, source)

    async def submit_counted(
        self, command: Command, channel: Channel, source: str
    ) -> IngestOutcome:
        try:
            outcome = await self._submit(command)
        except Exception as error:  # the sender must try again (stored, or nothing was)
            outcome = failed_outcome(error, fhir.TRANSIENT_TEXT)
            if not outcome.answer_lost:  # else logged by the group committer
                log_internal_error(error, channel, source)
        # every counter counts messages: a transaction's Observations, even rejected ones
        messages = len(command.messages) if isinstance(command, IngestTransaction) else 1
        count_outcome(self._metrics, channel.value, source, outcome, messages=messages)
        return outcome

    async def record_rejection(
        self,
        channel: Channel,
        code: RejectionCode,
        reason: str,
        payload: str,
        source: str,
        *,
        named: str | None = None,
        permitted_senders: frozenset[str] | None = None,
        configured_as: tuple[str, str] | None = None,
    ) -> IngestOutcome:
        """Keep an input refused at the edge (``source``: the caller, the metric's label;
        ``named``: the sender the body names, the only one checked against the token's
        senders: a body naming none is refused for what is wrong with it; ``configured_as``:
        a bound token's FHIR sender, which must still be on the allow-list)."""
        command = RecordRejectedInput(
            channel, code, reason[: fhir.MAX_REASON], payload, utc_now(), source=named or source,
            permitted_senders=permitted_senders if named else None, configured_as=configured_as,
        )  # fmt: skip
        return await self.submit_counted(command, channel, source)

    async def keep_unreadable(
        self, channel: Channel, error: UnreadableBody, source: str
    ) -> IngestOutcome:
        """An unreadable body (or one of a media type the route does not take) is rejected
        with its reason but no payload (it cannot be redacted); the reason names its length
        and digest instead."""
        return await self.record_rejection(channel, error.code, error.reason, "", source)
