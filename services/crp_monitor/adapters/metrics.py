"""crp-monitor's own metrics, built from the injected registry (README: What runs where).

The consumer's metrics (events consumed, applied, dead-lettered) are the platform's,
``shared.metrics.ConsumerMetrics``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.crp_monitor.domain.model import CancellationOutcome


class CrpMonitorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.cancellations = Counter(
            "crp_cancellations_total",
            "CRP result cancellations applied, by outcome (pending: read before its result "
            "and kept; applied-on-arrival: a pending one applied as its result arrived; "
            "other-subject: a pending one whose result arrived under another subject)",
            ["outcome"], registry=registry,
        )  # fmt: skip
        for outcome in CancellationOutcome:  # every series exists from the start, at 0
            self.cancellations.labels(outcome.value)
        self.corrections_of_another_subject = Counter(
            "crp_corrections_of_another_subject_total",
            "CRP corrections stored under one subject whose corrected result then arrived "
            "under another: they stand in no series (one read after its result is "
            "dead-lettered instead, result-of-another-subject)",
            registry=registry,
        )
        self.pending = Gauge(
            "crp_pending_cancellations_events",
            "CRP cancellations read before their result, kept until it arrives (as last read)",
            registry=registry,
        )
        self.oldest_pending = Gauge(
            "crp_oldest_pending_cancellation_age_seconds",
            "How long the oldest kept cancellation has waited for its result (0: none waits)",
            registry=registry,
        )

    def show_pending(self, count: int, oldest_age_seconds: float) -> None:
        self.pending.set(count)
        self.oldest_pending.set(oldest_age_seconds)

    def count_cancellation(self, outcome: CancellationOutcome) -> None:
        self.cancellations.labels(outcome.value).inc()

    def count_correction_of_another_subject(self) -> None:
        self.corrections_of_another_subject.inc()
