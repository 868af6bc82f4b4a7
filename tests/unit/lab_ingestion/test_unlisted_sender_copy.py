"""What is kept of a message from a sender not on the allow-list (rejections.reject): anyone
who reaches the MLLP port can send it, so a large one is kept as its length and digest."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_redaction import MAX_WITHHELD_LINES, redact
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.domain.records import Sender
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import RecordRejectedInput
from services.lab_ingestion.service_layer.rejections import reject
from services.lab_ingestion.service_layer.unlisted_copies import (
    MAX_CHARS as MAX_UNLISTED_COPY_CHARS,
)
from shared.contracts.events.lab import Channel

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LARGE = "MSH|^~\\&|ROGUE|LAB\rNTE|1||" + "x" * MAX_UNLISTED_COPY_CHARS


LISTED = ("LIS", "HOSP")


def kept(
    channel: Channel, code: RejectionCode, payload: str, sender: tuple[str, str] | None = None
) -> tuple[str, str]:
    context = BatchContext({LISTED: Sender()}, {}, {}, {})
    command = RecordRejectedInput(channel, code, "unknown sender", payload, AT, sender=sender)
    reject(context, command, code, "unknown sender")
    (record,) = context.rejections
    return record.payload, record.reason


def test_a_large_message_of_an_unlisted_mllp_sender_is_kept_as_length_and_digest() -> None:
    payload, reason = kept(Channel.MLLP, RejectionCode.UNKNOWN_SOURCE, LARGE)
    assert payload == ""
    assert reason.startswith("unknown sender (its copy of ")
    assert f"{len(LARGE)} characters" in reason
    assert hashlib.sha256(LARGE.encode()).hexdigest() in reason


def test_a_large_frame_naming_no_sender_is_kept_as_length_and_digest() -> None:
    """Cut short, or without a readable MSH: anyone may have sent it (the cap was bypassed by
    closing the connection before the end byte)."""
    payload, reason = kept(Channel.MLLP, RejectionCode.MALFORMED, LARGE)
    assert payload == "" and hashlib.sha256(LARGE.encode()).hexdigest() in reason


@pytest.mark.parametrize(
    ("channel", "code", "payload", "sender"),
    [
        (Channel.MLLP, RejectionCode.UNKNOWN_SOURCE, LARGE[:MAX_UNLISTED_COPY_CHARS], None),
        (Channel.MLLP, RejectionCode.MALFORMED, LARGE, LISTED),  # a listed sender's: kept
        (Channel.HL7_HTTP, RejectionCode.UNKNOWN_SOURCE, LARGE, None),  # a token holder's
    ],
)
def test_other_copies_are_kept_whole(
    channel: Channel, code: RejectionCode, payload: str, sender: tuple[str, str] | None
) -> None:
    assert kept(channel, code, payload, sender) == (payload, "unknown sender")


def test_a_frame_of_unreadable_separators_is_never_kept_larger_than_it_came() -> None:
    """Each line is kept as its segment name at most: a megabyte of short lines was kept
    as 5.5 MB."""
    frame = "\r".join(["x"] * 100_000)
    copy = redact(frame, lambda s: "h")
    assert len(copy) < len(frame) / 10
    assert copy.endswith(f"[{100_000 - MAX_WITHHELD_LINES} more lines]")
