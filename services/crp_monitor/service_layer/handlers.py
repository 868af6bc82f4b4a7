"""Handlers of the events crp-monitor consumes. Each runs inside the batch's unit of work."""

from __future__ import annotations

from typing import Any

from services.crp_monitor.domain.model import (
    RESULT_OF_ANOTHER_SUBJECT,
    SUPERSEDES_ITSELF,
    CancellationNoted,
    CancellationOutcome,
    CrpCancellation,
    CrpMeasurement,
)
from shared.contracts.base import EventPayload
from shared.contracts.envelope import Envelope
from shared.contracts.events.lab import Analyte, LabResultCancelled, LabResultRecorded
from shared.messaging.handling import EventHandler, PoisonMessage
from shared.subject_handlers import SUBJECT_HANDLERS


async def record_lab_result(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
    """Buffer the subject's CRP result. Whose result a correction names is checked as the
    buffer is written, in the batch's one statement (``CrpSeriesRepository.flush``): one of
    another subject's result is dead-lettered (result-of-another-subject), like a
    cancellation of one. One naming itself is dead-lettered (supersedes-itself): stored, it
    would supersede itself and stand in no series."""
    assert isinstance(payload, LabResultRecorded)
    if payload.analyte is not Analyte.CRP:
        return
    if envelope.subject_id is None:
        raise PoisonMessage("missing-subject", "a lab result without subject_id")
    if payload.unit != "mg/L":
        raise PoisonMessage("non-canonical-unit", "CRP in another unit than mg/L")
    measurement = CrpMeasurement(
        result_id=payload.result_id,
        subject_id=envelope.subject_id,
        value_mg_l=payload.value,
        comparator=payload.comparator,  # set: value_mg_l is a limit, not a measurement
        collected_at=payload.collected_at,
        status=payload.status.value,
        supersedes_result_id=payload.supersedes_result_id,
    )
    if measurement.supersedes_itself:
        raise PoisonMessage(SUPERSEDES_ITSELF, "a correction naming its own result_id")
    await uow.crp.add(measurement, envelope.event_id)


async def cancel_lab_result(uow: Any, envelope: Envelope, payload: EventPayload) -> None:
    """Cancel the subject's result; one not stored yet is kept until it arrives (a topic
    re-published after a broker restart, or a replay, can deliver the cancellation first)."""
    assert isinstance(payload, LabResultCancelled)
    if payload.analyte is not Analyte.CRP:
        return
    if envelope.subject_id is None:
        raise PoisonMessage("missing-subject", "a lab result cancellation without subject_id")
    cancellation = CrpCancellation(
        result_id=payload.cancelled_result_id,
        subject_id=envelope.subject_id,
        cancelled_at=envelope.occurred_at,
        event_id=envelope.event_id,
    )
    outcome = await _cancel(uow, cancellation)
    uow.note(CancellationNoted.of(outcome, cancellation))


async def _cancel(uow: Any, cancellation: CrpCancellation) -> CancellationOutcome:
    await uow.flush()  # the result may be among the buffered ones
    if await uow.crp.cancel(cancellation):
        return CancellationOutcome.APPLIED
    owner = await uow.crp.subject_of(cancellation.result_id)
    if owner is None:
        if await uow.crp.was_refused(cancellation.result_id):
            return CancellationOutcome.REFUSED_RESULT
        await uow.crp.keep_pending(cancellation)
        return CancellationOutcome.PENDING
    if owner != cancellation.subject_id:
        raise PoisonMessage(
            RESULT_OF_ANOTHER_SUBJECT,
            "the cancelled result belongs to another subject than the event's subject_id",
        )
    return CancellationOutcome.REPEATED


HANDLERS: dict[str, EventHandler] = {
    LabResultRecorded.event_type: record_lab_result,
    LabResultCancelled.event_type: cancel_lab_result,
    **SUBJECT_HANDLERS,
}
