"""What one batch keeps of a rejected input: the rejection and its event (pure bookkeeping on
the ``BatchContext``; the write stores it), the copy bounded for a sender not on the
allow-list."""

from __future__ import annotations

import hashlib

from services.lab_ingestion.domain.message_identity import content_digest
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.domain.reason_wording import worded
from services.lab_ingestion.domain.records import RejectionRecord
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    IngestLabMessage,
    Received,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.events import rejected_event
from services.lab_ingestion.service_layer.kept_copy_text import rejection_control_id
from services.lab_ingestion.service_layer.rejection_sources import (
    listed_sender,
    rejection_source,
)
from shared.contracts.events.lab import Channel
from shared.contracts.topics import LAB_REJECTED


def reject(
    context: BatchContext,
    command: IngestLabMessage | RecordRejectedInput,
    code: RejectionCode,
    reason: str,
) -> str:
    """Keep ``command`` as rejected, and say why as it is kept: the reason naming the
    sender as the kept copy does (``rejection_source``). The answer says that too (an
    interface engine logs its ACKs): never the name the copy scrubbed."""
    patient_hmac: str | None = None
    digest: str | None = None
    if isinstance(command, RecordRejectedInput):
        channel, source, control_id = command.channel, command.source, command.control_id
        payload, received_at = command.redacted_payload, command.received_at
        patient_hmac, digest = command.patient_hmac, command.content_digest
    else:
        message = command.message
        channel, source = message.channel, message.source
        payload, received_at = command.redact(), command.received_at
        control_id = rejection_control_id(channel, payload, message.control_id)
        patient_hmac = context.hmacs.get(message.patient_identifier or "")
        if patient_hmac is not None:  # what a replay of the kept copy must find again
            digest = content_digest(message, patient_hmac)
    reason = worded(reason, channel)  # a JSON or FHIR sender has no MSH-10 or OBX-4
    if _refused_for_its_token(command, source):  # a replay could not check the token again
        patient_hmac = digest = None
    listed = listed_sender(context, command, source)
    shown_source = rejection_source(channel, code, payload, source, listed=listed)
    if shown_source != source and source:  # the reason names the sender as the copy does
        reason = reason.replace(repr(source), repr(shown_source))
    answered = reason
    if channel is Channel.MLLP and not _from_a_listed_sender(context, command, code):
        # anyone who reaches the port: a peer beyond its budget leaves nothing (answered)
        if not context.unlisted.admit(command.peer, command.rejection_id):
            return answered
        payload, reason = _bounded_copy(
            payload, reason, context.unlisted.max_chars, command.received
        )
    elif command.received is not None and not payload:  # listed since its entrypoint looked
        payload, reason = _bounded_copy(payload, reason, 0, command.received)
    record = RejectionRecord(
        command.rejection_id, channel.value, shown_source, control_id, code, reason, payload,
        received_at, patient_hmac, digest,
    )  # fmt: skip
    context.rejections.append(record)
    context.events.append((LAB_REJECTED, rejected_event(record)))
    return answered


def _refused_for_its_token(
    command: IngestLabMessage | RecordRejectedInput, source: str | None
) -> bool:
    """An input naming a sender its token may not deliver as: kept without what a replay
    checks a copy against (the token is not kept), so ``cachexia replay`` refuses it and the
    lab resends it with the right token."""
    permitted = command.permitted_senders
    return permitted is not None and source is not None and source not in permitted


def _from_a_listed_sender(
    context: BatchContext, command: IngestLabMessage | RecordRejectedInput, code: RejectionCode
) -> bool:
    """An MLLP input whose MSH-3/4 is on the allow-list: a frame cut short or without a
    readable MSH names nobody, and may come from anyone who reaches the port."""
    if code is RejectionCode.UNKNOWN_SOURCE:
        return False
    if isinstance(command, RecordRejectedInput):
        return command.sender is not None and command.sender in context.allowed
    return True  # a parsed message that got past the allow-list


def _bounded_copy(
    payload: str, reason: str, max_chars: int, received: Received | None
) -> tuple[str, str]:
    """A message over ``max_chars`` from a sender not on the allow-list (anyone who reaches
    the MLLP port) is kept as its length and digest: a megabyte a message, kept without
    limit, would fill the database's disk and stop ingestion for every lab. The length and
    digest are of the input as received when known (``received``: a lab can check its own
    copy against them), else of the copy; an empty copy with ``received`` was not made."""
    made = bool(payload) or received is None
    if made and len(payload) <= max_chars:
        return payload, reason
    if received is not None:
        size, digest = received.chars, received.sha256
    else:
        size, digest = len(payload), hashlib.sha256(payload.encode()).hexdigest()
    return "", (
        f"{reason} (its copy of {size} characters, SHA-256 {digest}, is not kept: "
        "larger than a sender not on the allow-list may leave)"
    )
