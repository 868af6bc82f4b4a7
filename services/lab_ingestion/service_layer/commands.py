"""Commands lab-ingestion's entrypoints hand to the service layer, and what comes back."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol

from services.lab_ingestion.domain.model import LabMessage, Place, RejectionCode
from shared.contracts.events.lab import Channel


@dataclass(frozen=True)
class Received:
    """An MLLP input longer than an unknown sender's copy may be (``unlisted_copies``), as
    received: its length and SHA-256, what its rejection names when its copy is not kept
    (its entrypoint does not even make the copy when it knows that already)."""

    chars: int
    sha256: str


@dataclass(frozen=True)
class IngestLabMessage:
    """Store a parsed message's trial results (or its rejection) durably."""

    message: LabMessage
    redact: Callable[[], str]  # the payload without identifying fields, for a rejection
    received_at: datetime
    check_source: bool = True  # HL7 senders must be on the allow-list
    # the senders the caller's token may deliver as (HTTP; None: any, or not a token)
    permitted_senders: frozenset[str] | None = None
    # the rejection id of the input this command stands for (a FHIR transaction, or this
    # message before its patient's number was chosen): one input, one rejection id
    inherited_rejection_id: uuid.UUID | None = None
    # the Observations of the FHIR Bundle it came in, itself among them (those of a trial
    # analyte): a Bundle sent again whole is a resend of every one of them
    bundle: tuple[LabMessage, ...] = ()
    # the MLLP peer's address: what it may keep when its sender is not on the allow-list is
    # counted by it (``unlisted_copies``); and a large input as received (its copy not
    # made when ``redact`` gives "")
    peer: str | None = None
    received: Received | None = None

    @cached_property
    def rejection_id(self) -> uuid.UUID:
        """The id of its rejection, should it be rejected: fixed with the command, so that a
        batch re-run after a commit whose answer was lost stores and emits it once. Drawn
        when first asked for: most messages are accepted, and a random id per message
        showed in profiles of the MLLP path."""
        return self.inherited_rejection_id or uuid.uuid4()

    def for_message(self, message: LabMessage) -> IngestLabMessage:
        """This command for ``message`` (its patient identified), under the same rejection
        id (``replace`` alone would draw another)."""
        return replace(self, message=message, inherited_rejection_id=self.rejection_id)


@dataclass(frozen=True)
class RecordRejectedInput:
    """Keep an input that could not even be parsed."""

    channel: Channel
    code: RejectionCode
    reason: str
    redacted_payload: str
    received_at: datetime
    source: str | None = None
    control_id: str | None = None
    # MSH-3/MSH-4 of an MLLP message, checked against the allow-list: an unknown sender is
    # answered as such (AR) whatever else is wrong with its message
    sender: tuple[str, str] | None = None
    # of an HTTP caller's token (as IngestLabMessage's): another sender's input is answered
    # as such, whatever else is wrong with it
    permitted_senders: frozenset[str] | None = None
    # of a bound token's FHIR input: the sender it is configured as (``LabMessage``'s), which
    # must be on the allow-list: a sender gone from it is answered as such, whatever else
    configured_as: tuple[str, str] | None = None
    rejection_id: uuid.UUID = field(default_factory=uuid.uuid4)  # as IngestLabMessage's
    # of a message read before it failed: what a replay checks its copy against
    patient_hmac: str | None = None
    content_digest: str | None = None
    # of a FHIR transaction the service failed on (``unprocessable``): its messages, and its
    # copy without the entries of those at the positions given (``IngestTransaction``'s),
    # kept instead of ``redacted_payload`` when some patients are not enrolled
    messages: tuple[LabMessage, ...] = ()
    redact_without: Callable[[frozenset[int]], str] | None = None
    peer: str | None = None  # as IngestLabMessage's
    received: Received | None = None  # as IngestLabMessage's (not made: ``redacted_payload`` "")


@dataclass(frozen=True)
class IngestTransaction:
    """Store several messages all together or not at all (a FHIR transaction Bundle)."""

    messages: tuple[LabMessage, ...]
    redact: Callable[[], str]
    received_at: datetime
    rejection_id: uuid.UUID = field(default_factory=uuid.uuid4)  # as IngestLabMessage's
    # the copy without the entries of the messages at the positions given (their patients not
    # enrolled: nothing of theirs is kept), None: ``redact`` only
    redact_without: Callable[[frozenset[int]], str] | None = None


Command = IngestLabMessage | IngestTransaction | RecordRejectedInput


class ResendReason(StrEnum):
    """Why a message was answered "resend" though the service works: a metric's label."""

    # its patient not found before the subject directory caught up at start-up
    DIRECTORY_CATCHING_UP = "subject-directory-catching-up"


@dataclass(frozen=True)
class IngestOutcome:
    accepted: bool
    code: RejectionCode | None = None
    reason: str = ""
    duplicate: bool = False
    enrolled: bool = True
    results: int = 0  # results stored (final, corrected, preliminary)
    cancelled: int = 0  # earlier results cancelled or deleted (X, D)
    not_obtained: int = 0  # results the lab could not obtain, left out (nothing to withdraw)
    limits: int = 0  # of the results stored, those the lab reported as a limit (``<0.1``)
    # results left out as duplicates of the lab's other feed's (``copies_elsewhere``)
    held_elsewhere: int = 0
    transient: bool = False  # not answered because of an internal error: resend
    # transient, and stored: the batch's commit landed but its answer was lost, and what the
    # attempt that committed stored is not known here (``CommitAnswerLost``): its resend is
    # answered as stored. Otherwise a transient outcome stored nothing
    answer_lost: bool = False
    resend_reason: ResendReason | None = None  # of a transient one the service chose
    parts: tuple[IngestOutcome, ...] = ()  # of an accepted transaction: one per message
    failed_part: int | None = None  # of a rejected transaction: the message that failed it
    failed_observation: int | None = None  # of a rejected message: its result at fault
    failed_place: Place | None = None  # of a rejected HL7 message: the field at fault, no OBX's
    result_ids: tuple[uuid.UUID, ...] = ()  # the results it stored (a FHIR create's Location)

    @classmethod
    def rejected(
        cls,
        code: RejectionCode,
        reason: str,
        *,
        observation: int | None = None,
        place: Place | None = None,
    ) -> IngestOutcome:
        return cls(
            accepted=False, code=code, reason=reason, failed_observation=observation,
            failed_place=place,
        )  # fmt: skip


def held_elsewhere_text(count: int) -> str:
    """The results of a message left out as the lab's other feed's (``held_elsewhere``), as
    the ACK and a replay of its kept copy both say it."""
    return (
        f"{count} result(s) already held by another sender (the lab's other feed), not stored again"
    )


# stages, in the batch's unit of work, what is written with the batch's outcomes (a replay's
# mark on its rejection): committed with the batch, or not at all
BeforeCommit = Callable[[Any, Sequence[IngestOutcome]], None]


class Ingest(Protocol):
    """A batch ingestor (``BatchIngestor``): the outcomes of ``commands``, in their order."""

    async def __call__(
        self,
        commands: Sequence[Command],
        *,
        before_commit: BeforeCommit | None = None,
        dry_run: bool = False,
    ) -> list[IngestOutcome]: ...
