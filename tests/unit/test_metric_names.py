"""Metric names end in a unit (shared/metrics.py's docstring), but for the exceptions it
documents with their reason."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

import shared.metrics
from services.crp_monitor.adapters.metrics import CrpMonitorMetrics
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from shared.metrics import ConsumerMetrics, OutboxMetrics, ProtocolMetrics, ReadinessMetrics

UNITS = ("_total", "_seconds", "_bytes", "_events", "_messages", "_connections")
# a 0/1 gauge; operators use the name; an info metric (see the module's docstring)
DOCUMENTED_EXCEPTIONS = {"cachexia_ready", "cachexia_protocol_info"}


def exposed_names() -> set[str]:
    registry = CollectorRegistry()
    for metrics in (ConsumerMetrics, OutboxMetrics, ReadinessMetrics):
        metrics(registry, "test")
    ProtocolMetrics(registry, "test", "LENA-CCS-1")
    LabIngestionMetrics(registry)
    CrpMonitorMetrics(registry)
    return {
        family.name + ("_total" if family.type == "counter" else "")
        for family in registry.collect()
    }


def test_every_metric_name_ends_in_a_unit_or_is_a_documented_exception() -> None:
    names = exposed_names()
    odd = {name for name in names if not name.endswith(UNITS)}
    assert odd == DOCUMENTED_EXCEPTIONS


def test_each_exception_is_named_in_the_metrics_docstring() -> None:
    doc = shared.metrics.__doc__ or ""
    for name in DOCUMENTED_EXCEPTIONS:
        assert f"``{name}``" in doc
