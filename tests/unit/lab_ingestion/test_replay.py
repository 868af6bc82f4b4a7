"""A replay reads a kept copy back as the message it was, or refuses to replay it."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from services.lab_ingestion.adapters.hl7_codec import Hl7InputError, parse_oru, redact
from services.lab_ingestion.domain.kept_copy import (
    is_kept_copy_identifier,
    kept_copy_hash,
)
from services.lab_ingestion.domain.message_identity import content_digest
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.service_layer.commands import BeforeCommit, Command, IngestOutcome
from services.lab_ingestion.service_layer.replay import Replayer, ReplayRefused
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.hl7_samples import join, msh, seg

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def keyed_hash(number: str) -> str:
    return hashlib.sha256(f"key:{number}".encode()).hexdigest()


MESSAGE = join([
    msh(control_id="C-77"),
    seg("PID", {1: "1", 3: "MRN77^^^HOSP^MR", 5: "DOE^JANE", 7: "19600101"}),
    seg("OBR", {1: "1", 3: "F77", 7: "20261102070000+0000"}),
    seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "42", 6: "mg/L", 11: "F"}),
])  # fmt: skip


def kept(**changes: Any) -> KeptRejection:
    """The rejection of MESSAGE as the service keeps it (its copy, hash and digest)."""
    message, _ = parse_oru(MESSAGE, identify=keyed_hash)
    patient_hmac = keyed_hash("MRN77")
    rejection = KeptRejection(
        uuid.uuid4(), Channel.MLLP.value, "LABSYS^NORTHLAB", message.control_id,
        "unknown-source", "sender not allowed", redact(MESSAGE, keyed_hash), AT,
        patient_hmac, content_digest(message, patient_hmac), None, None,
    )  # fmt: skip
    return dataclasses.replace(rejection, **changes)


def read_copy(rejection: KeptRejection) -> LabMessage:
    try:
        message, _ = parse_oru(rejection.payload, identify=kept_copy_hash)
    except Hl7InputError as error:
        raise ValueError(error.reason) from None
    return message


class RecordingIngest:
    """Stores every command (a dry run's apart: it stores nothing); is its own unit of work,
    keeping the replay marks staged. Each command's outcome is ``outcome``."""

    def __init__(self, outcome: IngestOutcome | None = None) -> None:
        self.outcome = outcome or IngestOutcome(accepted=True, results=1)
        self.commands: list[Command] = []
        self.dry_runs: list[Command] = []
        self.marks: list[tuple[uuid.UUID, str, bool]] = []

    async def __call__(
        self,
        commands: Sequence[Command],
        *,
        before_commit: BeforeCommit | None = None,
        dry_run: bool = False,
    ) -> list[IngestOutcome]:
        (self.dry_runs if dry_run else self.commands).extend(commands)
        outcomes = [self.outcome for _ in commands]
        if before_commit is not None and not dry_run:
            before_commit(self, outcomes)
        return outcomes

    def mark_replay(self, rejection_id: uuid.UUID, outcome: str, *, settled: bool) -> None:
        self.marks.append((rejection_id, outcome, settled))


def test_a_kept_copy_reads_back_as_the_message_it_was() -> None:
    rejection = kept()
    assert "MRN77" not in rejection.payload and "DOE" not in rejection.payload
    message = Replayer(read_copy, RecordingIngest()).check(rejection)
    assert message.patient_identifier == f"HMAC:{keyed_hash('MRN77')}"
    assert kept_copy_hash(message.patient_identifier) == rejection.patient_hmac


async def test_a_replay_ingests_the_copy_as_its_senders_message_at_its_first_arrival() -> None:
    rejection, ingest = kept(), RecordingIngest()
    replayed = await Replayer(read_copy, ingest).replay(rejection)
    assert replayed.settled and replayed.summary.startswith("stored: 1 result(s)")
    # marked in the replay's own unit of work: committed with it, or not at all
    assert ingest.marks == [(rejection.rejection_id, replayed.summary, True)]
    (command,) = ingest.commands
    assert command.received_at == AT
    assert command.rejection_id == rejection.rejection_id  # rejected again: the same one


@pytest.mark.parametrize(
    ("outcome", "settled", "said"),
    [
        (IngestOutcome(accepted=True, results=1), True, "replayable: it would store 1 result"),
        (IngestOutcome(accepted=True, duplicate=True), True, "replayable: already stored"),
        (IngestOutcome(accepted=True, enrolled=False), False, "not replayable yet: the patient"),
        (
            IngestOutcome.rejected(RejectionCode.AMBIGUOUS_VERSION, "changed since"),
            False, "not replayable now: it would be rejected again: ambiguous-version: changed",
        ),
        (
            IngestOutcome.rejected(RejectionCode.UNKNOWN_SOURCE, "sender not allowed"),
            False, "not replayable now: it would be rejected again: unknown-source",
        ),
    ],
)  # fmt: skip
async def test_a_dry_run_plans_the_replay_and_marks_nothing(
    outcome: IngestOutcome, settled: bool, said: str
) -> None:
    """Review 110 (2): the replay's own plan, from the ingestor's dry run (nothing written),
    never the copy's check alone; the rejection is not marked."""
    rejection, ingest = kept(), RecordingIngest(outcome)
    checked = await Replayer(read_copy, ingest).dry_run(rejection)
    assert (checked.settled, checked.summary.startswith(said)) == (settled, True), checked
    assert ingest.marks == [] and ingest.commands == []
    (command,) = ingest.dry_runs  # as the replay would ingest it
    assert command.received_at == AT and command.rejection_id == rejection.rejection_id


async def test_a_dry_run_refuses_what_the_copys_check_refuses() -> None:
    ingest = RecordingIngest()
    with pytest.raises(ReplayRefused, match="already replayed"):
        await Replayer(read_copy, ingest).dry_run(kept(replayed_at=AT))
    assert ingest.dry_runs == []


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"replayed_at": AT}, "already replayed"),
        ({"channel": Channel.FHIR.value}, "is not replayed"),
        ({"channel": Channel.JSON.value}, "is not replayed"),
        ({"content_digest": None}, "cannot be checked"),
        ({"patient_hmac": None}, "cannot be checked"),
        ({"payload": "(payload not kept: it could not be stored)"}, "cannot be read"),
        ({"payload": "MSH [redacted]\rPID [redacted]"}, "cannot be read"),
        ({"content_digest": "0" * 32}, "does not read as the message did"),
        ({"patient_hmac": "a" * 64}, "does not read as the message did"),
        ({"control_id": "C-78"}, "does not read as the message did"),
    ],
)
def test_what_cannot_be_told_safe_is_not_replayed(changes: dict[str, object], why: str) -> None:
    with pytest.raises(ReplayRefused, match=why):
        Replayer(read_copy, RecordingIngest()).check(kept(**changes))


@pytest.mark.parametrize("number", ["MRN77", "a" * 64])  # in clear; a bare hash (FHIR's)
def test_a_copy_naming_its_patient_otherwise_than_by_an_hl7_hash_is_not_replayed(
    number: str,
) -> None:
    """Only HL7 copies' keyed hashes: a number in clear would be hashed by nobody (and is
    PHI); a bare hash is refused, never a traceback."""
    rejection = kept()
    other = rejection.payload.replace(f"HMAC:{keyed_hash('MRN77')}", number)
    with pytest.raises(ReplayRefused, match=r"cannot be read|keyed hash"):
        Replayer(read_copy, RecordingIngest()).check(dataclasses.replace(rejection, payload=other))


@pytest.mark.parametrize(
    ("value", "kept_copy"),
    [(f"HMAC:{'a' * 64}", True), ("a" * 64, True), ("MRN77", False), (f"HMAC:{'a' * 63}", False),
     (f"HMAC:{'A' * 64}", False), (None, False)],
)  # fmt: skip
def test_a_kept_copys_identifier_is_a_keyed_hash(value: str | None, kept_copy: bool) -> None:
    assert is_kept_copy_identifier(value) is kept_copy
