"""The events lab-ingestion emits, built from what it stored (no PHI in any of them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.lab_ingestion.domain.model import ResultStatusCode
from services.lab_ingestion.domain.records import RejectionRecord, ResultRecord
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events.lab import (
    Analyte,
    Channel,
    LabMessageRejected,
    LabResultCancelled,
    LabResultRecorded,
    ResultStatus,
)

PRODUCER = "lab-ingestion"


def _utc(moment: datetime) -> datetime:
    """A time in UTC, whichever offset the sender wrote it with: the same sample reads the
    same in every channel's event (HL7's times are read as UTC, FHIR's and JSON's kept
    their offset), and a consumer taking its calendar date gets one answer."""
    return moment.astimezone(UTC)


def _status(record: ResultRecord) -> ResultStatus:
    """The event's status, refusing to publish a result whose status and superseded result
    disagree. The contract still reads such events (lab-ingestion published them before
    2026-12-03) and consumers act on ``supersedes_result_id`` whatever the status: only a
    correction replaces a result (HL7 table 0085), and it always names the one it does."""
    corrected = record.status == "C"
    if corrected != (record.supersedes_result_id is not None):
        said = "names no result it supersedes" if corrected else "supersedes a result"
        raise ValueError(f"a {'corrected' if corrected else 'final'} result {said}")
    return ResultStatus.CORRECTED if corrected else ResultStatus.FINAL


def recorded_event(record: ResultRecord, channel: Channel) -> Envelope:
    result = record.result
    status = _status(record)
    payload = LabResultRecorded(
        result_id=record.result_id,
        analyte=result.analyte,
        loinc=result.loinc,
        value=result.value,
        unit=result.unit,
        original_value=result.original_value[:64],
        original_unit=result.original_unit[:64],
        reference_low=result.reference_low,
        reference_high=result.reference_high,
        abnormal_flag=(result.abnormal_flag or None) and result.abnormal_flag[:10],
        status=status,
        supersedes_result_id=record.supersedes_result_id,
        collected_at=_utc(record.collected_at),
        reported_at=_utc(record.reported_at) if record.reported_at else None,
        source=record.source[:100],
        channel=channel,
        laboratory_comment=result.laboratory_comment,
        comparator=result.comparator,
    )
    return make_envelope(
        payload, producer=PRODUCER, subject_id=record.subject_id,
        occurred_at=_utc(record.collected_at),
        correlation_id=record.message_id,
    )  # fmt: skip


def cancelled_event(
    subject_id: str,
    cancelled: uuid.UUID,
    analyte: Analyte,
    status: str,
    source: str,
    *,
    message_id: uuid.UUID,
) -> Envelope:
    # a result posted as wrong (W) is withdrawn from the record as a deleted one (D) is
    withdrawn = (ResultStatusCode.DELETED.value, ResultStatusCode.POSTED_AS_WRONG.value)
    reason = "deleted" if status in withdrawn else "cannot-be-obtained"
    payload = LabResultCancelled(
        result_id=uuid.uuid4(),
        cancelled_result_id=cancelled,
        analyte=analyte,
        reason=reason,
        source=source[:100],
    )
    return make_envelope(
        payload, producer=PRODUCER, subject_id=subject_id, correlation_id=message_id
    )


def rejected_event(record: RejectionRecord) -> Envelope:
    payload = LabMessageRejected(
        rejection_id=record.rejection_id,
        channel=Channel(record.channel),
        source=record.source[:100] if record.source else None,
        # no sender's id: labs build them from names and birth dates (``stored_ids``)
        message_control_id=None,
        reason_code=record.code.value,
        reason=record.reason[:500],
        received_at=record.received_at,
    )
    # the event's id follows from the rejection's: emitted once however often it is written
    event_id = uuid.uuid5(record.rejection_id, "lab.rejected.v1")
    return make_envelope(
        payload, producer=PRODUCER, subject_id=None, event_id=event_id,
        correlation_id=record.rejection_id,
    )  # fmt: skip
