"""Review 70 (mutation testing): what lab.results.v1 carries, field by field.

The existing tests read an event's status, value, supersedes_result_id, times and a
cancellation's reason, but no test read its reference range, unit, analyte, LOINC code,
original value and unit, abnormal flag, source, channel or subject, nor which result a
cancellation names: each of those could be published wrong with every test passing. The
consumers grade toxicity from the reference range (LLN/ULN) and act on value and unit."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from services.lab_ingestion.domain.model import Coding
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import AT, FakeDatabase, ingestor, message


def _recorded(db: FakeDatabase) -> list[tuple[str, Any]]:
    return [(t, e) for t, e in db.events if e.event_type == "LabResultRecorded"]


async def test_a_recorded_result_publishes_every_field_as_normalised() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    command = message("1", value="1.25")
    observation = dataclasses.replace(
        command.message.observations[0],
        unit=("mg/dL",),
        reference_range="0-0.5",  # mg/dL, as the value: 0-5 mg/L
        abnormal_flag="H",
    )
    lab = dataclasses.replace(command.message, observations=(observation,))
    (outcome,) = await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    assert outcome.accepted and outcome.results == 1, outcome
    ((topic, envelope),) = _recorded(db)
    assert topic == "lab.results.v1"
    payload = envelope.payload
    (stored,) = db.results
    assert str(payload["result_id"]) == str(stored.result_id)
    assert envelope.subject_id == "S-1"
    assert {
        name: payload[name]
        for name in (
            "analyte", "loinc", "value", "unit", "original_value", "original_unit",
            "reference_low", "reference_high", "abnormal_flag", "status",
            "supersedes_result_id", "source", "channel",
        )
    } == {
        "analyte": "crp",
        "loinc": "1988-5",
        "value": 12.5,
        "unit": "mg/L",
        "original_value": "1.25",
        "original_unit": "mg/dL",
        "reference_low": 0.0,
        "reference_high": 5.0,
        "abnormal_flag": "H",
        "status": "final",
        "supersedes_result_id": None,
        "source": "LIS^HOSP",
        "channel": "mllp",
    }  # fmt: skip


async def test_another_analyte_from_another_channel_is_published_as_itself() -> None:
    """ALT in ukat/L over POST /v1/hl7: its own analyte, LOINC code, unit and channel."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    command = message("1", value="0.5")
    observation = dataclasses.replace(
        command.message.observations[0],
        codes=(Coding("1742-6", "http://loinc.org"),),
        unit=("ukat/L",),
        reference_range="0-0.85",
    )
    lab = dataclasses.replace(
        command.message, channel=Channel.HL7_HTTP, observations=(observation,)
    )
    (outcome,) = await ingestor(db)([IngestLabMessage(lab, lambda: "", AT)])
    assert outcome.accepted and outcome.results == 1, outcome
    ((_, envelope),) = _recorded(db)
    payload = envelope.payload
    assert (payload["analyte"], payload["loinc"], payload["channel"]) == (
        "alt", "1742-6", "hl7-http",
    )  # fmt: skip
    assert (payload["value"], payload["unit"]) == (30.0, "U/L")
    assert (payload["original_value"], payload["original_unit"]) == ("0.5", "ukat/L")
    assert (payload["reference_low"], payload["reference_high"]) == (0.0, 51.0)
    assert payload["abnormal_flag"] is None


async def test_a_cancellation_names_the_result_it_withdraws_and_its_analyte() -> None:
    """The LabResultCancelled event names the standing result (the correction, the chain's
    head), so that a consumer withdraws the value it acts on."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    for control_id, sent in (("1", "F"), ("2", "C"), ("3", "D")):
        (outcome,) = await ingest([message(control_id, status=sent, key="K")])
        assert outcome.accepted, outcome
    _, corrected = db.results
    (cancelled,) = [e for _, e in db.events if e.event_type == "LabResultCancelled"]
    assert uuid.UUID(str(cancelled.payload["cancelled_result_id"])) == corrected.result_id
    assert cancelled.payload["analyte"] == "crp"
    assert cancelled.payload["source"] == "LIS^HOSP"
    assert cancelled.subject_id == "S-1"
