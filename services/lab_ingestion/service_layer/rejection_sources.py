"""The sender a rejection is kept and announced under (``rejections.source``, the ``source``
of its ``lab.rejected.v1`` event, ``cachexia rejection list``).

A sender on the allow-list is named as the operator configured it. Any other sender's name is
what anyone who reaches the port, or holds a token that may deliver as any sender, wrote: a
copy of the patient's name there must not leave the edge. Such a rejection, whatever its
reason (an unknown sender, a training message, a size or escape error), is named as its kept
copy names it, scrubbed as the rest of the copy: an HL7 message by MSH-3^MSH-4, each its
namespace id or else its universal id; a JSON body by its ``source`` object. A FHIR push is
kept under its token's name (``<token name>^FHIR``), which the operator gave.
"""

from __future__ import annotations

import json

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import IngestLabMessage, RecordRejectedInput
from shared.contracts.events.lab import Channel
from shared.jsonlog import REDACTED

_HL7_CHANNELS = frozenset({Channel.MLLP, Channel.HL7_HTTP})


def rejection_source(
    channel: Channel, code: RejectionCode, copy: str, sent: str | None, *, listed: bool
) -> str | None:
    """``sent`` when its sender is on the allow-list (``listed``) and the rejection is not
    for an unknown sender; else the sender as the kept copy names it."""
    if sent is None or (listed and code is not RejectionCode.UNKNOWN_SOURCE):
        return sent
    if channel in _HL7_CHANNELS:
        return _hl7_source(copy, sent, code)
    if channel is Channel.JSON:
        return _json_source(copy, sent)
    return sent


def listed_sender(
    context: BatchContext, command: IngestLabMessage | RecordRejectedInput, source: str | None
) -> bool:
    """Whether the sender an input names is on the allow-list (its name is then the
    operator's, not whatever its sender wrote)."""
    if isinstance(command, IngestLabMessage):
        message = command.message
        return (message.source_application, message.source_facility) in context.allowed
    if command.sender is not None:  # MSH-3/MSH-4 of an MLLP message
        return command.sender in context.allowed
    application, _, facility = (source or "").partition("^")
    return source is not None and (application, facility) in context.allowed


def _hl7_source(copy: str, sent: str, code: RejectionCode) -> str:
    """MSH-3^MSH-4 as the copy writes them. A copy without an MSH line names no sender: an
    unreadable body kept without a copy is known by its token (``<name>^http``)."""
    header = next((line for line in copy.split("\r") if line[:3].upper() == "MSH"), "")
    if len(header) < 5:
        unread = not copy and code is not RejectionCode.UNKNOWN_SOURCE
        return sent if unread else REDACTED  # nothing in the copy vouches for the sender
    fields, component = header.split(header[3]), header[4]
    application, facility = (
        _sender_name(fields[n].split(component) if len(fields) > n else []) for n in (2, 3)
    )
    return f"{application}^{facility}"


def _json_source(copy: str, sent: str) -> str:
    """``source.application^source.facility`` as the copy keeps them; ``sent`` when the body
    names no sender (it is then its token's name, ``<name>^http``)."""
    try:
        source = json.loads(copy).get("source") if copy else None
    except (ValueError, AttributeError):
        return REDACTED
    if not isinstance(source, dict):
        return sent
    parts = (source.get("application"), source.get("facility"))
    return "^".join(part if isinstance(part, str) else REDACTED for part in parts)


def _sender_name(hd: list[str]) -> str:
    """The name an HD (MSH-3, MSH-4) gives the sender, as the parser reads it: its
    namespace id; else its universal id (an LRI sender's OID, kept by the redaction)."""
    for part in hd[:2]:
        if part.strip():
            return part.strip()
    return ""
