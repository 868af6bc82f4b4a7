"""A message the service itself fails on, every time (a poison message), is kept as a
rejection and answered as unusable.

Answered "internal error, resend" instead, a lab's engine would resend it for ever and, as
most engines send in order, hold up every result queued behind it. Kept here, it can be
inspected and replayed (``cachexia replay``) once the fault is fixed; its ACK (AE, HL7 error
207) tells the lab. One whose copy could not be kept, or a FHIR or JSON input (whose kept copy
is never replayed: it holds the patient's hash in its ids too), cannot be replayed: the lab
is asked to resend it once the fault is fixed. So is one whose copy a replay would refuse or
take for another sender's (``will_replay``: the redaction changed its message id, order
numbers, results or sender, cutting a name's word, birth date or number run into them): it
is told "do not resend" only when ``cachexia replay`` will take its copy as the message.

A FHIR transaction's copy leaves out the entries of its patients who are not enrolled, as a
rejected transaction's does (``transactions.failed_transaction_copy``: the batch that keeps
it reads their enrolments). Should that batch fail too (the read may be what fails), the
copy leaves out every patient's entries (who is enrolled is not known), and failing that the
rejection is kept without its copy.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from services.lab_ingestion.domain.message_identity import content_digest
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.group_commit import TransientErrors
from services.lab_ingestion.service_layer.kept_copy_text import (
    REPLAYABLE_CHANNELS,
    rejection_control_id,
)
from services.lab_ingestion.service_layer.replay import ReadCopy, ReplayRefused, checked_copy
from shared.contracts.events.lab import Channel
from shared.jsonlog import REDACTED

log = logging.getLogger(__name__)

Ingest = Callable[[Sequence[Command]], Awaitable[list[IngestOutcome]]]
CopyReader = Callable[[], Awaitable[ReadCopy]]  # the replay's reading of a copy, as of now
REASON = (
    "the service failed on this message (an internal error); it is kept and will be replayed "
    "once the fault is fixed: do not resend"
)
REASON_NOT_REPLAYABLE = (
    "the service failed on this message (an internal error); it is kept for the operators but "
    "cannot be replayed: resend it once the platform's operators say the fault is fixed"
)
REASON_NOT_KEPT = (
    "the service failed on this message (an internal error) and could not keep a copy: "
    "resend it once the platform's operators say the fault is fixed"
)
NOT_KEPT = "(payload not kept: it could not be stored)"


async def keep_unprocessable(
    ingest: Ingest,
    command: Command,
    identify: Callable[[str], str] | None = None,
    *,
    transient: TransientErrors,
    copy_reader: CopyReader | None = None,
) -> IngestOutcome:
    """Store the command as a rejection, with its redacted payload if that can be stored
    (``identify``: the keyed hash of a patient's number, for what a replay checks;
    ``copy_reader``: how ``cachexia replay`` reads a copy, to tell the lab "do not resend"
    only when it will take this one as the message: ``will_replay``). A
    ``transient`` error (the storage's, see ``group_commit.TransientErrors``) is raised: the
    payload is not what failed."""
    read_copy = await copy_reader() if copy_reader is not None else None
    attempts = [as_rejection(command, keep_payload=True, identify=identify, read_copy=read_copy)]
    if isinstance(command, IngestTransaction) and command.redact_without is not None:
        attempts.append(as_rejection(command, keep_payload=True, enrolment_unknown=True))
    for attempt in attempts:
        try:
            (outcome,) = await ingest([attempt])
        except transient:
            raise
        except Exception as exc:  # the payload itself (or reading who it is about) may fail
            log.error(
                "keeping a failed message's payload failed", extra={"error": type(exc).__name__}
            )
        else:
            return outcome
    (outcome,) = await ingest([as_rejection(command, keep_payload=False)])
    return outcome


def as_rejection(
    command: Command,
    *,
    keep_payload: bool,
    identify: Callable[[str], str] | None = None,
    enrolment_unknown: bool = False,
    read_copy: ReadCopy | None = None,
) -> RecordRejectedInput:
    """The command as a rejection, still checked as the command would have been: a sender
    not on the allow-list, or not one the caller's token may deliver as, is answered as
    such (AR unknown-source), never kept as the service's own failure. A transaction's
    copy is left to the batch to cut (its patients not enrolled: ``messages`` and
    ``redact_without``), or, ``enrolment_unknown``, cut of every patient's entries. An HL7
    copy is checked as a replay checks it when ``read_copy`` is given (``will_replay``), its
    message id only otherwise."""
    sender: tuple[str, str] | None = None
    permitted: frozenset[str] | None = None
    configured_as: tuple[str, str] | None = None
    patient_hmac = digest = None
    messages: tuple[LabMessage, ...] = ()
    redact_without: Callable[[frozenset[int]], str] | None = None
    if isinstance(command, RecordRejectedInput):
        channel, source, control_id = command.channel, command.source, command.control_id
        sender, permitted = command.sender, command.permitted_senders
        configured_as = command.configured_as
        payload = command.redacted_payload if keep_payload else NOT_KEPT
    elif isinstance(command, IngestLabMessage):
        message = command.message
        channel, source = message.channel, message.source
        if command.check_source:
            sender = (message.source_application, message.source_facility)
        permitted, configured_as = command.permitted_senders, message.configured_as
        copy = _redacted(command.redact)  # an HL7 copy's MSH-10 is the id kept, even unkept
        payload = copy if keep_payload else NOT_KEPT
        control_id = rejection_control_id(channel, copy, message.control_id)
        if identify is not None and message.patient_identifier:
            patient_hmac = identify(message.patient_identifier)
            digest = content_digest(message, patient_hmac)
    else:
        channel, control_id = Channel.FHIR, None
        source = command.messages[0].source if command.messages else None
        configured_as = command.messages[0].configured_as if command.messages else None
        redact = command.redact
        if keep_payload and command.redact_without is not None:
            if enrolment_unknown:
                everyone = frozenset(range(len(command.messages)))
                redact = partial(command.redact_without, everyone)
            else:
                messages, redact_without = command.messages, command.redact_without
        payload = _redacted(redact) if keep_payload else NOT_KEPT
    kept = payload not in (NOT_KEPT, "")
    # an MLLP input's peer, and as received: bounded as the batch would have (``rejections``)
    peer, received = (None, None) if isinstance(command, IngestTransaction) else (
        command.peer, command.received
    )  # fmt: skip
    checkable = None not in (patient_hmac, digest) and REDACTED not in (control_id or "")
    if checkable and kept and read_copy is not None and isinstance(command, IngestLabMessage):
        as_kept = KeptRejection(
            uuid.UUID(int=0), channel.value, source, control_id, "", "", payload,
            command.received_at, patient_hmac, digest, None, None,
        )  # fmt: skip
        checkable = will_replay(as_kept, command.message, read_copy)
    return RecordRejectedInput(
        channel, RejectionCode.PROCESSING_FAILED, _reason(channel, kept, checkable), payload,
        command.received_at, source=source, control_id=control_id, sender=sender,
        permitted_senders=permitted, configured_as=configured_as,
        patient_hmac=patient_hmac if kept else None,
        content_digest=digest if kept else None,
        messages=messages if kept else (), redact_without=redact_without if kept else None,
        peer=peer, received=received,
    )  # fmt: skip


def _reason(channel: Channel, kept: bool, checkable: bool) -> str:
    """What the lab is told: do not resend (a replay will store it), or resend once fixed:
    a copy not kept, a FHIR or JSON one, or one ``cachexia replay`` cannot check (no patient
    hash or content digest, a message id whose personal value was scrubbed) is never
    replayed (``replay.checked_copy``)."""
    if not kept:
        return REASON_NOT_KEPT
    replayable = channel.value in REPLAYABLE_CHANNELS and checkable
    return REASON if replayable else REASON_NOT_REPLAYABLE


def will_replay(copy: KeptRejection, message: LabMessage, read_copy: ReadCopy) -> bool:
    """Whether ``cachexia replay`` takes the kept copy as the message (``checked_copy``:
    the same message id, patient and content digest), from the sender the message named:
    the replay reads its sender from the copy (review 128: ``ST[redacted]S`` for STJOHNS
    was refused ``unknown-source`` after the lab had been told not to resend)."""
    try:
        replayed = checked_copy(copy, read_copy)
    except ReplayRefused:
        return False
    sender = (message.source_application, message.source_facility)
    return (replayed.source_application, replayed.source_facility) == sender


def _redacted(redact: Callable[[], str]) -> str:
    try:
        return redact()
    except Exception as exc:  # never store what could not be redacted
        log.error("redacting a failed message failed", extra={"error": type(exc).__name__})
        return NOT_KEPT
