"""A report time never refuses a result: one that cannot be trusted is dropped.

The report time (HL7 OBR-22, else OBX-19; FHIR ``issued``; JSON ``reported_at``) decides
nothing: no consumer reads ``reported_at`` and no content digest covers it. One before
2000 (often a birth date written there), after the message arrived (beyond the clock
skew), before its sample (beyond the clock skew: two instruments' clocks), or written
without an offset in an hour a clock change skips or repeats, is stored and published as
none, and the result is kept. Only the collection time refuses a result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.json_parser import parse_lab_results
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.sample_times import (
    CLOCK_SKEW,
    in_site_time,
    plausible_report_times,
)
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from tests.unit.lab_ingestion import test_batch_ingestor as batch
from tests.unit.lab_ingestion.fhir_samples import crp_observation
from tests.unit.lab_ingestion.test_planning import RECEIVED, message, observation

COLLECTED = RECEIVED - timedelta(hours=3)
ZURICH = ZoneInfo("Europe/Zurich")
HALF_HOUR = timedelta(minutes=30)


def _reported(reported: datetime) -> datetime | None:
    sent = dataclasses.replace(observation(), collected_at=COLLECTED, reported_at=reported)
    (read,) = plausible_report_times(message(sent), RECEIVED).observations
    return read.reported_at


@pytest.mark.parametrize(
    "reported",
    [
        COLLECTED - CLOCK_SKEW - timedelta(minutes=1),  # just beyond the skew before its sample
        COLLECTED - timedelta(hours=2),
        datetime(2004, 5, 6, tzinfo=UTC),  # a birth date (2000 or later) written there
        datetime(1999, 12, 31, 23, 59, tzinfo=UTC),
        RECEIVED + CLOCK_SKEW + timedelta(minutes=1),  # in the future
        datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
    ],
)
def test_an_implausible_report_time_is_dropped(reported: datetime) -> None:
    assert _reported(reported) is None


@pytest.mark.parametrize(
    "reported",
    [COLLECTED - CLOCK_SKEW, COLLECTED, RECEIVED, RECEIVED + CLOCK_SKEW],
)
def test_a_plausible_report_time_is_kept(reported: datetime) -> None:
    assert _reported(reported) == reported


def test_a_message_whose_report_times_are_plausible_is_itself() -> None:
    sent = message(dataclasses.replace(observation(), reported_at=RECEIVED))
    assert plausible_report_times(sent, RECEIVED) is sent


@pytest.mark.parametrize("local", [datetime(2024, 3, 31, 2, 30), datetime(2024, 10, 27, 2, 30)])
def test_a_report_time_a_clock_change_skips_or_repeats_is_dropped(local: datetime) -> None:
    sent = dataclasses.replace(
        observation(),
        collected_at=None,
        collected_local=datetime(2024, 10, 27, 1, 30),  # one instant: the result is kept
        reported_at=datetime(2024, 10, 27, 1, 30, tzinfo=UTC),  # as MSH-7's offset read it
        reported_local=local,
    )
    sited = in_site_time(message(sent), ZURICH)
    assert not isinstance(sited, Rejected), sited
    (read,) = sited.observations
    assert read.reported_at is None
    assert read.collected_at == datetime(2024, 10, 26, 23, 30, tzinfo=UTC)


def test_a_collection_time_a_clock_change_repeats_still_refuses_the_result() -> None:
    sent = dataclasses.replace(observation(), collected_local=datetime(2024, 10, 27, 2, 30))
    refused = in_site_time(message(sent), ZURICH)
    assert isinstance(refused, Rejected)
    assert refused.code is RejectionCode.MISSING_COLLECTION_TIME
    assert refused.reason.startswith("collection time") and "clock change" in refused.reason


def _json(reported_at: str) -> IngestLabMessage:
    body = {
        "message_id": "LAB-1", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": "MRN1"},
        "results": [{"result_id": "R1", "loinc": "1988-5", "value": "12", "unit": "mg/L",
                     "status": "final", "collected_at": batch.AT.isoformat(),
                     "reported_at": reported_at}],
    }  # fmt: skip
    return IngestLabMessage(parse_lab_results(body), lambda: "", batch.AT)


def _fhir(issued: str) -> IngestLabMessage:
    resource = crp_observation(effectiveDateTime=batch.AT.isoformat(), issued=issued)
    return IngestLabMessage(parse_observation(resource, "LIS", "HOSP"), lambda: "", batch.AT)


@pytest.mark.parametrize("channel", [_json, _fhir], ids=["json", "fhir"])
@pytest.mark.parametrize(
    ("reported", "kept"),
    [("2004-05-06T10:00:00+00:00", None), ("2026-11-20T07:45:00+00:00", batch.AT + HALF_HOUR)],
    ids=["before-its-sample", "plausible"],
)
async def test_a_json_or_fhir_report_time_is_stored_and_published_if_plausible(
    channel: Callable[[str], IngestLabMessage], reported: str, kept: datetime | None
) -> None:
    """JSON ``reported_at`` and FHIR ``issued`` alike: the result is kept, the time not."""
    db = batch.FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN4711)": "S-1"})
    (outcome,) = await batch.ingestor(db)([channel(reported)])
    assert outcome.accepted and outcome.results == 1, outcome.reason
    assert db.results[0].reported_at == kept
    (published,) = [e.payload for _, e in db.events if e.event_type == "LabResultRecorded"]
    published_at = published["reported_at"]
    assert (published_at and datetime.fromisoformat(str(published_at))) == kept
