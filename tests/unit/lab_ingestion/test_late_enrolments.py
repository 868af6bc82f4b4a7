"""Enrolments read after results for their number were discarded as not enrolled (reviews 63,
114): reported, never silent, however soon the enrolment is read. Nothing of a patient not
enrolled is kept: discards are remembered in memory only, by a digest of the number's keyed
hash, bounded; an enrolment read after its own number was discarded since it was recorded asks
for that subject's results again."""

from __future__ import annotations

import hashlib
import logging
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.lab_ingestion.service_layer.ingest import BatchIngestor
from services.lab_ingestion.service_layer.late_enrolments import (
    CLOCK_MARGIN_SECONDS,
    MAX_NUMBERS,
    NONE_DISCARDED,
    Discarded,
    DiscardedNumbers,
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
SUBJECT = "S-0042"
NUMBER = hashlib.sha256(SUBJECT.encode()).hexdigest()  # its enrolment's (``subject_enrolled``)
OTHER = hashlib.sha256(b"another patient").hexdigest()


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at.timestamp()


def clock_at(at: datetime, **kwargs: Any) -> tuple[Clock, DiscardedNumbers]:
    clock = Clock(at)
    return clock, DiscardedNumbers(clock, **kwargs)


def test_discards_are_counted_by_number_from_when_given_on() -> None:
    clock, discards = clock_at(NOW - timedelta(hours=1))
    discards.note([NUMBER, OTHER])
    clock.at = NOW - timedelta(minutes=10)
    discards.note([NUMBER])
    discards.note([])
    clock.at = NOW
    assert discards.since(NUMBER, NOW - timedelta(minutes=30)) == Discarded(1, 1)
    assert discards.since(NUMBER, NOW - timedelta(hours=2)) == Discarded(2, 2)
    assert not discards.since(OTHER, NOW - timedelta(minutes=30))
    assert not discards.since(hashlib.sha256(b"nobody").hexdigest(), NOW - timedelta(days=1))
    # a discard just before the time given counts (the enrolling host's clock may run ahead)
    margin = timedelta(seconds=CLOCK_MARGIN_SECONDS - 1)
    assert discards.since(NUMBER, NOW - timedelta(minutes=10) + margin) == Discarded(1, 1)
    assert discards.since(NUMBER, NOW - timedelta(minutes=10) + 2 * margin) == NONE_DISCARDED


def test_discards_are_known_from_this_process_on_and_for_a_week() -> None:
    clock, discards = clock_at(NOW - timedelta(days=8))
    discards.note([NUMBER])
    clock.at = NOW
    assert not discards.since(NUMBER, NOW - timedelta(days=9))  # beyond the week kept
    discards.note([NUMBER, NUMBER])
    assert discards.since(NUMBER, NOW - timedelta(days=9)) == Discarded(2, 2)
    assert len(discards) == 1


def test_the_numbers_remembered_are_bounded_the_least_recently_discarded_forgotten() -> None:
    clock, discards = clock_at(NOW, max_numbers=3)
    numbers = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(5)]
    for n in numbers:
        clock.at += timedelta(seconds=1)
        discards.note([n])
    discards.note([numbers[2]])  # discarded again: remembered longer
    clock.at += timedelta(seconds=1)
    discards.note([hashlib.sha256(b"5").hexdigest()])
    assert len(discards) == 3
    known = [n for n in numbers if discards.since(n, NOW - timedelta(hours=1))]
    assert known == [numbers[2], numbers[4]]


def test_only_a_digest_of_the_number_is_remembered() -> None:
    _, discards = clock_at(NOW)
    discards.note([NUMBER])
    # never the keyed hash whole: its first 64 bits, as a number
    assert [d for d in discards._digests if d] == [int(NUMBER[:16], 16)]
    assert discards.since(NUMBER[:16] + "0" * 48, NOW - timedelta(minutes=1))  # safe side


