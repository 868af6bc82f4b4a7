"""Count what happened to one inbound message (shared by every channel)."""

from __future__ import annotations

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import IngestOutcome

MESSAGE_REJECTIONS = {
    RejectionCode.MALFORMED,
    RejectionCode.UNSUPPORTED_MESSAGE,
    RejectionCode.WRONG_PROCESSING_ID,
    RejectionCode.UNKNOWN_SOURCE,
}


def count_outcome(
    metrics: LabIngestionMetrics, channel: str, source: str, outcome: IngestOutcome
) -> None:
    # a sender not (yet) checked against the allow-list is not a label: MSH-3^MSH-4 of
    # anyone who can reach the port would make the metric's series unbounded
    unchecked = outcome.transient or outcome.code is RejectionCode.UNKNOWN_SOURCE
    label = "unknown" if unchecked else source
    metrics.received.labels(channel, label).inc()
    if outcome.accepted:
        metrics.accepted.labels(channel, label).inc()
        for part in outcome.parts or (outcome,):  # a transaction's messages, one by one
            if part.duplicate:
                metrics.duplicates.labels(channel).inc()
            if not part.enrolled:
                metrics.unmatched.labels(channel).inc()
        metrics.results.labels(channel).inc(outcome.results)
        metrics.cancelled.labels(channel).inc(outcome.cancelled)
    else:
        reason = outcome.code.value if outcome.code else "unknown"
        metrics.rejected.labels(channel, label, reason).inc()
