"""Blinding holds on every topic (review 44): a dead letter of an unblinded event (the arm,
the actual dose) never copies it onto a blinded dead-letter topic, and the outbox refuses an
event on a topic that does not carry its type."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest

from shared.contracts.envelope import make_envelope
from shared.contracts.events.dose import DoseDispensed
from shared.contracts.events.trial import Arm, SubjectRandomised
from shared.contracts.topics import DOSE_DECISIONS, LAB_RESULTS, TOPICS, TRIAL_RANDOMISATION
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.dead_letters import UNBLINDED_REASON
from shared.messaging.outbox import OutboxWriter
from tests.unit.test_dead_letters import Database, announced, batch_processor, never


def randomised_v2(subject_id: str) -> bytes:
    """A SubjectRandomised as a newer dose-decision writes it (schema_version 2, during a
    rolling upgrade): this consumer cannot decode it, so it is a poison message."""
    payload = SubjectRandomised(
        randomisation_id=uuid.uuid4(), site_id="CH-01", arm=Arm.B, allocation_number=3,
        block_number=1, block_size=5, randomised_at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
    )  # fmt: skip
    envelope = make_envelope(payload, producer="dose-decision", subject_id=subject_id)
    return envelope.model_copy(update={"schema_version": 2}).to_bytes()


async def test_a_dead_letter_of_a_randomisation_keeps_the_arm_off_the_blinded_topic() -> None:
    db = Database()
    value = randomised_v2("S-0001")
    await batch_processor(db).process_until_done(
        [ConsumedMessage(TRIAL_RANDOMISATION, 0, 5, b"S-0001", value)], never
    )
    (stored,) = db.dead_letters
    assert stored["value"] == value  # kept whole in the service's own table
    ((topic, envelope, dead),) = announced(db)
    assert not TOPICS[topic].unblinded
    assert (dead.value_base64, dead.value_size, dead.value_truncated) == ("", len(value), True)
    assert dead.reason == UNBLINDED_REASON and "B" not in dead.reason_code
    assert envelope.subject_id == "S-0001"  # the operator still knows whose it is


async def test_a_dead_letter_of_a_blinded_event_still_carries_its_value() -> None:
    db = Database()
    await batch_processor(db).process_until_done(
        [ConsumedMessage(LAB_RESULTS, 0, 5, b"S-0001", b"not json")], never
    )
    ((_, _, dead),) = announced(db)
    assert base64.b64decode(dead.value_base64) == b"not json"
    assert dead.reason != UNBLINDED_REASON


def test_the_outbox_refuses_an_event_its_topic_does_not_carry() -> None:
    """The actual dose (DoseDispensed, unblinded) written to the blinded decisions topic."""
    dispensed = DoseDispensed(
        decision_id=uuid.uuid4(), level=1, actual_mg=5.0, kit_code="K-0001",
        decided_at=dt.datetime(2026, 11, 5, tzinfo=dt.UTC),
    )  # fmt: skip
    envelope = make_envelope(dispensed, producer="dose-decision", subject_id="S-0001")
    outbox = OutboxWriter(None)  # add() never touches the connection
    with pytest.raises(ValueError, match=r"DoseDispensed is not carried by dose\.decisions\.v1"):
        outbox.add(DOSE_DECISIONS, envelope)
    assert outbox.take_pending() == []
