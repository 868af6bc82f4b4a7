"""Every label an alert rule selects, groups or matches by is one its metric has (review 149).

A misspelt label (``reson!="unknown"``, ``by (..., sender)``) selects or groups nothing, so
the rule never fires, and the metric-name checks of test_deploy_monitoring.py let it pass.
The labels are read from the metric objects the services build, plus those Prometheus adds
to every scraped series (deploy/prometheus/prometheus.yml: ``service``, and ``instance``,
``job``) and ``le`` of a histogram's buckets. Values of the lab rejection reasons are checked
against the codes the service counts.
"""

from __future__ import annotations

import re

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.crp_monitor.adapters.metrics import CrpMonitorMetrics
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.outcomes import ANSWER_LOST_REASON
from shared.metrics import (
    ConsumerMetrics,
    OutboxMetrics,
    ProtocolMetrics,
    ReadinessMetrics,
    new_registry,
)
from tests.unit.test_deploy_monitoring import ALERTS, PROMETHEUS_SERIES, alert_rules, metric_names

TARGET_LABELS = {"service", "instance", "job"}
REJECTION_REASONS = {code.value for code in RejectionCode} | {"unknown", ANSWER_LOST_REASON}
SELECTOR = re.compile(r"(?<![\w.])([A-Za-z_:][\w:]*)\s*\{([^{}]*)\}")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:\\.|[^"\\])*)"')
GROUPING = re.compile(r"\b(by|without|on|ignoring)\s*\(([^)]*)\)")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _registry() -> CollectorRegistry:
    registry = new_registry()  # as the runtimes build theirs: lab-ingestion, crp-monitor
    for shared in (ConsumerMetrics, OutboxMetrics, ReadinessMetrics):
        shared(registry, "lab-ingestion")
    ProtocolMetrics(registry, "lab-ingestion", "1.0")
    LabIngestionMetrics(registry)
    CrpMonitorMetrics(registry)
    return registry


def metric_labels(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Each series name the registry exposes, with the labels its samples can carry once
    Prometheus scraped them."""
    labels: dict[str, set[str]] = {}
    # prometheus_client keeps the collectors by name and their label names privately; the
    # collected families show a label only once a child exists, which most do not at start
    collectors = set(registry._names_to_collectors.values())  # see above
    for collector in collectors:
        names = set(getattr(collector, "_labelnames", ())) | TARGET_LABELS
        describe = getattr(collector, "describe", None)  # the process collector has none
        for family in describe() if describe is not None else collector.collect():
            for suffix in SUFFIXES.get(family.type, ("",)):
                extra = {"le"} if suffix == "_bucket" else set()
                labels[family.name + suffix] = names | extra
            for sample in family.samples:  # the process collector's, unlabelled
                labels.setdefault(sample.name, set(sample.labels) | TARGET_LABELS)
    for name in PROMETHEUS_SERIES:  # up, and ALERTS: the rule's labels too
        alerts = {"alertname", "alertstate", "severity"} if name.startswith("ALERTS") else set()
        labels[name] = TARGET_LABELS | alerts
    return labels


def _argument(expr: str, start: int) -> str:
    """The parenthesised expression that begins at ``expr[start]`` (its parentheses out)."""
    depth = 0
    for end in range(start, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[end], 0)
        if depth == 0:
            return expr[start + 1 : end]
    raise AssertionError(f"unbalanced: {expr[start:]}")


def label_errors(expr: str, labels: dict[str, set[str]]) -> list[str]:
    """What in ``expr`` names a label its metric lacks, or a rejection reason never counted."""
    errors = []
    for selector in SELECTOR.finditer(expr):
        name, matchers = selector.groups()
        for label, op, value in MATCHER.findall(matchers):
            if name in labels and label not in labels[name]:
                errors.append(f"{name} has no label {label!r}")
            if name == "lab_messages_rejected_total" and label == "reason" and "~" not in op:
                if value not in REJECTION_REASONS:
                    errors.append(f"no rejection reason {value!r}")
            elif name == "lab_messages_rejected_total" and label == "reason":
                unknown = set(value.split("|")) - REJECTION_REASONS
                errors += [f"no rejection reason {reason!r}" for reason in sorted(unknown)]
    everywhere = metric_names(expr)
    for grouping in GROUPING.finditer(expr):
        keyword, names = grouping.group(1), grouping.group(2)
        grouped = {label.strip() for label in names.split(",") if label.strip()}
        rest = expr[grouping.end() :].lstrip()
        if keyword in ("by", "without") and rest.startswith("("):
            inner = metric_names(_argument(rest, 0))  # the aggregation's own argument
        else:  # on/ignoring: both operands must have the labels matched on
            inner = everywhere
        for name in sorted(inner & labels.keys()):
            errors += [
                f"{keyword} {label!r}: {name} lacks it" for label in sorted(grouped - labels[name])
            ]
    return errors


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_label_an_alert_names_is_one_its_metric_has(rule: dict[str, str]) -> None:
    assert label_errors(rule["expr"], metric_labels(_registry())) == []


def test_misspelt_labels_and_reasons_are_caught() -> None:
    """The mutations review 149 made to alerts.yml, each one caught."""
    labels = metric_labels(_registry())
    mutations = [
        "sum by (service, channel, sender) (rate(lab_messages_received_total[10m]))",
        'rate(lab_messages_rejected_total{reson!="unknown"}[10m])',
        'increase(lab_messages_rejected_total{reason="unkown"}[5m]) > 0',
        'increase(lab_messages_rejected_total{reason=~"missing-unit|unconvertable-unit"}[1h])',
        "max by (service, topic, partiton) (cachexia_consumer_lag_messages) > 0",
        "x > 0 unless on (service, topik) sum (rate(cachexia_events_applied_total[5m]))",
        "sum by (channel, le) (rate(lab_commit_duration_seconds_bucket[5m]))",
    ]
    for expr in mutations:
        assert label_errors(expr, labels), expr
    assert ALERTS.exists()


def test_the_rules_file_parses_as_yaml_with_every_rule_checked() -> None:
    rules = yaml.safe_load(ALERTS.read_text())["groups"]
    assert sum(len(group["rules"]) for group in rules) == len(alert_rules())


# review 149: failure modes that raised nothing, and the metrics each alert must watch
FAILURE_ALERTS = {
    "LabResendAnswers": {"lab_messages_rejected_total"},
    "LabNothingCommitted": {"lab_last_commit_timestamp_seconds", "lab_messages_received_total"},
    "LabProcessingFailed": {"lab_messages_rejected_total"},
    "LabSenderResultsRejected": {"lab_messages_rejected_total"},
    "LabSenderSilent": {"lab_messages_received_total"},
    "LabUnmatchedPatientsRising": {"lab_unmatched_patient_total", "lab_messages_accepted_total"},
    "LabMllpInternalErrors": {"lab_mllp_connection_errors_total"},
    "LabMllpConnectionsRefused": {"lab_mllp_connections_refused_total"},
    "LabMllpSendTimeouts": {"lab_mllp_send_timeouts_total"},
    "CachexiaConsumerRetrying": {"cachexia_batch_retries_total"},
    "CachexiaConsumerStalled": {"cachexia_consumer_lag_messages", "cachexia_events_applied_total"},
    "CachexiaPartitionsUnassigned": {"cachexia_consumer_lag_messages"},
    "CachexiaCrashLooping": {"process_start_time_seconds"},
}
# alerts whose condition ends within minutes to an hour of one event: kept shown (there is
# no Alertmanager to hold them)
KEPT_FIRING = {"CachexiaDeadLetters", "LabProcessingFailed", "LabMllpInternalErrors",
               "LabLateEnrolment", "CrpCorrectionOfAnotherSubject"}  # fmt: skip


def test_the_failure_modes_of_review_149_have_alerts_watching_their_metrics() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    for name, metrics in FAILURE_ALERTS.items():
        assert name in rules, f"no alert {name}"
        assert metrics <= metric_names(rules[name]["expr"]), name
    for name in KEPT_FIRING:
        assert "keep_firing_for" in rules[name], name


def test_one_resend_answer_sustained_pages_and_the_runbook_does_not_trust_readiness() -> None:
    """A lab resending every 5 minutes makes one "resend" answer a window: it must be enough
    (LabTransientFailures needs 10). The runbooks must not send on-call to readiness alone,
    and must not promise 5 s retries (measured 0.1 to 3.4 s)."""
    rules = {rule["alert"]: rule for rule in alert_rules()}
    expr = rules["LabResendAnswers"]["expr"]
    assert re.search(
        r'increase\(lab_messages_rejected_total\{reason="unknown"\}\[5m\]\)\) > 0', expr
    )
    assert rules["LabResendAnswers"]["for"] == "3m"
    for name in ("LabTransientFailures", "LabResendAnswers"):
        text = " ".join(rules[name]["annotations"]["description"].split())
        assert "SELECT 1" in text and "lab_last_commit_timestamp_seconds" in text, name
        assert "only after 5 s" not in text, name
    failure_rate = rules["CachexiaFailureRateHigh"]["annotations"]["description"]
    assert "dead letters only" in " ".join(failure_rate.split())


def test_every_lab_sender_alert_groups_by_sender_and_the_unmatched_count_has_it() -> None:
    labels = metric_labels(_registry())
    assert "source" in labels["lab_unmatched_patient_total"]
    rules = {rule["alert"]: rule for rule in alert_rules()}
    for name in ("LabSenderResultsRejected", "LabSenderSilent", "LabUnmatchedPatientsRising",
                 "LabProcessingFailed"):  # fmt: skip
        assert "source" in " ".join(re.findall(r"by \(([^)]*)\)", rules[name]["expr"])), name


def test_any_refused_change_of_a_stored_result_pages_and_lost_results_are_watched() -> None:
    """A correction or cancellation refused leaves the stored value counting for dose
    decisions: any one pages (an order cancelled as a whole, OBR-25 X, is refused
    unknown-result-status), kept shown; results refused for their times or their patient
    are among the per-sender reasons."""
    rules = {rule["alert"]: rule for rule in alert_rules()}
    changes = rules["LabChangeOfAStoredResultRefused"]
    for code in (RejectionCode.UNKNOWN_STATUS, RejectionCode.UNKNOWN_CORRECTED_RESULT,
                 RejectionCode.OTHER_PATIENTS_RESULT, RejectionCode.OTHER_SAMPLES_RESULT,
                 RejectionCode.OTHER_ANALYTES_RESULT):  # fmt: skip
        assert code.value in changes["expr"], code
    assert "> 0" in changes["expr"] and "keep_firing_for" in changes
    assert changes["labels"]["severity"] == "critical"
    for code in (RejectionCode.MISSING_COLLECTION_TIME, RejectionCode.IMPLAUSIBLE_TIME,
                 RejectionCode.AMBIGUOUS_PATIENT):  # fmt: skip
        assert code.value in rules["LabSenderResultsRejected"]["expr"], code
