"""crp-monitor's cancellation handler against a hand-written repository, and how its
outcomes are logged and counted."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.crp_monitor.adapters.metrics import CrpMonitorMetrics
from services.crp_monitor.domain.model import (
    CancellationNoted,
    CancellationOutcome,
    CrpCancellation,
)
from services.crp_monitor.service_layer.handlers import cancel_lab_result
from services.crp_monitor.service_layer.reporting import report_cancellations
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events.lab import Analyte, LabResultCancelled
from shared.messaging.handling import PoisonMessage
from tests.factories import crp_cancelled


class FakeCrp:
    """Stored results by id (subject, cancelled); cancellations kept for later."""

    def __init__(
        self,
        stored: dict[uuid.UUID, tuple[str, bool]] | None = None,
        refused: set[uuid.UUID] | None = None,
    ) -> None:
        self.stored = dict(stored or {})
        self.refused = set(refused or ())
        self.kept: list[CrpCancellation] = []

    async def cancel(self, cancellation: CrpCancellation) -> bool:
        subject_id, cancelled = self.stored.get(cancellation.result_id, ("", True))
        if cancelled or subject_id != cancellation.subject_id:
            return False
        self.stored[cancellation.result_id] = (subject_id, True)
        return True

    async def subject_of(self, result_id: uuid.UUID) -> str | None:
        stored = self.stored.get(result_id)
        return stored[0] if stored else None

    async def keep_pending(self, cancellation: CrpCancellation) -> None:
        self.kept.append(cancellation)

    async def was_refused(self, result_id: uuid.UUID) -> bool:
        return result_id in self.refused


class FakeUow:
    def __init__(self, crp: FakeCrp) -> None:
        self.crp = crp
        self.noted: list[CancellationNoted] = []
        self.flushed = 0

    def note(self, noted: CancellationNoted) -> None:
        self.noted.append(noted)

    async def flush(self) -> None:
        """Writes the buffered results (the cancelled one may be among them)."""
        self.flushed += 1


async def _cancel(uow: FakeUow, envelope: Envelope) -> None:
    payload = LabResultCancelled.model_validate(envelope.payload)
    await cancel_lab_result(uow, envelope, payload)


async def test_a_cancellation_of_a_result_not_stored_yet_is_kept_not_dropped() -> None:
    result_id = uuid.uuid4()
    uow = FakeUow(FakeCrp())
    envelope = crp_cancelled("S-1", result_id)
    await _cancel(uow, envelope)
    assert uow.crp.kept == [
        CrpCancellation(result_id, "S-1", envelope.occurred_at, envelope.event_id)
    ]
    assert [n.outcome for n in uow.noted] == [CancellationOutcome.PENDING]


async def test_a_cancellation_of_a_refused_correction_withdraws_nothing_and_waits_for_nothing() -> (
    None
):
    result_id = uuid.uuid4()
    uow = FakeUow(FakeCrp(refused={result_id}))
    await _cancel(uow, crp_cancelled("S-1", result_id))
    assert uow.crp.kept == []  # its result will never come: not kept waiting for it
    assert [n.outcome for n in uow.noted] == [CancellationOutcome.REFUSED_RESULT]


async def test_a_cancellation_of_another_subjects_result_is_poison_and_changes_nothing() -> None:
    result_id = uuid.uuid4()
    uow = FakeUow(FakeCrp({result_id: ("S-A", False)}))
    with pytest.raises(PoisonMessage) as raised:
        await _cancel(uow, crp_cancelled("S-B", result_id))
    assert raised.value.reason_code == "result-of-another-subject"
    assert uow.crp.stored[result_id] == ("S-A", False) and not uow.crp.kept
    assert uow.noted == []


@pytest.mark.parametrize(
    ("cancelled", "outcome"),
    [(False, CancellationOutcome.APPLIED), (True, CancellationOutcome.REPEATED)],
)
async def test_a_cancellation_of_the_subjects_stored_result_is_applied_once(
    cancelled: bool, outcome: CancellationOutcome
) -> None:
    result_id = uuid.uuid4()
    uow = FakeUow(FakeCrp({result_id: ("S-1", cancelled)}))
    await _cancel(uow, crp_cancelled("S-1", result_id))
    assert uow.crp.stored[result_id] == ("S-1", True)
    assert [n.outcome for n in uow.noted] == [outcome] and not uow.crp.kept
    assert uow.flushed == 1  # the buffered results written first: the result may be one


async def test_a_cancellation_of_another_analyte_is_ignored() -> None:
    payload = LabResultCancelled(
        result_id=uuid.uuid4(), cancelled_result_id=uuid.uuid4(), analyte=Analyte.ALT,
        reason="deleted", source="LAB^HOSP",
    )  # fmt: skip
    uow = FakeUow(FakeCrp())
    envelope = make_envelope(payload, producer="lab-ingestion", subject_id="S-1")
    await cancel_lab_result(uow, envelope, payload)
    assert uow.noted == [] and not uow.crp.kept


def test_outcomes_are_counted_and_logged_by_ids_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    registry = CollectorRegistry()
    metrics = CrpMonitorMetrics(registry)
    for outcome in CancellationOutcome:  # every series is exported from the start
        assert _count(registry, outcome) == 0
    noted = [
        CancellationNoted(outcome, uuid.uuid4(), "S-1", uuid.uuid4())
        for outcome in (CancellationOutcome.PENDING, CancellationOutcome.OTHER_SUBJECT)
    ]
    report_cancellations(metrics.count_cancellation, noted)
    assert _count(registry, CancellationOutcome.PENDING) == 1
    assert _count(registry, CancellationOutcome.OTHER_SUBJECT) == 1
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.ERROR]
    for record, note in zip(caplog.records, noted, strict=True):
        fields: dict[str, Any] = record.__dict__
        assert fields["result_id"] == str(note.result_id)
        assert fields["event_id"] == str(note.event_id) and fields["subject_id"] == "S-1"


def _count(registry: CollectorRegistry, outcome: CancellationOutcome) -> float | None:
    return registry.get_sample_value("crp_cancellations_total", {"outcome": outcome.value})
