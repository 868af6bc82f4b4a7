"""Prometheus metrics, one object per component, each built from an injected registry.

Names end in ``_total`` (counters), ``_seconds`` (durations, ages) or ``_bytes``; gauges that
count things carry the unit in the name (``_events``, ``_messages``, ``_connections``). Two
names are exceptions: ``cachexia_ready`` (a 0/1 gauge per dependency, 1 when it answers) has
no unit to end in, and ``_ready_total`` or ``_ready_bool`` would misname it; operators'
dashboards, the alerts (``CachexiaNotReady``) and probes use it under this name, so it is
kept. And ``cachexia_protocol_info`` (always 1) names in its ``version`` label the trial
protocol version whose parameters the service applies: an info metric, named as Prometheus
names them. Labels are few and bounded: service, topic, partition, reason code, consumer,
dependency, protocol version.
"""

from __future__ import annotations

import contextlib
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


Metric = TypeVar("Metric", Counter, Gauge, Histogram)


class LabelledChildren:
    """Each metric's child per label values, looked up once. prometheus_client's ``labels``
    takes a lock and rebuilds the child's key on every call (about 2 us, four times the
    ``inc`` itself), which a hot path pays per message. Bounded as the labels are."""

    def __init__(self) -> None:
        self._children: dict[tuple[int, tuple[str, ...]], object] = {}

    def of(self, metric: Metric, *values: str) -> Metric:
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child  # type: ignore[return-value]  # stored as metric.labels(*values) made it


def new_registry() -> CollectorRegistry:
    """A registry with the process collector (RSS, CPU, open files) registered."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    return registry


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self._service = service
        self.consumed = Counter(
            "cachexia_events_consumed_total", "Events read from Kafka",
            ["service", "topic"], registry=registry,
        )  # fmt: skip
        self.applied = Counter(
            "cachexia_events_applied_total", "Events applied by a handler",
            ["service", "topic"], registry=registry,
        )  # fmt: skip
        self.duplicates = Counter(
            "cachexia_events_duplicate_total", "Events dropped by the inbox as already applied",
            ["service", "topic"], registry=registry,
        )  # fmt: skip
        self.failed = Counter(
            "cachexia_events_failed_total", "Events that could not be processed",
            ["service", "topic", "reason"], registry=registry,
        )  # fmt: skip
        self.dead_letters = Counter(
            "cachexia_dead_letters_total",
            "Messages stored in dead_letters and announced on the dead-letter topic (reason "
            "dead-letter-not-stored: could not be stored and was skipped; see the log)",
            ["service", "topic", "reason"], registry=registry,
        )  # fmt: skip
        self.batch_retries = Counter(
            "cachexia_batch_retries_total", "Batches retried after a transient error",
            ["service"], registry=registry,
        )  # fmt: skip
        # at 0 from the start: increase() misses a series' first sample, and a consumer stuck
        # retrying from its first batch on must alert (CachexiaConsumerRetrying)
        self.batch_retries.labels(service)
        self.handler_duration = Histogram(
            "cachexia_handler_duration_seconds", "Time to apply one batch of events",
            ["service", "consumer"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.lag = Gauge(
            "cachexia_consumer_lag_messages",
            "High-water mark minus the group's committed offset, per assigned partition",
            ["service", "topic", "partition"], registry=registry,
        )  # fmt: skip

    def count_consumed(self, topic: str, n: int = 1) -> None:
        self.consumed.labels(self._service, topic).inc(n)

    def count_applied(self, topic: str) -> None:
        self.applied.labels(self._service, topic).inc()

    def count_duplicate(self, topic: str) -> None:
        self.duplicates.labels(self._service, topic).inc()

    def count_dead_letter(self, topic: str, reason: str) -> None:
        self.failed.labels(self._service, topic, reason).inc()
        self.dead_letters.labels(self._service, topic, reason).inc()

    def count_retry(self) -> None:
        self.batch_retries.labels(self._service).inc()

    def time_batch(self, consumer: str) -> Histogram:
        return self.handler_duration.labels(self._service, consumer)

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        self.lag.labels(self._service, topic, str(partition)).set(max(lag, 0))

    def remove_lag(self, topic: str, partition: int) -> None:
        """Drop the series of a partition this instance no longer reads (revoked)."""
        with contextlib.suppress(KeyError):
            self.lag.remove(self._service, topic, str(partition))


class OutboxMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self._service = service
        self.produced = Counter(
            "cachexia_events_produced_total", "Events published to Kafka by the outbox relay",
            ["service", "topic"], registry=registry,
        )  # fmt: skip
        self.publish_errors = Counter(
            "cachexia_outbox_publish_errors_total", "Failed publish attempts (retried)",
            ["service"], registry=registry,
        )  # fmt: skip
        self.republished = Counter(
            "cachexia_outbox_republished_total", "Events queued again after the broker lost data",
            ["service"], registry=registry,
        )  # fmt: skip
        self.backlog = Gauge(
            "cachexia_outbox_backlog_events", "Events recorded but not yet published",
            ["service"], registry=registry,
        )  # fmt: skip
        self.oldest_age = Gauge(
            "cachexia_outbox_oldest_age_seconds", "Age of the oldest unpublished event",
            ["service"], registry=registry,
        )  # fmt: skip
        self.publish_duration = Histogram(
            "cachexia_outbox_publish_duration_seconds", "Time to publish and mark one batch",
            ["service"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip

    def count_produced(self, topic: str, n: int) -> None:
        self.produced.labels(self._service, topic).inc(n)

    def count_publish_error(self) -> None:
        self.publish_errors.labels(self._service).inc()

    def count_republished(self, n: int) -> None:
        self.republished.labels(self._service).inc(n)

    def set_backlog(self, events: int, oldest_age_seconds: float) -> None:
        self.backlog.labels(self._service).set(events)
        self.oldest_age.labels(self._service).set(oldest_age_seconds)

    def time_publish(self) -> Histogram:
        return self.publish_duration.labels(self._service)


class ReadinessMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self._service = service
        self.ready = Gauge(
            "cachexia_ready",
            "1 when the dependency answers its readiness check (refreshed at each scrape);"
            " started and not_stopping: the service's own start-up and shutdown",
            ["service", "dependency"], registry=registry,
        )  # fmt: skip

    def set_ready(self, dependency: str, ok: bool) -> None:
        self.ready.labels(self._service, dependency).set(1 if ok else 0)


class ProtocolMetrics:
    """``cachexia_protocol_info``: which protocol version's parameters the service applies
    (one sample, 1, set at start; a dashboard joins it to tell which version decided)."""

    def __init__(self, registry: CollectorRegistry, service: str, version: str) -> None:
        self.info = Gauge(
            "cachexia_protocol_info",
            "1, labelled with the trial protocol version whose parameters the service applies",
            ["service", "version"], registry=registry,
        )  # fmt: skip
        self.info.labels(service, version).set(1)
