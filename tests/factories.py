"""Builders of valid events for tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from shared.contracts.envelope import Envelope, make_envelope, utc_now
from shared.contracts.events.lab import (
    Analyte,
    Channel,
    Comparator,
    LabResultCancelled,
    LabResultRecorded,
    ResultStatus,
)
from shared.contracts.events.trial import SubjectEnrolled


def subject_enrolled(subject_id: str) -> Envelope:
    payload = SubjectEnrolled(
        site_id="CH-01",
        site_timezone="Europe/Zurich",
        hospital_id_hmac=hashlib.sha256(subject_id.encode()).hexdigest(),
        enrolled_at=utc_now(),
        day1=dt.date(2026, 11, 2),
    )
    return make_envelope(payload, producer="dose-decision", subject_id=subject_id)


def crp_result(
    subject_id: str,
    value: float,
    *,
    supersedes: uuid.UUID | None = None,
    comparator: Comparator | None = None,
    result_id: uuid.UUID | None = None,
    collected_at: dt.datetime | None = None,
) -> Envelope:
    """``comparator``: a censored value (``value`` is the limit the lab reported).
    ``result_id`` and ``collected_at``: a random id, and two hours ago, unless given."""
    payload = LabResultRecorded(
        result_id=uuid.uuid4() if result_id is None else result_id,
        analyte=Analyte.CRP,
        loinc="1988-5",
        value=value,
        comparator=comparator,
        unit="mg/L",
        original_value=f"{comparator or ''}{value}",
        original_unit="mg/L",
        status=ResultStatus.CORRECTED if supersedes else ResultStatus.FINAL,
        supersedes_result_id=supersedes,
        collected_at=utc_now() - dt.timedelta(hours=2) if collected_at is None else collected_at,
        source="LAB^HOSP",
        channel=Channel.MLLP,
    )
    return make_envelope(payload, producer="lab-ingestion", subject_id=subject_id)


def crp_cancelled(subject_id: str, cancelled: uuid.UUID) -> Envelope:
    payload = LabResultCancelled(
        result_id=uuid.uuid4(),
        cancelled_result_id=cancelled,
        analyte=Analyte.CRP,
        reason="deleted",
        source="LAB^HOSP",
    )
    return make_envelope(payload, producer="lab-ingestion", subject_id=subject_id)
