"""Which observations of a message the trial keeps (domain.planning)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import (
    CLOCK_SKEW,
    needs_earlier_result,
    plan_results,
)
from shared.contracts.events.lab import Channel

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
RECEIVED = AT + timedelta(hours=3)
CRP = (Coding("1988-5", "http://loinc.org"),)
GLUCOSE = (Coding("2345-7", "http://loinc.org"),)


def observation(codes: tuple[Coding, ...] = CRP, status: str = "F") -> ObservationInput:
    return ObservationInput("K", codes, "12", ("mg/L",), status=status, collected_at=AT)


def message(*observations: ObservationInput) -> LabMessage:
    return LabMessage(Channel.MLLP, "LIS", "HOSP", "1", "MRN1", observations)


def test_other_analytes_are_ignored_and_trial_ones_normalised() -> None:
    planned = plan_results(message(observation(GLUCOSE), observation()), UnitParameters(), RECEIVED)
    assert not isinstance(planned, Rejected)
    assert [(o.codes, n is not None and n.value) for o, n in planned] == [(CRP, 12.0)]


@pytest.mark.parametrize("status", ["X", "d", " D "])
def test_a_cancellation_is_planned_without_a_value(status: str) -> None:
    planned = plan_results(message(observation(status=status)), UnitParameters(), RECEIVED)
    assert not isinstance(planned, Rejected)
    assert planned[0][1] is None


def test_an_unknown_status_rejects_the_message() -> None:
    planned = plan_results(message(observation(status="Q")), UnitParameters(), RECEIVED)
    assert isinstance(planned, Rejected)
    assert planned.code is RejectionCode.UNKNOWN_STATUS


def test_a_message_without_trial_results_is_rejected() -> None:
    planned = plan_results(message(observation(GLUCOSE)), UnitParameters(), RECEIVED)
    assert isinstance(planned, Rejected)
    assert planned.code is RejectionCode.UNKNOWN_ANALYTE


@pytest.mark.parametrize(
    ("collected", "reported"),
    [
        (datetime(1, 1, 1, 0, 30, tzinfo=UTC), None),  # would not even fit PostgreSQL's UTC
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), None),
        (RECEIVED + CLOCK_SKEW + timedelta(minutes=1), None),  # a sample from the future
        (datetime(2062, 11, 20, 7, 15, tzinfo=UTC), None),  # a typo in the year
        (AT, datetime(9999, 12, 31, 23, 0, tzinfo=UTC)),
    ],
)
def test_a_time_outside_the_plausible_window_rejects_the_message(
    collected: datetime, reported: datetime | None
) -> None:
    implausible = replace(observation(), collected_at=collected, reported_at=reported)
    planned = plan_results(message(implausible), UnitParameters(), RECEIVED)
    assert isinstance(planned, Rejected)
    assert planned.code is RejectionCode.IMPLAUSIBLE_TIME
    assert "time zone" in planned.reason


def test_a_cancellation_withdraws_a_result_whatever_time_it_repeats() -> None:
    """A result stored with a wrong date (before this check) must still be cancellable."""
    future = replace(observation(status="D"), collected_at=RECEIVED + timedelta(days=30))
    planned = plan_results(message(future), UnitParameters(), RECEIVED)
    assert not isinstance(planned, Rejected)
    assert planned[0][1] is None


def test_a_sample_within_the_clock_skew_is_accepted() -> None:
    skewed = replace(observation(), collected_at=RECEIVED + CLOCK_SKEW, reported_at=RECEIVED)
    planned = plan_results(message(skewed), UnitParameters(), RECEIVED)
    assert not isinstance(planned, Rejected)


@pytest.mark.parametrize(
    ("statuses", "needed"),
    [(("F",), False), (("P", "F"), False), (("F", "c"), True), (("X",), True), (("D",), True)],
)
def test_corrections_and_cancellations_need_the_earlier_result(
    statuses: tuple[str, ...], needed: bool
) -> None:
    observations = [observation(status=s) for s in statuses]
    assert needs_earlier_result(message(*observations)) is needed
