"""Counting what happened to each inbound message."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.outcomes import count_outcome
from services.lab_ingestion.service_layer.commands import IngestOutcome


def test_a_transactions_messages_are_counted_one_by_one() -> None:
    """A FHIR transaction is one input, but its duplicates and patients not enrolled are
    each counted, as they would be sent one by one."""
    registry = CollectorRegistry()
    parts = (
        IngestOutcome(accepted=True, results=1),
        IngestOutcome(accepted=True, duplicate=True),
        IngestOutcome(accepted=True, enrolled=False),
        IngestOutcome(accepted=True, enrolled=False),
    )
    transaction = IngestOutcome(accepted=True, results=1, parts=parts)
    count_outcome(LabIngestionMetrics(registry), "fhir", "lab^FHIR", transaction)
    fhir = {"channel": "fhir"}
    assert registry.get_sample_value("lab_unmatched_patient_total", fhir) == 2
    assert registry.get_sample_value("lab_messages_duplicate_total", fhir) == 1
    assert registry.get_sample_value("lab_results_stored_total", fhir) == 1
