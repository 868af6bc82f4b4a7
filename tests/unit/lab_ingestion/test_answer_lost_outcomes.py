"""Review 110 (1): a batch stored with its commit's answer lost, what was stored not known
here (``CommitAnswerLost``), is answered as stored (resend to learn what), never "nothing was
stored", and counted under its own bounded reason, never as an outage ("unknown")."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.hl7_ack import MSA3_LENGTH
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints import fhir_responses as fhir
from services.lab_ingestion.entrypoints.outcomes import (
    ANSWER_LOST_REASON,
    ANSWER_LOST_TEXT,
    count_outcome,
    failed_outcome,
)
from services.lab_ingestion.service_layer.group_commit import CommitAnswerLost

NOTHING = "temporary internal error; nothing was stored, resend"


def test_a_lost_answer_is_answered_stored_and_resend() -> None:
    outcome = failed_outcome(CommitAnswerLost(), NOTHING)
    assert outcome.transient and outcome.answer_lost and not outcome.accepted
    assert outcome.reason == ANSWER_LOST_TEXT and "nothing" not in ANSWER_LOST_TEXT
    assert len(ANSWER_LOST_TEXT) <= MSA3_LENGTH  # MSA-3 whole, never cut


@pytest.mark.parametrize("error", [RuntimeError("x"), ConnectionResetError(), TimeoutError()])
def test_any_other_failure_stored_nothing(error: Exception) -> None:
    outcome = failed_outcome(error, NOTHING)
    assert outcome.transient and not outcome.answer_lost and outcome.reason == NOTHING


def rejected(registry: CollectorRegistry, reason: str) -> float:
    value = registry.get_sample_value(
        "lab_messages_rejected_total", {"channel": "mllp", "source": "unknown", "reason": reason}
    )
    return value or 0.0


def test_a_lost_answer_is_counted_apart_from_an_outage() -> None:
    registry = CollectorRegistry()
    metrics = LabIngestionMetrics(registry)
    count_outcome(metrics, "mllp", "LIS^HOSP", failed_outcome(CommitAnswerLost(), NOTHING))
    count_outcome(metrics, "mllp", "LIS^HOSP", failed_outcome(RuntimeError(), NOTHING))
    assert rejected(registry, ANSWER_LOST_REASON) == 1
    assert rejected(registry, "unknown") == 1


def test_what_a_503_says_was_stored() -> None:
    lost, nothing = failed_outcome(CommitAnswerLost(), ""), failed_outcome(RuntimeError(), "")
    assert fhir.transient_text([]) == fhir.TRANSIENT_TEXT
    assert fhir.transient_text([nothing, nothing]) == fhir.TRANSIENT_TEXT
    assert fhir.transient_text([lost, lost]) == ANSWER_LOST_TEXT
    assert fhir.transient_text([lost, nothing]) == fhir.PARTLY_LOST_TEXT
