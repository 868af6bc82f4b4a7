"""Review 131 through the real endpoint (PostgreSQL, broker): a lab report's
DiagnosticReport gives the Observations its ``result[]`` lists the times they lack, as HL7's
OBR-7 and OBR-22 do for an OBX: its ``effective[x]`` their collection time, its ``issued``
their report time. Checked as a Specimen's time is: a report time the Observation's own
contradicts, or two reports giving different times, refuse the result."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_review121_fhir_reports import PATIENT, _bundle, _count, _obs

pytestmark = pytest.mark.integration

SUBJECT = {"reference": "urn:uuid:pat"}


def _report(**times: Any) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
        "subject": SUBJECT, "result": [{"reference": "urn:uuid:crp"}], **times,
    }  # fmt: skip


def _crp(ident: str | None = "R131-1", **extra: Any) -> dict[str, Any]:
    """A CRP result of the report's patient without effective[x] (unless given)."""
    crp = {**_obs(ident), "subject": SUBJECT}
    crp.pop("effectiveDateTime")
    crp.update(extra)
    return crp


def _report_bundle(kind: str, crp: dict[str, Any], *reports: dict[str, Any]) -> dict[str, Any]:
    return _bundle(
        kind, ("urn:uuid:pat", PATIENT),
        *((f"urn:uuid:rep{i}", report) for i, report in enumerate(reports)),
        ("urn:uuid:crp", crp),
    )  # fmt: skip


REPORT = _report(effectiveDateTime="2026-11-20T07:30:00+01:00", issued="2026-11-20T09:00:00+01:00")


async def _times(lab: Lab) -> list[tuple[str, str | None]]:
    rows = await lab.pool.fetch("SELECT collected_at, reported_at FROM results")
    return [
        (r["collected_at"].isoformat(), r["reported_at"] and r["reported_at"].isoformat())
        for r in rows
    ]


async def test_the_reports_times_place_an_observation_without_its_own(lab: Lab) -> None:
    status, body = await lab.post_fhir("/fhir", _report_bundle("transaction", _crp(), REPORT))
    assert status == 200, body
    assert await _times(lab) == [("2026-11-20T06:30:00+00:00", "2026-11-20T08:00:00+00:00")]
    stored = str(await lab.pool.fetchval("SELECT result_id FROM results"))
    events = await lab.events("lab.results.v1", 1)
    (event,) = [e for e in events if e.payload["result_id"] == stored]
    assert event.payload["collected_at"] == "2026-11-20T06:30:00Z"
    assert event.payload["reported_at"] == "2026-11-20T08:00:00Z"


async def test_without_an_identifier_the_reports_time_keys_the_result(lab: Lab) -> None:
    status, body = await lab.post_fhir("/fhir", _report_bundle("transaction", _crp(None), REPORT))
    assert status == 200, body
    assert [t for t, _ in await _times(lab)] == ["2026-11-20T06:30:00+00:00"]


async def test_the_observations_own_times_come_first(lab: Lab) -> None:
    crp = _crp(effectiveDateTime="2026-11-20T07:30:20+01:00", issued="2026-11-20T08:15:00+01:00")
    period = _report(
        effectivePeriod={"start": "2026-11-20T07:00:00+01:00", "end": "2026-11-20T09:00:00+01:00"},
        issued="2026-11-20T09:00:00+01:00",
    )
    status, body = await lab.post_fhir("/fhir", _report_bundle("transaction", crp, period))
    assert status == 200, body
    assert await _times(lab) == [("2026-11-20T06:30:20+00:00", "2026-11-20T07:15:00+00:00")]


async def test_a_report_period_gives_its_start_and_holds_its_results(lab: Lab) -> None:
    period = _report(
        effectivePeriod={"start": "2026-11-20T07:00:00+01:00", "end": "2026-11-20T09:00:00+01:00"}
    )
    inside = _crp("R131-2", effectiveDateTime="2026-11-20T08:00:00+01:00")
    status, body = await lab.post_fhir("/fhir", _report_bundle("batch", _crp(), period))
    assert status == 200, body
    status, body = await lab.post_fhir("/fhir", _report_bundle("batch", inside, period))
    assert status == 200, body
    assert sorted(t for t, _ in await _times(lab)) == [
        "2026-11-20T06:00:00+00:00", "2026-11-20T07:00:00+00:00"
    ]  # fmt: skip


async def test_an_observations_own_time_is_not_checked_against_its_report(lab: Lab) -> None:
    """As HL7 never checks a full OBX-14 against OBR-7: a cumulative report lists samples
    drawn at several times."""
    crp = _crp(effectiveDateTime="2026-11-20T12:00:00+01:00", issued="2026-11-20T13:00:00+01:00")
    status, body = await lab.post_fhir("/fhir", _report_bundle("batch", crp, REPORT))
    assert status == 200, body
    assert body["entry"][2]["response"]["status"].startswith("201"), body
    assert await _times(lab) == [("2026-11-20T11:00:00+00:00", "2026-11-20T12:00:00+00:00")]


async def test_a_date_the_report_contradicts_is_refused(lab: Lab) -> None:
    crp = _crp(effectiveDateTime="2026-11-21")
    status, body = await lab.post_fhir("/fhir", _report_bundle("batch", crp, REPORT))
    assert status == 200, body
    answer = body["entry"][2]["response"]
    assert answer["status"].startswith("422"), answer
    (issue,) = answer["outcome"]["issue"]
    assert "implausible-time" in issue["diagnostics"]
    assert "DiagnosticReport.effective[x]" in issue["diagnostics"]
    assert await _count(lab, "results") == 0
    assert await _count(lab, "rejections") == 1


async def test_two_reports_at_different_times_refuse_their_result(lab: Lab) -> None:
    later = _report(effectiveDateTime="2026-11-20T10:30:00+01:00")
    status, body = await lab.post_fhir(
        "/fhir", _report_bundle("transaction", _crp(), REPORT, later)
    )
    assert 400 <= status < 500, body
    assert "different collection times" in str(body)
    assert await _count(lab, "results") == 0


async def test_a_report_dated_only_places_no_result(lab: Lab) -> None:
    """As a Specimen collected on a date alone: no time to place a result by."""
    dated = _report(effectiveDateTime="2026-11-20")
    status, body = await lab.post_fhir("/fhir", _report_bundle("transaction", _crp(None), dated))
    assert 400 <= status < 500, body
    assert "missing-collection-time" in str(body) or "collection time" in str(body)
    assert await _count(lab, "results") == 0
    same_day = _crp(effectiveDateTime="2026-11-20T07:30:00+01:00")
    status, body = await lab.post_fhir("/fhir", _report_bundle("transaction", same_day, dated))
    assert status == 200, body
    other_day = _crp("R131-3", effectiveDateTime="2026-11-21")
    status, body = await lab.post_fhir("/fhir", _report_bundle("transaction", other_day, dated))
    assert 400 <= status < 500, body
    assert await _count(lab, "results") == 1
