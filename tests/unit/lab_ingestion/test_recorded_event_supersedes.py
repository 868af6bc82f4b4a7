"""lab-ingestion publishes a superseded result only for a correction, and always for one.

The contract reads a ``final`` event naming a superseded result, and a ``corrected`` one
naming none (lab-ingestion published both before 2026-12-03; its outbox still holds them),
and crp-monitor drops whatever result an event supersedes. The producer must never build
either again: ``recorded_event`` refuses to, whatever the planning let through."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from services.lab_ingestion.domain.records import ResultRecord
from services.lab_ingestion.service_layer.events import recorded_event
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor, message


async def _stored() -> tuple[ResultRecord, ResultRecord]:
    """A final result and its correction, as the ingestor stored them."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    for control_id, status in (("1", "F"), ("2", "C")):
        (outcome,) = await ingest([message(control_id, status=status, key="K")])
        assert outcome.accepted, outcome
    final, corrected = db.results
    return final, corrected


async def test_a_final_result_and_its_correction_are_published_as_stored() -> None:
    final, corrected = await _stored()
    first = recorded_event(final, Channel.MLLP).payload
    second = recorded_event(corrected, Channel.MLLP).payload
    assert (first["status"], first["supersedes_result_id"]) == ("final", None)
    assert (second["status"], str(second["supersedes_result_id"])) == (
        "corrected", str(final.result_id),
    )  # fmt: skip


async def test_a_final_result_naming_a_superseded_one_is_never_published() -> None:
    final, _ = await _stored()
    superseding = dataclasses.replace(final, supersedes_result_id=uuid.uuid4())
    with pytest.raises(ValueError, match="a final result supersedes a result"):
        recorded_event(superseding, Channel.MLLP)


async def test_a_correction_naming_no_superseded_result_is_never_published() -> None:
    _, corrected = await _stored()
    orphan = dataclasses.replace(corrected, supersedes_result_id=None)
    with pytest.raises(ValueError, match="a corrected result names no result it supersedes"):
        recorded_event(orphan, Channel.MLLP)
