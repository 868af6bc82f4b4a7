"""What is kept of a message from a sender not on the allow-list (recording.reject): anyone
who reaches the MLLP port can send it, so a large one is kept as its length and digest."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import RecordRejectedInput
from services.lab_ingestion.service_layer.recording import MAX_UNLISTED_COPY_CHARS, reject
from shared.contracts.events.lab import Channel

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LARGE = "MSH|^~\\&|ROGUE|LAB\rNTE|1||" + "x" * MAX_UNLISTED_COPY_CHARS


def kept(channel: Channel, code: RejectionCode, payload: str) -> tuple[str, str]:
    context = BatchContext({}, {}, {}, {})
    command = RecordRejectedInput(channel, code, "unknown sender", payload, AT)
    reject(context, command, code, "unknown sender")
    (record,) = context.rejections
    return record.payload, record.reason


def test_a_large_message_of_an_unlisted_mllp_sender_is_kept_as_length_and_digest() -> None:
    payload, reason = kept(Channel.MLLP, RejectionCode.UNKNOWN_SOURCE, LARGE)
    assert payload == ""
    assert reason.startswith("unknown sender (its copy of ")
    assert f"{len(LARGE)} characters" in reason
    assert hashlib.sha256(LARGE.encode()).hexdigest() in reason


@pytest.mark.parametrize(
    ("channel", "code", "payload"),
    [
        (Channel.MLLP, RejectionCode.UNKNOWN_SOURCE, LARGE[:MAX_UNLISTED_COPY_CHARS]),  # small
        (Channel.MLLP, RejectionCode.MALFORMED, LARGE),  # a listed sender's: kept for replay
        (Channel.HL7_HTTP, RejectionCode.UNKNOWN_SOURCE, LARGE),  # a token holder's
    ],
)
def test_other_copies_are_kept_whole(channel: Channel, code: RejectionCode, payload: str) -> None:
    assert kept(channel, code, payload) == (payload, "unknown sender")
