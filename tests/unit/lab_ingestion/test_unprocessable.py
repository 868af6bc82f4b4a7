"""A message the service fails on every time is kept as a rejection (processing-failed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.unprocessable import NOT_KEPT, keep_unprocessable
from shared.contracts.events.lab import Channel
from shared.db.pool import TRANSIENT_DB_ERRORS
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MESSAGE = LabMessage(Channel.MLLP, "LIS", "HOSP", "MSG-1", "MRN1", ())


class FakeIngest:
    """Records what it is asked to store; fails the first ``failures`` calls with ``error``."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.stored: list[Command] = []
        self.failures = failures
        self.error = error or ValueError("cannot store")

    async def __call__(self, commands: Sequence[Command]) -> list[IngestOutcome]:
        if self.failures:
            self.failures -= 1
            raise self.error
        self.stored.extend(commands)
        return [IngestOutcome.rejected(RejectionCode.PROCESSING_FAILED, "kept")]


async def test_a_failed_message_is_kept_with_its_redacted_payload() -> None:
    ingest = FakeIngest()
    copy = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120||ORU^R01|MSG-1|P|2.5.1"
    command = IngestLabMessage(MESSAGE, lambda: copy, AT)

    outcome = await keep_unprocessable(
        ingest, command, identify=lambda number: f"h({number})", transient=TRANSIENT_DB_ERRORS
    )

    assert outcome.code is RejectionCode.PROCESSING_FAILED
    (kept,) = ingest.stored
    assert isinstance(kept, RecordRejectedInput)
    assert (kept.channel, kept.source, kept.control_id) == (Channel.MLLP, "LIS^HOSP", "MSG-1")
    assert kept.code is RejectionCode.PROCESSING_FAILED and "do not resend" in kept.reason
    assert kept.redacted_payload == copy
    assert kept.received_at == AT and kept.sender == ("LIS", "HOSP")  # checked as before


async def test_a_failed_message_whose_copy_has_no_header_keeps_no_id() -> None:
    """A copy kept as segment names only vouches for no message id: MSH-10 as sent may hold
    what the redaction scrubbed (a name, a birth date)."""
    ingest = FakeIngest()
    command = IngestLabMessage(MESSAGE, lambda: "MSH [redacted]\rPID [redacted]", AT)
    await keep_unprocessable(ingest, command, transient=TRANSIENT_DB_ERRORS)
    (kept,) = ingest.stored
    assert isinstance(kept, RecordRejectedInput)
    assert kept.control_id == "[redacted]"


async def test_when_the_payload_cannot_be_stored_the_rejection_is_kept_without_it() -> None:
    ingest = FakeIngest(failures=1)
    command = IngestLabMessage(MESSAGE, lambda: "payload", AT)

    await keep_unprocessable(ingest, command, transient=TRANSIENT_DB_ERRORS)

    (kept,) = ingest.stored
    assert isinstance(kept, RecordRejectedInput) and kept.redacted_payload == NOT_KEPT


async def test_a_payload_that_cannot_be_redacted_is_never_stored() -> None:
    def broken() -> str:
        raise RecursionError("too deep")

    ingest = FakeIngest()
    await keep_unprocessable(
        ingest, IngestLabMessage(MESSAGE, broken, AT), transient=TRANSIENT_DB_ERRORS
    )

    (kept,) = ingest.stored
    assert isinstance(kept, RecordRejectedInput) and kept.redacted_payload == NOT_KEPT


async def test_a_database_outage_is_not_turned_into_a_rejection() -> None:
    """Transient: the caller answers "resend"; the message was not at fault."""
    ingest = FakeIngest(failures=1, error=ConnectionError("reset"))
    with pytest.raises(ConnectionError):
        await keep_unprocessable(
            ingest, IngestLabMessage(MESSAGE, lambda: "p", AT), transient=TRANSIENT_DB_ERRORS
        )
    assert ingest.stored == []


UNKNOWN_SENDER = LabMessage(Channel.MLLP, "MADE-UP", "HOSP", "MSG-1", "MRN1", ())


@pytest.mark.parametrize(
    "command",
    [  # a sender not on the allow-list; one the caller's token may not deliver as
        IngestLabMessage(UNKNOWN_SENDER, lambda: "p", AT),
        IngestLabMessage(MESSAGE, lambda: "p", AT, permitted_senders=frozenset({"A^B"})),
    ],
)
async def test_a_failed_message_of_a_sender_it_may_not_come_from_is_answered_as_such(
    command: IngestLabMessage,
) -> None:
    """Kept as the service's own failure (AE 207, "do not resend", labelled by the sender
    it named), a made-up sender's poison message would add a metric series each time."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    outcome = await keep_unprocessable(ingestor(db), command, transient=TRANSIENT_DB_ERRORS)
    assert outcome.code is RejectionCode.UNKNOWN_SOURCE


async def test_a_kept_failure_records_what_its_replay_checks_and_says_do_not_resend() -> None:
    ingest = FakeIngest()
    copy = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120||ORU^R01|MSG-1|P|2.5.1"
    command = IngestLabMessage(MESSAGE, lambda: copy, AT)
    await keep_unprocessable(
        ingest, command, identify=lambda number: f"hash-of-{number}", transient=TRANSIENT_DB_ERRORS
    )
    (kept,) = ingest.stored
    assert isinstance(kept, RecordRejectedInput)
    assert kept.patient_hmac == "hash-of-MRN1" and kept.content_digest
    assert "replayed once the fault is fixed: do not resend" in kept.reason


async def test_a_kept_failure_a_replay_could_not_check_asks_for_a_resend() -> None:
    """No patient hash kept (none computed), or a copy without its message id: a replay
    refuses it, so the lab is never told not to resend (review 46)."""
    for copy, identify in (
        ("MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120||ORU^R01|MSG-1|P|2.5.1", None),
        ("MSH|^~\\&|LIS|HOSP", lambda number: f"hash-of-{number}"),
    ):
        ingest = FakeIngest()

        def redact(copy: str = copy) -> str:
            return copy

        command = IngestLabMessage(MESSAGE, redact, AT)
        await keep_unprocessable(ingest, command, identify=identify, transient=TRANSIENT_DB_ERRORS)
        (kept,) = ingest.stored
        assert isinstance(kept, RecordRejectedInput)
        assert "do not resend" not in kept.reason and "resend it once" in kept.reason, copy


async def test_a_failure_whose_copy_was_not_kept_asks_the_lab_to_resend_it_later() -> None:
    """It cannot be replayed: told "kept ... do not resend", the lab would drop it."""
    ingest = FakeIngest(failures=1)
    command = IngestLabMessage(MESSAGE, lambda: "payload", AT)
    await keep_unprocessable(
        ingest, command, identify=lambda number: f"hash-of-{number}", transient=TRANSIENT_DB_ERRORS
    )
    (kept,) = ingest.stored
    assert isinstance(kept, RecordRejectedInput) and kept.redacted_payload == NOT_KEPT
    assert "could not keep a copy: resend it once" in kept.reason
    assert kept.patient_hmac is None and kept.content_digest is None
