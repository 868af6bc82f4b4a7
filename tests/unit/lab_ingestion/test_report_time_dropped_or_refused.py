"""A report time that cannot be trusted is dropped; one before its sample refuses the result.

The report time (HL7 OBR-22, else OBX-19; FHIR ``issued``; JSON ``reported_at``) decides
nothing itself: no consumer reads ``reported_at`` and no content digest covers it. One before
2000 (often a birth date written there), after the message arrived (beyond the clock skew),
or written without an offset in an hour a clock change skips or repeats, is stored and
published as none, and the result is kept. But one read surely and more than the clock skew
(two instruments' clocks) before its sample's collection says one of the two times is wrong,
and the collection time places the sample in a dosing window: the result is refused
``implausible-time``, on every channel, the reason quoting neither time.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.json_parser import parse_lab_results
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.domain.sample_times import (
    CLOCK_SKEW,
    in_site_time,
    plausible_report_times,
)
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from tests.unit.lab_ingestion import test_batch_ingestor as batch
from tests.unit.lab_ingestion import test_hl7_report_time as hl7_report_time
from tests.unit.lab_ingestion.fhir_samples import crp_observation
from tests.unit.lab_ingestion.test_planning import RECEIVED, message, observation

COLLECTED = RECEIVED - timedelta(hours=3)
ZURICH = ZoneInfo("Europe/Zurich")
HALF_HOUR = timedelta(minutes=30)


def _reported(reported: datetime) -> datetime | None:
    sent = dataclasses.replace(observation(), collected_at=COLLECTED, reported_at=reported)
    (read,) = plausible_report_times(message(sent), RECEIVED).observations
    return read.reported_at


BEFORE_ITS_SAMPLE = [
    COLLECTED - CLOCK_SKEW - timedelta(minutes=1),  # just beyond the skew before its sample
    COLLECTED - timedelta(hours=2),
    datetime(2004, 5, 6, tzinfo=UTC),  # a birth date (2000 or later) written there
]


def _planned(reported: datetime) -> object:
    sent = dataclasses.replace(observation(), collected_at=COLLECTED, reported_at=reported)
    return plan_results(message(sent), UnitParameters(), RECEIVED)


@pytest.mark.parametrize(
    "reported",
    [
        datetime(1999, 12, 31, 23, 59, tzinfo=UTC),  # before its sample too: dropped first
        RECEIVED + CLOCK_SKEW + timedelta(minutes=1),  # in the future
        datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
    ],
)
def test_an_untrusted_report_time_is_dropped_and_refuses_nothing(reported: datetime) -> None:
    assert _reported(reported) is None
    assert not isinstance(_planned(reported), Rejected)


@pytest.mark.parametrize(
    "reported",
    [COLLECTED - CLOCK_SKEW, COLLECTED, RECEIVED, RECEIVED + CLOCK_SKEW, *BEFORE_ITS_SAMPLE],
)
def test_a_report_time_trusted_otherwise_is_kept_for_planning(reported: datetime) -> None:
    assert _reported(reported) == reported


@pytest.mark.parametrize("reported", BEFORE_ITS_SAMPLE)
def test_a_report_time_beyond_the_skew_before_its_sample_refuses_the_result(
    reported: datetime,
) -> None:
    planned = _planned(reported)
    assert isinstance(planned, Rejected)
    assert planned.code is RejectionCode.IMPLAUSIBLE_TIME
    assert "before the collection time" in planned.reason
    assert "one of the two times is wrong" in planned.reason
    assert not re.search(r"20[0-9]{2}", planned.reason)  # neither time is quoted


@pytest.mark.parametrize("reported", [COLLECTED - CLOCK_SKEW, COLLECTED])
def test_a_report_within_the_skew_before_its_sample_is_accepted(reported: datetime) -> None:
    assert not isinstance(_planned(reported), Rejected)


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
    # before its sample as MSH-7's offset read it, or in March: no instant, so no refusal
    arrived = datetime(2024, 10, 27, tzinfo=UTC)
    assert not isinstance(plan_results(sited, UnitParameters(), arrived), Rejected)


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


def _hl7(reported: str, field: str) -> IngestLabMessage:
    stamp = datetime.fromisoformat(reported).strftime("%Y%m%d%H%M%S+0000")
    times = {"obr22": stamp} if field == "OBR-22" else {"obr22": "", "obx19": stamp}
    lab, _ = parse_oru(hl7_report_time._message("2.5.1", **times), identify=lambda s: "h" * 64)
    return IngestLabMessage(lab, lambda: "", batch.AT)


CHANNELS = [
    _json,
    _fhir,
    functools.partial(_hl7, field="OBR-22"),
    functools.partial(_hl7, field="OBX-19"),
]


@pytest.mark.parametrize("channel", CHANNELS, ids=["json", "fhir", "obr22", "obx19"])
@pytest.mark.parametrize(
    ("reported", "kept"),
    [
        ("2026-11-20T07:45:00+00:00", batch.AT + HALF_HOUR),
        ("1999-05-06T10:00:00+00:00", None),
        ("2026-11-20T09:15:00+00:00", None),  # after the message arrived (plus the skew)
    ],
    ids=["plausible", "before-2000", "in-the-future"],
)
async def test_a_report_time_is_stored_and_published_if_plausible_else_dropped(
    channel: Callable[[str], IngestLabMessage], reported: str, kept: datetime | None
) -> None:
    """On every channel: the result is kept, the time only if it can be trusted."""
    db = batch.FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN4711)": "S-1"})
    (outcome,) = await batch.ingestor(db)([channel(reported)])
    assert outcome.accepted and outcome.results == 1, outcome.reason
    assert db.results[0].reported_at == kept
    (published,) = [e.payload for _, e in db.events if e.event_type == "LabResultRecorded"]
    published_at = published["reported_at"]
    assert (published_at and datetime.fromisoformat(str(published_at))) == kept


@pytest.mark.parametrize("channel", CHANNELS, ids=["json", "fhir", "obr22", "obx19"])
@pytest.mark.parametrize("reported", ["2004-05-06T10:00:00+00:00", "2026-11-20T05:00:00+00:00"])
async def test_a_report_time_before_its_sample_refuses_the_result_on_every_channel(
    channel: Callable[[str], IngestLabMessage], reported: str
) -> None:
    db = batch.FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN4711)": "S-1"})
    (outcome,) = await batch.ingestor(db)([channel(reported)])
    assert outcome.code is RejectionCode.IMPLAUSIBLE_TIME, outcome
    assert "one of the two times is wrong" in outcome.reason
    assert db.results == []
