"""OutboxWriter.add: an event goes out under its subject's key on a topic keyed by subject."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.contracts.envelope import make_envelope
from shared.contracts.events.lab import Channel, LabMessageRejected
from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from shared.messaging.outbox import OutboxWriter
from tests.factories import crp_result


class NoConnection:
    """add() only queues: it must not touch the connection."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"add() used the connection ({name})")


def test_an_event_without_a_subject_on_a_topic_keyed_by_subject_is_refused() -> None:
    writer = OutboxWriter(NoConnection())  # a fake connection
    envelope = crp_result("S-1", 12.0).model_copy(update={"subject_id": None})
    with pytest.raises(ValueError, match="needs a subject_id"):
        writer.add(LAB_RESULTS, envelope)
    assert writer.mark() == 0


def test_a_rejection_is_about_no_subject_and_goes_out_without_one() -> None:
    writer = OutboxWriter(NoConnection())  # a fake connection
    payload = LabMessageRejected(
        rejection_id=uuid.uuid4(),
        channel=Channel.MLLP,
        reason_code="unknown-source",
        reason="sender not allowed",
        received_at=datetime.now(UTC),
    )
    envelope = make_envelope(payload, producer="lab-ingestion", subject_id=None)
    writer.add(LAB_REJECTED, envelope)
    assert writer.mark() == 1
