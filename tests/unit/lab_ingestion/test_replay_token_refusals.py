"""A message refused because its token may not deliver as its sender is not replayed (review
45): the token is not kept, so ``cachexia replay`` could not check it again; the rejection is
kept without what a replay checks a copy against, and the lab resends with the right token."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.domain.kept_copy import kept_copy_hash
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from services.lab_ingestion.service_layer.replay import Replayer, ReplayRefused, checked_copy
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.hl7_samples import join, msh, seg
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, FakeLabs, FakeUnitOfWork

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
MRN = "MRN77"


def keyed(number: str) -> str:
    return hashlib.sha256(f"key:{number}".encode()).hexdigest()


HL7 = join([
    msh(app="LIS", facility="HOSP", control_id="T-1", extra={7: "20261120071500+0000"}),
    seg("PID", {1: "1", 3: f"{MRN}^^^HOSP^MR", 5: "DOE^JANE"}),
    seg("OBR", {1: "1", 3: "F77", 7: "20261120070000+0000"}),
    seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "42", 6: "mg/L", 11: "F"}),
])  # fmt: skip


class KeepingLabs(FakeLabs):
    rejections: list[Any] = []

    def stage(self, messages: Any, results: Any, cancellations: Any, *rest: Any,
              assumptions: Any = None) -> None:  # fmt: skip
        KeepingLabs.rejections.extend(rest[0])
        super().stage(messages, results, cancellations, assumptions=assumptions)


class KeepingUnitOfWork(FakeUnitOfWork):
    def __init__(self, db: FakeDatabase) -> None:
        super().__init__(db)
        self.labs = KeepingLabs(db)


async def test_a_rejection_for_a_token_not_bound_to_its_sender_is_not_replayed() -> None:
    """POST /v1/hl7 with a token bound to OTHER^LAB delivering as LIS^HOSP: rejected
    unknown-source ("not one this token may deliver results as"); a replay, which cannot
    check the token again, refuses it rather than storing it as LIS^HOSP's result."""
    db = FakeDatabase(enrolled={keyed(MRN): "S-1"})
    KeepingLabs.rejections = []
    live = BatchIngestor(lambda: KeepingUnitOfWork(db), keyed)
    message, _ = parse_oru(HL7, Channel.HL7_HTTP, identify=keyed)
    command = IngestLabMessage(
        message, lambda: redact(HL7, keyed), AT, permitted_senders=frozenset({"OTHER^LAB"})
    )
    (outcome,) = await live([command])
    assert outcome.code is not None and outcome.code.value == "unknown-source"
    record = KeepingLabs.rejections[-1]  # staged again after a replan: the same id
    assert {r.rejection_id for r in KeepingLabs.rejections} == {record.rejection_id}
    kept = KeptRejection(
        record.rejection_id, record.channel, record.source, record.control_id,
        record.code.value, record.reason, record.payload, record.received_at,
        record.patient_hmac, record.content_digest, None, None,
    )  # fmt: skip

    def read_copy(rejection: KeptRejection) -> Any:
        copy, _ = parse_oru(rejection.payload, Channel(rejection.channel), identify=kept_copy_hash)
        return copy

    assert (record.patient_hmac, record.content_digest) == (None, None)
    replayer = Replayer(read_copy, BatchIngestor(lambda: FakeUnitOfWork(db), kept_copy_hash,
                                                 reads_kept_copies=True))  # fmt: skip
    with pytest.raises(ReplayRefused, match="delivered by a token that may not deliver as"):
        await replayer.replay(kept)
    assert db.results == []


async def test_a_sender_neither_listed_nor_the_tokens_is_said_to_be_both() -> None:
    """Review 86: a token bound to OTHER^LAB delivering as LIS^ELSEWHERE, not on the
    allow-list, was told only "not on the allow-list"; the operator added the sender, and
    the replay was refused as a copy that "cannot be checked". The reason says both, and
    the replay says why it is never replayed."""
    db = FakeDatabase(enrolled={keyed(MRN): "S-1"})
    KeepingLabs.rejections = []
    hl7 = HL7.replace("LIS|HOSP", "LIS|ELSEWHERE")
    message, _ = parse_oru(hl7, Channel.HL7_HTTP, identify=keyed)
    command = IngestLabMessage(
        message, lambda: redact(hl7, keyed), AT, permitted_senders=frozenset({"OTHER^LAB"})
    )
    (outcome,) = await BatchIngestor(lambda: KeepingUnitOfWork(db), keyed)([command])
    assert outcome.reason == (
        "sender 'LIS^ELSEWHERE' (MSH-3^MSH-4) is not on the allow-list, nor one this token "
        "may deliver results as"
    )
    record = KeepingLabs.rejections[-1]
    kept = KeptRejection(
        record.rejection_id, record.channel, record.source, record.control_id,
        record.code.value, record.reason, record.payload, record.received_at,
        record.patient_hmac, record.content_digest, None, None,
    )  # fmt: skip
    with pytest.raises(ReplayRefused, match="resend it with its own token"):
        checked_copy(kept, lambda _: message)


async def test_a_rejection_of_a_sender_not_on_the_allow_list_stays_replayable() -> None:
    """Refused by the allow-list (no token involved): kept with what a replay checks, so the
    message is stored once its sender is added (README: a replay re-checks the allow-list)."""
    db = FakeDatabase(enrolled={keyed(MRN): "S-1"})
    KeepingLabs.rejections = []
    message, _ = parse_oru(HL7.replace("LIS|HOSP", "LIS|ELSEWHERE"), Channel.MLLP, identify=keyed)
    command = IngestLabMessage(message, lambda: "", AT)
    (outcome,) = await BatchIngestor(lambda: KeepingUnitOfWork(db), keyed)([command])
    assert outcome.code is not None and outcome.code.value == "unknown-source"
    record = KeepingLabs.rejections[-1]
    assert record.patient_hmac == keyed(MRN) and record.content_digest is not None
