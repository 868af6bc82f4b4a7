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
from services.lab_ingestion.domain.model import LabMessage
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
    """Stores every command; is its own unit of work, keeping the replay marks staged."""

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.marks: list[tuple[uuid.UUID, str, bool]] = []

    async def __call__(
        self, commands: Sequence[Command], *, before_commit: BeforeCommit | None = None
    ) -> list[IngestOutcome]:
        self.commands.extend(commands)
        outcomes = [IngestOutcome(accepted=True, results=1)]
        if before_commit is not None:
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
