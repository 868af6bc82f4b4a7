"""Count what happened to each inbound message, and time its answer (shared by every
channel).

The unit of every counter is the message: an HL7 message, a JSON body, a FHIR Observation
(in a Bundle too, each of a transaction's as if sent alone). README: Metrics.
"""

from __future__ import annotations

from aiohttp import web

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import IngestOutcome
from services.lab_ingestion.service_layer.group_commit import CommitAnswerLost
from shared.contracts.events.lab import Channel
from shared.web.app import Handler

MESSAGE_REJECTIONS = {
    RejectionCode.MALFORMED,
    RejectionCode.UNSUPPORTED_MESSAGE,
    RejectionCode.WRONG_PROCESSING_ID,
    RejectionCode.UNKNOWN_SOURCE,
}

# A batch whose commit landed but whose answer was lost, the plan of the attempt that
# committed not known here (``CommitAnswerLost``): stored (the message, or its rejection),
# but what was stored cannot be told; its resend is answered as stored (AR / 503 still: the
# lab resends it to learn). Within MSA-3's 80 characters.
ANSWER_LOST_TEXT = "stored, but its answer was lost; resend it to learn what was stored"
# lab_messages_rejected_total's reason for it (bounded, told from "unknown": nothing stored)
ANSWER_LOST_REASON = "answer-lost"


def failed_outcome(error: Exception, nothing_stored: str) -> IngestOutcome:
    """The answer to a command the service layer failed on (``error``): ``nothing_stored``
    (the channel's text), or, when its commit landed with its answer lost, that it is stored
    and its resend tells what was."""
    if isinstance(error, CommitAnswerLost):
        return IngestOutcome(
            accepted=False, transient=True, answer_lost=True, reason=ANSWER_LOST_TEXT
        )
    return IngestOutcome(accepted=False, transient=True, reason=nothing_stored)


def count_outcome(
    metrics: LabIngestionMetrics,
    channel: str,
    source: str,
    outcome: IngestOutcome,
    *,
    messages: int = 1,
) -> None:
    """Count ``outcome`` once per message it is of: an accepted transaction's parts, else
    ``messages`` (a rejected transaction's Observations: none of them was stored)."""
    count = len(outcome.parts) or messages
    # a sender not (yet) checked against the allow-list is not a label: MSH-3^MSH-4 of
    # anyone who can reach the port would make the metric's series unbounded
    # (a message answered "resend" for a reason of the service's own was matched, after
    # its sender was checked)
    failed = outcome.transient and outcome.resend_reason is None
    unchecked = failed or outcome.code is RejectionCode.UNKNOWN_SOURCE
    label = "unknown" if unchecked else source
    child = metrics.child
    child(metrics.received, channel, label).inc(count)
    if outcome.resend_reason is not None:  # not the sender's doing, nor a failure: a wait
        child(metrics.resend_asked, channel, outcome.resend_reason.value).inc(count)
    elif outcome.accepted:
        child(metrics.accepted, channel, label).inc(count)
        # looked up even at 0: a sender's series exists from its first accepted message, so
        # increase() sees its first message about a patient not enrolled (the share alert)
        unmatched = child(metrics.unmatched, channel, label)
        for part in outcome.parts or (outcome,):  # a transaction's messages, one by one
            if part.duplicate:
                child(metrics.duplicates, channel).inc()
            if not part.enrolled:
                unmatched.inc()
        for counter, counted in (
            (metrics.results, outcome.results), (metrics.cancelled, outcome.cancelled),
            (metrics.not_obtained, outcome.not_obtained), (metrics.limits, outcome.limits),
        ):  # fmt: skip
            if counted:  # each channel's series exists from the start (``LabIngestionMetrics``)
                child(counter, channel).inc(counted)
    else:
        reason = outcome.code.value if outcome.code else _uncoded_reason(outcome)
        child(metrics.rejected, channel, label, reason).inc(count)


def _uncoded_reason(outcome: IngestOutcome) -> str:
    """A failure's reason: "unknown" (nothing stored: an internal error, an outage), or
    ``ANSWER_LOST_REASON`` (stored, its answer lost)."""
    return ANSWER_LOST_REASON if outcome.answer_lost else "unknown"


def timed(metrics: LabIngestionMetrics, channel: Channel, handler: Handler) -> Handler:
    """``handler``, observing the time from the start of each request to its answer as the
    channel's ACK latency: every answer, early ones (401, 403, 413, 503) included."""
    latency = metrics.ack_latency.labels(channel.value)

    async def answer(request: web.Request) -> web.StreamResponse:
        with latency.time():
            return await handler(request)

    answer.__name__ = handler.__name__
    answer.__doc__ = handler.__doc__
    return answer