def test_a_count_of_a_run_begun_before_the_time_given_is_a_range() -> None:
    """Per number only its first and last discard and their count are kept (review 118:
    a deque of times per number took 100 MB at the bound): discards since a time between
    them are at least one (the last) and at most all but the first."""
    clock, discards = clock_at(NOW - timedelta(hours=3))
    for hours in (3, 2, 1, 0):
        clock.at = NOW - timedelta(hours=hours)
        discards.note([NUMBER])
    assert discards.since(NUMBER, NOW - timedelta(hours=4)) == Discarded(4, 4)  # exact
    assert discards.since(NUMBER, NOW - timedelta(hours=1, minutes=30)) == Discarded(1, 3)
    assert not discards.since(NUMBER, NOW + timedelta(minutes=2))


def test_a_number_discarded_again_after_a_week_starts_a_new_run() -> None:
    clock, discards = clock_at(NOW - timedelta(days=10))
    discards.note([NUMBER, NUMBER])
    clock.at = NOW - timedelta(days=1)
    discards.note([NUMBER])
    clock.at = NOW
    assert discards.since(NUMBER, NOW - timedelta(days=30)) == Discarded(1, 1)


def test_numbers_last_discarded_over_a_week_ago_are_dropped() -> None:
    clock, discards = clock_at(NOW - timedelta(days=8))
    discards.note([NUMBER])
    clock.at = NOW
    discards.note([OTHER])  # over an hour later: the table is pruned
    assert len(discards) == 1 and discards.since(OTHER, NOW - timedelta(minutes=1))


