"""The shipped monitoring (deploy/): Grafana dashboards and Prometheus alert rules.

Every metric queried is checked against the registries the services really build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.crp_monitor.adapters.metrics import CrpMonitorMetrics
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.outcomes import count_outcome
from services.lab_ingestion.service_layer.commands import IngestOutcome
from shared.metrics import ConsumerMetrics, OutboxMetrics, ReadinessMetrics, new_registry

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana/dashboards").glob("*.json"))
ALERTS = DEPLOY / "prometheus/alerts.yml"
DATASOURCES = DEPLOY / "grafana/provisioning/datasources/prometheus.yml"

# series Prometheus itself makes (per scrape target; per alerting rule)
PROMETHEUS_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}
# what a lab-feed on-call needs alerted, and the metrics each alert must watch
LAB_FEED_ALERTS = {
    "LabSenderRejected": {"lab_messages_rejected_total", "lab_messages_received_total"},
    "LabAckSlow": {"lab_ack_latency_seconds_bucket"},
    "LabTransientFailures": {"lab_messages_rejected_total"},
    "LabNothingAccepted": {"lab_messages_received_total", "lab_messages_accepted_total"},
}
# labels an annotation may quote: bounded codes and names, never a patient's data
QUOTABLE_LABELS = {"service", "instance", "topic", "partition", "reason", "consumer",
                   "dependency", "channel", "source"}  # fmt: skip
SEVERITIES = {"critical", "warning"}
DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")


# --- PromQL: the metric names an expression selects ---------------------------------------
NOT_METRICS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
               "group_right", "offset", "bool", "inf", "nan"}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Identifiers not called as functions, once strings, label matchers, ranges, grouping
    clauses and Grafana variables are taken out."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)
    expr = re.sub(r"\{[^{}]*\}|\[[^\]]*\]|\$\w+", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    return {
        token.group()
        for token in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", expr)
        if token.group() not in NOT_METRICS and not expr[token.end() :].lstrip().startswith("(")
    }


def variable_query_metrics(query: str) -> set[str]:
    label_values = re.fullmatch(r"label_values\(\s*(?:([\w:]+)\s*(\{[^}]*\})?\s*,)?\s*\w+\s*\)",
                                query.strip())  # fmt: skip
    if label_values is None:
        return metric_names(query)
    return {label_values.group(1)} if label_values.group(1) else set()


# --- the registries the services build ----------------------------------------------------
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "info": ("_info",)}


def exposed(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Each metric family's name, with the names of the series it exposes."""
    return {
        family.name: {sample.name for sample in family.samples}
        | {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        for family in registry.collect()
    }


# --- the files ----------------------------------------------------------------------------
def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    panels = [p for top in dashboard["panels"] for p in (top, *top.get("panels", []))]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def dashboard_metrics() -> set[str]:
    names: set[str] = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for expr in dashboard_exprs(dashboard):
            names |= metric_names(expr)
        for variable in dashboard["templating"]["list"]:
            names |= variable_query_metrics(variable["query"]["query"])
    return names


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_each_dashboard_is_valid_grafana_json(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert {"uid", "title", "panels", "schemaVersion", "templating"} <= dashboard.keys()
    datasource = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        x, y, w, h = (panel["gridPos"][key] for key in "xywh")
        assert x >= 0 and w > 0 and h > 0 and x + w <= 24, panel["title"]
        area = {(col, row) for col in range(x, x + w) for row in range(y, y + h)}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        if panel["type"] == "row":
            continue
        targets = panel["targets"]
        assert panel["datasource"]["uid"] == datasource and targets, panel["title"]
        assert len({target["refId"] for target in targets}) == len(targets), panel["title"]
        for target in targets:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval", "__range"}
            assert used <= variables, f"{panel['title']}: undefined variables {used - variables}"
    assert len({json.loads(p.read_text())["uid"] for p in DASHBOARDS}) == len(DASHBOARDS)


def test_the_alert_rules_are_valid_prometheus_rules() -> None:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    assert len({group["name"] for group in groups}) == len(groups)
    rules = [rule for group in groups for rule in group["rules"]]
    assert len({rule["alert"] for rule in rules}) == len(rules), "alert names repeat"
    for rule in rules:
        name = rule["alert"]
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
        assert rule["expr"].count("(") == rule["expr"].count(")"), name
        assert "for" not in rule or DURATION.fullmatch(rule["for"]), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert {"summary", "description"} <= rule["annotations"].keys(), name
        for text in rule["annotations"].values():
            assert text.count("{{") == text.count("}}"), name
            quoted = set(re.findall(r"\$labels\.(\w+)", text))
            assert quoted <= QUOTABLE_LABELS, f"{name} quotes labels {quoted - QUOTABLE_LABELS}"


def test_every_queried_metric_is_one_the_services_expose() -> None:
    registry = new_registry()  # as the runtimes build theirs: lab-ingestion, crp-monitor
    for shared in (ConsumerMetrics, OutboxMetrics, ReadinessMetrics):
        shared(registry, "lab-ingestion")
    LabIngestionMetrics(registry)
    CrpMonitorMetrics(registry)
    known = set().union(*exposed(registry).values()) | PROMETHEUS_SERIES
    for rule in alert_rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"alert {rule['alert']} queries unknown metrics {unknown}"
    unknown = dashboard_metrics() - known
    assert not unknown, f"dashboards query unknown metrics {unknown}"


def test_every_lab_ingestion_metric_is_on_a_dashboard() -> None:
    registry = CollectorRegistry()
    LabIngestionMetrics(registry)
    shown = dashboard_metrics()
    missing = [family for family, names in exposed(registry).items() if not names & shown]
    assert not missing, f"lab-ingestion metrics on no dashboard: {missing}"


def test_the_lab_feed_alerts_exist_and_watch_the_lab_metrics() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    for name, metrics in LAB_FEED_ALERTS.items():
        assert name in rules, f"no alert {name}"
        assert metrics <= metric_names(rules[name]["expr"]), name
        assert "for" in rules[name], f"{name} fires on a single evaluation"


def test_transient_answers_are_counted_under_the_reason_the_alert_selects() -> None:
    registry = CollectorRegistry()
    metrics = LabIngestionMetrics(registry)
    count_outcome(metrics, "mllp", "LAB^HOSP", IngestOutcome(accepted=False, transient=True))
    [rejected] = [
        sample for family in registry.collect() for sample in family.samples
        if sample.name == "lab_messages_rejected_total"
    ]  # fmt: skip
    expr = {rule["alert"]: rule["expr"] for rule in alert_rules()}["LabTransientFailures"]
    assert f'reason="{rejected.labels["reason"]}"' in expr


def test_the_batch_duration_queries_group_by_labels_the_histogram_has() -> None:
    """cachexia_handler_duration_seconds is labelled by consumer (the consumer's name, as
    the batch processor gives it), not by handler: a query grouping by a label the series
    lack shows one line per service and an alert naming nothing."""
    registry = CollectorRegistry()
    ConsumerMetrics(registry, "crp-monitor").time_batch("crp-monitor").observe(0.01)
    [family] = [f for f in registry.collect() if f.name == "cachexia_handler_duration_seconds"]
    labels = {name for sample in family.samples for name in sample.labels}
    assert labels == {"service", "consumer", "le"}
    exprs = [rule["expr"] for rule in alert_rules()] + [
        expr for path in DASHBOARDS for expr in dashboard_exprs(json.loads(path.read_text()))
    ]
    queries = [expr for expr in exprs if "cachexia_handler_duration_seconds" in expr]
    assert queries
    for expr in queries:
        for grouping in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            grouped = {label.strip() for label in grouping.split(",")}
            assert grouped <= labels, f"{expr} groups by {grouped - labels}"
    [slow] = [rule for rule in alert_rules() if rule["alert"] == "CachexiaHandlerSlow"]
    for text in slow["annotations"].values():
        assert set(re.findall(r"\$labels\.(\w+)", text)) <= labels
