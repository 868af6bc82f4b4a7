"""Enrolments read late while results were discarded as not enrolled (review 63): reported,
never silent. Nothing of a patient not enrolled is kept, so the discards are counted by minute
only, and a late enrolment with discards in between asks for that subject's results again."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.lab_ingestion.service_layer.ingest import BatchIngestor
from services.lab_ingestion.service_layer.late_enrolments import (
    LATE_AFTER_SECONDS,
    DiscardClock,
    enrolment_reader,
)
from shared.contracts.envelope import utc_now
from shared.contracts.events.trial import SubjectEnrolled
from shared.subject_handlers import SUBJECT_HANDLERS
from tests.factories import subject_enrolled
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, FakeUnitOfWork, message
from tests.unit.test_batch_processor import SUBJECTS, Offsets, processor
from tests.unit.test_batch_processor import FakeUnitOfWork as FakeConsumerUnitOfWork

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at.timestamp()


def clock_at(at: datetime) -> tuple[Clock, DiscardClock]:
    clock = Clock(at)
    return clock, DiscardClock(clock)


def test_discards_are_counted_from_a_minute_on() -> None:
    clock, discards = clock_at(NOW - timedelta(hours=1))
    discards.note(2)
    clock.at = NOW - timedelta(minutes=10)
    discards.note()
    discards.note(0)
    clock.at = NOW
    assert discards.since(NOW - timedelta(minutes=30)) == 1
    assert discards.since(NOW - timedelta(minutes=10, seconds=-20)) == 1  # its minute counts
    assert discards.since(NOW - timedelta(minutes=5)) == 0
    assert discards.since(NOW - timedelta(minutes=59, seconds=59)) == 3


def test_discards_are_known_from_this_process_on_and_for_a_week() -> None:
    clock, discards = clock_at(NOW - timedelta(days=8))
    assert discards.since(NOW - timedelta(days=9)) == 0
    discards.note()
    clock.at = NOW
    discards.note(2)
    assert discards.since(NOW - timedelta(days=9)) == 2  # the first is beyond the week kept
    assert discards.since(NOW - timedelta(days=6)) == 2


def test_a_week_of_minutes_at_most_is_kept() -> None:
    clock, discards = clock_at(NOW)
    for minute in range(8 * 24 * 60):
        clock.at = NOW + timedelta(minutes=minute)
        discards.note()
    assert len(discards._minutes) == 7 * 24 * 60 + 1


class Directory:
    def __init__(self) -> None:
        self.enrolled: list[str] = []

    async def enrol(self, subject_id: str, enrolled: SubjectEnrolled) -> None:
        self.enrolled.append(subject_id)


class Uow:
    def __init__(self) -> None:
        self.subjects = Directory()


async def read(recorded_ago: timedelta, discards: DiscardClock) -> tuple[Uow, list[int], datetime]:
    late: list[int] = []
    handler = enrolment_reader(discards, lambda: late.append(1), now=lambda: NOW)
    envelope = subject_enrolled("S-0042")
    envelope = envelope.model_copy(update={"recorded_at": NOW - recorded_ago})
    uow = Uow()
    payload = SubjectEnrolled.model_validate(envelope.payload)
    await handler(uow, envelope, payload)
    return uow, late, envelope.recorded_at


async def test_an_enrolment_read_late_with_discards_meanwhile_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, discards = clock_at(NOW - timedelta(hours=2))
    clock.at = NOW - timedelta(minutes=30)
    discards.note(5)  # a result of the subject may be among them
    clock.at = NOW
    with caplog.at_level(logging.WARNING):
        uow, late, recorded_at = await read(timedelta(hours=1), discards)
    assert uow.subjects.enrolled == ["S-0042"]  # kept as every service keeps it
    assert late == [1]
    (record,) = caplog.records
    fields: dict[str, Any] = record.__dict__
    assert "resend this subject's results" in record.getMessage()
    assert (fields["subject_id"], fields["site_id"], fields["discarded_meanwhile"]) == (
        "S-0042", "CH-01", 5,
    )  # fmt: skip
    assert fields["recorded_at"] == recorded_at.isoformat()
    assert fields["late_seconds"] == 3600.0


@pytest.mark.parametrize(
    ("recorded_ago", "discarded"),
    [
        (timedelta(seconds=LATE_AFTER_SECONDS), 5),  # on time: the directory trails a little
        (timedelta(hours=1), 0),  # late, but nothing was discarded meanwhile
    ],
)
async def test_an_enrolment_on_time_or_without_discards_is_not_reported(
    recorded_ago: timedelta, discarded: int, caplog: pytest.LogCaptureFixture
) -> None:
    clock, discards = clock_at(NOW - timedelta(hours=2))
    clock.at = NOW - timedelta(seconds=10)  # after each enrolment was recorded
    discards.note(discarded)
    clock.at = NOW
    with caplog.at_level(logging.WARNING):
        uow, late, _ = await read(recorded_ago, discards)
    assert uow.subjects.enrolled == ["S-0042"]
    assert late == [] and caplog.records == []


async def test_the_ingestor_tells_how_many_messages_it_discarded_as_not_enrolled() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    told: list[int] = []
    ingest = BatchIngestor(
        lambda: FakeUnitOfWork(db), lambda identifier: f"h({identifier})",
        on_discarded=told.append,
    )  # fmt: skip
    await ingest([message("1", mrn="MRN9"), message("2"), message("3", mrn="MRN8")])
    await ingest([message("4")])  # enrolled: nothing discarded, nothing told
    assert told == [2]


class SubjectsUow(FakeConsumerUnitOfWork):
    def _reset(self) -> None:
        super()._reset()
        self.subjects = Directory()


@pytest.mark.parametrize("failing_commits", [1, 2])
async def test_a_late_enrolment_is_reported_once_whatever_retries_its_batch_took(
    failing_commits: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Review 66: the report is made inside the consumer's transaction, and a batch is
    applied again after a failed commit (or event by event): it was counted and logged once
    per attempt."""
    discards = DiscardClock()
    discards.note(3)
    late: list[int] = []
    reader = enrolment_reader(discards, lambda: late.append(1))
    handlers = {**SUBJECT_HANDLERS, SubjectEnrolled.event_type: reader}
    envelope = subject_enrolled("S-0042")
    envelope = envelope.model_copy(update={"recorded_at": utc_now() - timedelta(seconds=35)})
    uow = SubjectsUow(failing_commits=failing_commits)
    with caplog.at_level(logging.WARNING):
        await processor(uow, CollectorRegistry(), handlers).process_until_done(
            [Offsets()(envelope, SUBJECTS)], lambda: False
        )
    assert uow.commits == 1
    warnings = [r for r in caplog.records if "read late" in r.getMessage()]
    assert (len(late), len(warnings)) == (1, 1)