def test_the_bound_costs_a_few_megabytes() -> None:
    """SPEC: each service under 150 MB. Review 118: 100,000 numbers took 100 MB."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        _, discards = clock_at(NOW)
        for n in range(MAX_NUMBERS + 1000):  # over the bound: the table is rebuilt once
            discards.note([f"{n:016x}"])
        for n in range(0, 1000, 7):
            discards.note([f"{n:016x}"])
        used, peak = (m - base for m in tracemalloc.get_traced_memory())
    finally:
        tracemalloc.stop()
    assert MAX_NUMBERS * 15 // 16 <= len(discards) <= MAX_NUMBERS
    assert used < 10_000_000 and peak < 20_000_000, (used, peak)


class Directory:
    def __init__(self) -> None:
        self.enrolled: list[str] = []

    async def enrol(self, subject_id: str, enrolled: SubjectEnrolled) -> bool:
        self.enrolled.append(subject_id)
        return True


class Uow:
    def __init__(self) -> None:
        self.subjects = Directory()


async def read(
    recorded_ago: timedelta, discards: DiscardedNumbers
) -> tuple[Uow, list[int], datetime]:
    late: list[int] = []
    handler = enrolment_reader(discards, lambda: late.append(1), now=lambda: NOW)
    envelope = subject_enrolled(SUBJECT)
    envelope = envelope.model_copy(update={"recorded_at": NOW - recorded_ago})
    uow = Uow()
    payload = SubjectEnrolled.model_validate(envelope.payload)
    await handler(uow, envelope, payload)
    return uow, late, envelope.recorded_at


@pytest.mark.parametrize("recorded_ago", [timedelta(seconds=1), timedelta(hours=1)])
async def test_an_enrolment_read_after_its_number_was_discarded_is_reported_however_soon(
    recorded_ago: timedelta, caplog: pytest.LogCaptureFixture
) -> None:
    """Review 114: a restart read the enrolment 0.24 s after a discard of its number; only
    enrolments read over 30 s after they were recorded were reported."""
    clock, discards = clock_at(NOW - recorded_ago / 2)  # after the enrolment was recorded
    discards.note([NUMBER, NUMBER, OTHER])
    clock.at = NOW
    with caplog.at_level(logging.WARNING):
        uow, late, recorded_at = await read(recorded_ago, discards)
    assert uow.subjects.enrolled == [SUBJECT]  # kept as every service keeps it
    assert late == [1]
    (record,) = caplog.records
    fields: dict[str, Any] = record.__dict__
    assert "read late" in record.getMessage()
    assert "resend this subject's results" in record.getMessage()
    assert (fields["subject_id"], fields["site_id"], fields["discarded_meanwhile"]) == (
        SUBJECT, "CH-01", 2,
    )  # fmt: skip
    assert fields["discarded_at_most"] == 2  # both since: the count is exact
    assert fields["recorded_at"] == recorded_at.isoformat()
    assert fields["late_seconds"] == recorded_ago.total_seconds()
    assert NUMBER not in record.getMessage() and NUMBER[:16] not in str(fields)


@pytest.mark.parametrize(
    ("discarded", "discarded_ago"),
    [
        ([OTHER], timedelta(minutes=1)),  # others' numbers only
        ([NUMBER], timedelta(hours=2)),  # its number, before the enrolment was recorded
        ([], timedelta(0)),
    ],
)
async def test_an_enrolment_whose_number_was_not_discarded_since_is_not_reported(
    discarded: list[str], discarded_ago: timedelta, caplog: pytest.LogCaptureFixture
) -> None:
    clock, discards = clock_at(NOW - discarded_ago)
    discards.note(discarded)
    clock.at = NOW
    with caplog.at_level(logging.WARNING):
        uow, late, _ = await read(timedelta(hours=1), discards)
    assert uow.subjects.enrolled == [SUBJECT]
    assert late == [] and caplog.records == []


async def test_the_ingestor_tells_the_numbers_it_discarded_as_not_enrolled() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    told: list[list[str]] = []
    ingest = BatchIngestor(
        lambda: FakeUnitOfWork(db), lambda identifier: f"h({identifier})",
        on_discarded=lambda hmacs: told.append(list(hmacs)),
    )  # fmt: skip
    await ingest([message("1", mrn="MRN9"), message("2"), message("3", mrn="MRN8")])
    await ingest([message("4")])  # enrolled: nothing discarded, nothing told
    assert told == [["h(MRN9)", "h(MRN8)"]]


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
    discards = DiscardedNumbers()
    discards.note([NUMBER])
    late: list[int] = []
    reader = enrolment_reader(discards, lambda: late.append(1))
    handlers = {**SUBJECT_HANDLERS, SubjectEnrolled.event_type: reader}
    envelope = subject_enrolled(SUBJECT)
    envelope = envelope.model_copy(update={"recorded_at": utc_now() - timedelta(seconds=5)})
    uow = SubjectsUow(failing_commits=failing_commits)
    with caplog.at_level(logging.WARNING):
        await processor(uow, CollectorRegistry(), handlers).process_until_done(
            [Offsets()(envelope, SUBJECTS)], lambda: False
        )
    assert uow.commits == 1
    warnings = [r for r in caplog.records if "read late" in r.getMessage()]
    assert (len(late), len(warnings)) == (1, 1)


async def test_a_count_known_as_a_range_is_logged_as_one(caplog: pytest.LogCaptureFixture) -> None:
    """A run of discards begun before the enrolment: at least one since, at most all but
    the first; the log says how to read the two fields."""
    clock, discards = clock_at(NOW - timedelta(hours=3))
    for ago in (timedelta(hours=3), timedelta(minutes=40), timedelta(minutes=20)):
        clock.at = NOW - ago
        discards.note([NUMBER])
    clock.at = NOW
    with caplog.at_level(logging.WARNING):
        _, late, _ = await read(timedelta(hours=1), discards)
    (record,) = caplog.records
    assert late == [1]
    assert (record.__dict__["discarded_meanwhile"], record.__dict__["discarded_at_most"]) == (1, 2)
    assert "at least that many" in record.getMessage()


class Reading:
    """One reader of enrolments, its clock at ``now``, on the discards of ``clock``."""

    def __init__(self, clock: Clock, discards: DiscardedNumbers) -> None:
        self.clock = clock
        self.late: list[int] = []
        self.read = enrolment_reader(
            discards, lambda: self.late.append(1), now=lambda: self.clock.at
        )

    async def enrolment(self, subject: str, recorded_at: datetime) -> None:
        envelope = subject_enrolled(subject).model_copy(update={"recorded_at": recorded_at})
        payload = SubjectEnrolled.model_validate(envelope.payload)
        await self.read(Uow(), envelope, payload)


AHEAD = timedelta(minutes=5)  # the enrolling host's clock, against lab-ingestion's


async def test_a_discard_after_the_enrolment_counts_with_the_enrolling_clock_ahead(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review 122: the enrolling host's clock 5 min ahead of lab-ingestion's put the
    enrolment's recording time after a discard of its number that came after it (the
    directory's lag), beyond the 60 s margin: the late enrolment went unreported."""
    enrolled = NOW - timedelta(seconds=10)  # by this host's clock
    clock, discards = clock_at(NOW - timedelta(seconds=5))
    discards.note([NUMBER])
    clock.at = NOW
    reading = Reading(clock, discards)
    with caplog.at_level(logging.WARNING):
        await reading.enrolment(SUBJECT, enrolled + AHEAD)
    assert reading.late == [1]
    (record,) = caplog.records
    fields: dict[str, Any] = record.__dict__
    assert fields["enrolling_clock_ahead_seconds"] == (AHEAD - timedelta(seconds=10)).seconds
    assert fields["late_seconds"] == 0  # read when it was recorded, as far as can be told
    margin = timedelta(seconds=CLOCK_MARGIN_SECONDS)
    assert fields["resend_since"] == (NOW - margin).isoformat()  # this host's clock


