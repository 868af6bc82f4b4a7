"""Review 121: a FHIR Observation's collection time from its Specimen where effective[x]
gives none (or a date alone), refused when the two disagree beyond their precision."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation

from services.lab_ingestion.adapters.fhir_collection import (
    REPORT_CONFLICT,
    REPORTS_CONFLICT,
    TIME_CONFLICT,
    ReportTimes,
    collection_time,
)


def _obs(effective: str | None, specimen: str | None) -> Observation:
    resource: dict[str, Any] = {"resourceType": "Observation", "status": "final",
                                "code": {"text": "CRP"}}  # fmt: skip
    if effective:
        resource["effectiveDateTime"] = effective
    if specimen:
        resource["contained"] = [{"resourceType": "Specimen", "id": "sp1",
                                  "collection": {"collectedDateTime": specimen}}]  # fmt: skip
        resource["specimen"] = {"reference": "#sp1"}
    return Observation.model_validate(resource)


@pytest.mark.parametrize(
    ("effective", "specimen", "taken", "conflict"),
    [
        (None, "2026-11-20T06:30:00+01:00", "2026-11-20T06:30:00+01:00", None),
        ("2026-11-20", "2026-11-20T06:30:00+01:00", "2026-11-20T06:30:00+01:00", None),
        ("2026-11-20T06:30:00+01:00", "2026-11-20T05:30:00Z", "2026-11-20T06:30:00+01:00", None),
        ("2026-11-20T06:30:00+01:00", "2026-11-20", "2026-11-20T06:30:00+01:00", None),
        ("2026-11-20T12:00:00+01:00", "2026-11-20T06:30:00+01:00", "2026-11-20T12:00:00+01:00",
         TIME_CONFLICT),
        ("2026-11-21", "2026-11-20T06:30:00+01:00", "2026-11-20T06:30:00+01:00", TIME_CONFLICT),
        ("2026-11-20T06:30:00+01:00", None, "2026-11-20T06:30:00+01:00", None),
    ],
)  # fmt: skip
def test_the_specimens_time_fills_in_and_must_agree(
    effective: str | None, specimen: str | None, taken: str, conflict: str | None
) -> None:
    collected, why = collection_time(_obs(effective, specimen))
    assert collected is not None and collected.isoformat() == taken
    assert why == conflict


def test_a_bundle_specimen_is_found_by_its_reference() -> None:
    obs = Observation.model_validate({"resourceType": "Observation", "status": "final",
                                      "code": {"text": "CRP"},
                                      "specimen": {"reference": "urn:uuid:sp"}})  # fmt: skip
    sampled = datetime(2026, 11, 20, 6, 30, tzinfo=timezone(timedelta(hours=1)))
    collected, why = collection_time(obs, {"urn:uuid:sp": sampled})
    assert collected == sampled and why is None


REPORT_TIME = datetime(2026, 11, 20, 7, 30, tzinfo=timezone(timedelta(hours=1)))


@pytest.mark.parametrize(
    ("effective", "specimen", "taken", "conflict"),
    [
        (None, None, "2026-11-20T07:30:00+01:00", None),
        ("2026-11-20", None, "2026-11-20T07:30:00+01:00", None),
        ("2026-11-20T06:30:00Z", None, "2026-11-20T06:30:00+00:00", None),
        (None, "2026-11-20T07:30:00+01:00", "2026-11-20T07:30:00+01:00", None),
        # a time of its own is not checked against its report's (a cumulative report)
        ("2026-11-20T12:00:00+01:00", None, "2026-11-20T12:00:00+01:00", None),
        (None, "2026-11-20T06:00:00+01:00", "2026-11-20T06:00:00+01:00", None),
        ("2026-11-21", None, "2026-11-20T07:30:00+01:00", REPORT_CONFLICT),
    ],
)  # fmt: skip
def test_the_reports_time_fills_in_last_and_must_agree(
    effective: str | None, specimen: str | None, taken: str, conflict: str | None
) -> None:
    """Review 131: DiagnosticReport.effective[x] (HL7's OBR-7) where the Observation and
    its Specimen give no time, checked against a date either gives."""
    report = ReportTimes(REPORT_TIME, REPORT_TIME)
    collected, why = collection_time(_obs(effective, specimen), None, report)
    assert collected is not None and collected.isoformat() == taken
    assert why == conflict


def test_a_report_dated_only_places_nothing_and_two_reports_are_ambiguous() -> None:
    dated = ReportTimes(date(2026, 11, 20), date(2026, 11, 20))
    assert collection_time(_obs(None, None), None, dated) == (None, None)
    own = collection_time(
        _obs("2026-11-20T07:30:00+01:00", None), None, ReportTimes(ambiguous=True)
    )
    assert own[1] is None  # its own time: the reports are not needed
    assert collection_time(_obs(None, None), None, ReportTimes(ambiguous=True)) == (
        None, REPORTS_CONFLICT,
    )  # fmt: skip
