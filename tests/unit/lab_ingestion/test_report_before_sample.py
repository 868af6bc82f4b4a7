"""Review 70 (mutation testing): a report time just beyond the clock skew before its
sample is refused.

The existing tests took a report exactly CLOCK_SKEW before its sample (accepted) and one
22 years before (refused): a skew widened tenfold (a report ten hours before its sample
published as if analysed then) passed them all."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.domain.sample_times import CLOCK_SKEW
from tests.unit.lab_ingestion.test_planning import RECEIVED, message, observation


def test_a_report_just_beyond_the_clock_skew_before_its_sample_is_refused() -> None:
    collected = RECEIVED - timedelta(hours=3)
    early = replace(
        observation(),
        collected_at=collected,
        reported_at=collected - CLOCK_SKEW - timedelta(minutes=1),
    )
    planned = plan_results(message(early), UnitParameters(), RECEIVED)
    assert isinstance(planned, Rejected)
    assert planned.code is RejectionCode.IMPLAUSIBLE_TIME
    assert "before the collection time" in planned.reason


def test_a_report_two_hours_before_its_sample_is_refused() -> None:
    collected = RECEIVED - timedelta(hours=3)
    early = replace(
        observation(), collected_at=collected, reported_at=collected - timedelta(hours=2)
    )
    planned = plan_results(message(early), UnitParameters(), RECEIVED)
    assert isinstance(planned, Rejected) and planned.code is RejectionCode.IMPLAUSIBLE_TIME