async def test_a_lead_over_an_hour_is_taken_as_an_hour() -> None:
    """A recording time years ahead (a broken clock) would ask for every discard of the
    week for each enrolment of the next day."""
    clock, discards = clock_at(NOW - timedelta(hours=2))
    discards.note([NUMBER])
    clock.at = NOW
    reading = Reading(clock, discards)
    await reading.enrolment("S-0001", NOW + timedelta(days=400))
    await reading.enrolment(SUBJECT, NOW)
    assert reading.late == []  # the discard 2 h before: beyond the hour's lead


async def test_a_lead_seen_once_counts_for_an_enrolment_read_late() -> None:
    """An enrolment read promptly shows the lead; one read ten minutes late (a broker
    outage) shows none of it, and its discards since the real enrolment count all the same."""
    clock, discards = clock_at(NOW)
    reading = Reading(clock, discards)
    await reading.enrolment("S-0001", NOW + AHEAD)  # read as soon as recorded
    enrolled = NOW + timedelta(hours=1)  # the second, by this host's clock
    clock.at = enrolled + timedelta(minutes=2)
    discards.note([NUMBER])  # after it was enrolled: the directory was behind
    clock.at = enrolled + timedelta(minutes=10)
    await reading.enrolment(SUBJECT, enrolled + AHEAD)
    assert reading.late == [1]


async def test_a_lead_is_trusted_for_a_day_only() -> None:
    clock, discards = clock_at(NOW)
    reading = Reading(clock, discards)
    await reading.enrolment("S-0001", NOW + AHEAD)
    enrolled = NOW + timedelta(days=2)
    clock.at = enrolled + timedelta(minutes=2)
    discards.note([NUMBER])
    clock.at = enrolled + timedelta(minutes=10)
    await reading.enrolment(SUBJECT, enrolled + AHEAD)  # the lead seen is two days old
    assert reading.late == []  # the margin alone: as before a lead was ever seen


async def test_a_clock_behind_only_widens_the_window() -> None:
    """The enrolling clock 5 min behind: a discard 4 min before the real enrolment counts
    (told once too often), one before that does not (as for a clock in step)."""
    enrolled = NOW - timedelta(seconds=10)
    clock, discards = clock_at(enrolled - timedelta(minutes=4))
    discards.note([NUMBER])
    clock.at = NOW
    reading = Reading(clock, discards)
    await reading.enrolment(SUBJECT, enrolled - AHEAD)
    assert reading.late == [1]
    clock, discards = clock_at(enrolled - timedelta(minutes=7))
    discards.note([NUMBER])
    clock.at = NOW
    reading = Reading(clock, discards)
    await reading.enrolment(SUBJECT, enrolled - AHEAD)
    assert reading.late == []
