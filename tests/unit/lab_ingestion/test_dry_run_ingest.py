"""Review 110 (2): a batch ingestor's dry run (``cachexia replay --dry-run``) answers what
ingesting the commands would answer now, planned from a read as the careful path plans (a
plan without one assumes what only the write checks), and writes nothing."""

from __future__ import annotations

from typing import Any

from services.lab_ingestion.service_layer.commands import IngestOutcome
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor, message


async def test_a_dry_run_plans_from_a_read_and_writes_nothing() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    told: list[Any] = []

    def before_commit(uow: Any, outcomes: Any) -> None:
        told.append(outcomes)

    ingest = ingestor(db)  # nobody remembered: the fast path would assume MRN1 not enrolled
    (outcome,) = await ingest([message("1")], before_commit=before_commit, dry_run=True)
    assert outcome.accepted and outcome.enrolled and outcome.results == 1
    assert (db.lookups, db.unlocked_lookups, db.locked) == (1, 0, False)  # read, lock ended
    assert (db.messages, db.results, db.events, db.refused, told) == ({}, [], [], 0, [])


async def test_a_dry_run_answers_what_the_ingest_then_does() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1")])
    # a resend, a final result over another under its key, a patient not enrolled
    for command in (message("1"), message("2", key="K-1", value="13"), message("3", "MRN9")):
        (dry,) = await ingest([command], dry_run=True)
        (real,) = await ingest([command])
        assert _said(dry) == _said(real), (dry, real)


def _said(outcome: IngestOutcome) -> tuple[object, ...]:
    return (outcome.accepted, outcome.code, outcome.duplicate, outcome.enrolled, outcome.results)
