"""Counting what happened to each inbound message."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
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
    from_sender = {**fhir, "source": "lab^FHIR"}
    assert registry.get_sample_value("lab_unmatched_patient_total", from_sender) == 2
    assert registry.get_sample_value("lab_messages_duplicate_total", fhir) == 1
    assert registry.get_sample_value("lab_results_stored_total", fhir) == 1


def test_patients_not_enrolled_are_counted_per_sender_from_its_first_message() -> None:
    """Review 149: lab_unmatched_patient_total had only a channel label, so one sender whose
    results suddenly all name patients not enrolled (a changed MRN assigning authority) hid
    among the others. Its series is shown at 0 from the sender's first accepted message, so
    increase() sees the first message about a patient not enrolled."""
    registry = CollectorRegistry()
    metrics = LabIngestionMetrics(registry)
    count_outcome(metrics, "mllp", "LIS^HOSP", IngestOutcome(accepted=True, results=1))
    lis = {"channel": "mllp", "source": "LIS^HOSP"}
    assert registry.get_sample_value("lab_unmatched_patient_total", lis) == 0
    count_outcome(metrics, "mllp", "LIS^CLINIC", IngestOutcome(accepted=True, enrolled=False))
    clinic = {"channel": "mllp", "source": "LIS^CLINIC"}
    assert registry.get_sample_value("lab_unmatched_patient_total", clinic) == 1
    assert registry.get_sample_value("lab_unmatched_patient_total", lis) == 0
    # a sender not checked against the allow-list is never a label (it is never accepted)
    unknown = IngestOutcome(accepted=False, code=RejectionCode.UNKNOWN_SOURCE)
    count_outcome(metrics, "mllp", "ANY^ONE", unknown)
    sources = {
        sample.labels["source"]
        for family in registry.collect() for sample in family.samples
        if sample.name == "lab_unmatched_patient_total"
    }  # fmt: skip
    assert sources == {"LIS^HOSP", "LIS^CLINIC"}
