"""Each withdrawn result names the message whose cancellation withdrew it, and each message
records how many of its trial results asked to withdraw one (migration 0030, review 156):
`cachexia message show` then tells a cancellation applied from one that withdrew nothing."""

from __future__ import annotations

import dataclasses

from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput
from services.lab_ingestion.domain.result_status import cancellations_asked
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import (
    AT,
    CRP,
    FakeDatabase,
    ingestor,
    message,
)

SOURCE = "LIS^HOSP"


def message_id(db: FakeDatabase, control_id: str) -> object:
    return db.messages[(SOURCE, control_id)].message_id


async def test_a_stored_chain_names_the_message_that_withdrew_it() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    for control_id, status in (("1", "F"), ("2", "C"), ("3", "D")):
        (outcome,) = await ingest([message(control_id, status=status, key="K")])
        assert outcome.accepted, outcome
    assert len(db.results) == 2
    assert {db.withdrawn_by[r.result_id] for r in db.results} == {message_id(db, "3")}
    assert db.messages[(SOURCE, "3")].cancellations == 1
    assert [db.messages[(SOURCE, c)].cancellations for c in "12"] == [0, 0]


async def test_versions_the_batch_stores_and_withdraws_name_the_message_too() -> None:
    """A stored F, then C and X in one batch: the stored F is withdrawn by the write, the C
    is stored withdrawn; both name the X's message."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", key="K")])
    await ingest([message("2", status="C", key="K", value="13"),
                  message("3", status="X", key="K", value="")])  # fmt: skip
    stored, corrected = db.results
    assert db.withdrawn_by[stored.result_id] == message_id(db, "3")
    assert corrected.cancelled_at is not None
    assert corrected.cancelled_by == message_id(db, "3")


async def test_a_cancellation_under_a_key_that_never_held_a_result_is_counted_alone() -> None:
    """An X under an order number that held nothing (a mistyped one) beside a CRP that is
    stored: accepted, nothing withdrawn, and its message says it asked to withdraw one."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([message("1", key="K")])
    command = message("2", key="K2", value="14")
    withdrawal = ObservationInput("NEVER", CRP, "", (), status="X", collected_at=AT)
    crp = command.message.observations[0]
    lab = dataclasses.replace(command.message, observations=(crp, withdrawal))
    (outcome,) = await ingest([dataclasses.replace(command, message=lab)])
    assert outcome.accepted and outcome.results == 1 and outcome.cancelled == 0, outcome
    assert db.withdrawn_by == {}
    assert db.messages[(SOURCE, "2")].cancellations == 1


def test_only_trial_results_asking_to_withdraw_are_counted() -> None:
    sodium = (Coding("2951-2", "http://loinc.org"),)
    observations = (
        ObservationInput("A", CRP, "", (), status="D"),
        ObservationInput("B", CRP, "", (), status="W"),
        ObservationInput("C", CRP, "", (), status=" x "),
        ObservationInput("D", CRP, "", (), status="F"),  # no value: not obtained, no cancellation
        ObservationInput("E", sodium, "", (), status="D"),  # no trial analyte: left out
        ObservationInput("F", CRP, "4", ("mg/L",), status="C"),
    )
    lab = LabMessage(Channel.MLLP, "LIS", "HOSP", "1", "MRN1", observations)
    assert cancellations_asked(lab) == 3
