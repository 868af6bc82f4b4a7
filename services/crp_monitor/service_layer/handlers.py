"""Handlers of the events crp-monitor consumes. Each runs inside the batch's unit of work."""

from __future__ import annotations

from typing import Any

from services.crp_monitor.domain.model import CrpMeasurement
from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope
from shared.contracts.events.lab import Analyte, LabResultCancelled, LabResultRecorded
from shared.messaging.processing import EventHandler, PoisonMessage
from shared.subjects import SUBJECT_HANDLERS


async def record_lab_result(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, LabResultRecorded)
    if payload.analyte is not Analyte.CRP:
        return
    if envelope.subject_id is None:
        raise PoisonMessage("missing-subject", "a lab result without subject_id")
    if payload.unit != "mg/L":
        raise PoisonMessage("non-canonical-unit", f"CRP in {payload.unit!r}, expected mg/L")
    measurement = CrpMeasurement(
        result_id=payload.result_id,
        subject_id=envelope.subject_id,
        value_mg_l=payload.value,
        collected_at=payload.collected_at,
        status=payload.status.value,
        supersedes_result_id=payload.supersedes_result_id,
    )
    await uow.crp.add(measurement, envelope.event_id)


async def cancel_lab_result(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, LabResultCancelled)
    if payload.analyte is Analyte.CRP:
        await uow.crp.cancel(payload.cancelled_result_id, envelope.occurred_at)


HANDLERS: dict[str, EventHandler] = {
    LabResultRecorded.event_type: record_lab_result,
    LabResultCancelled.event_type: cancel_lab_result,
    **SUBJECT_HANDLERS,
}
