"""The MSH segment of an inbound HL7 v2 message: its header (for the ACK), and the checks
made of it (and of the message's size) before its body is read."""

from __future__ import annotations

import hl7

from services.lab_ingestion.adapters.hl7_ack import (
    DATA_TYPE_ERROR,
    INTERNAL_ERROR,
    SEGMENT_SEQUENCE_ERROR,
    Condition,
    Header,
    escape,
)
from services.lab_ingestion.adapters.hl7_echo import in_default_encoding
from services.lab_ingestion.adapters.hl7_escapes import UnreadableEscape
from services.lab_ingestion.adapters.hl7_fields import field_value, nested_value
from services.lab_ingestion.adapters.hl7_redaction import normalise_separators
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.domain.shown import PROCESSING_CODE, shown

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
PRODUCTION = "P"
PROCESSING_IDS = {"P": "production", "T": "training", "D": "debugging"}  # HL7 table 0103
CURRENT_PROCESSING = ("", "T")  # HL7 table 0207: not present, or current processing
# fields, components, repetitions and subcomponents one message may have (a result is about
# 40; python-hl7 takes about 5 us for each, so at most about 0.25 s of the event loop)
MAX_PARTS = 50_000
MAX_CONTROL_ID_CHARS = 199  # MSH-10's length in HL7 v2.7 and later (20 before)
DEFAULT_ENCODING = "^~\\&"
_FRAMING = " \t\r\x00\x0b\x0c\x1c\ufeff"  # before an MSH: stray framing bytes, blanks


class Hl7InputError(ValueError):
    """The message cannot be used. ``header`` is set when MSH could be read."""

    def __init__(
        self,
        code: RejectionCode,
        reason: str,
        header: Header | None = None,
        condition: Condition | None = None,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.header = header
        self.condition = condition  # HL7 table 0357, when finer than the code's


def check_size(text: str) -> None:
    """One message, of at most MAX_PARTS separators, before it is parsed: python-hl7 builds
    an object per separator, and a megabyte of ``~`` held the event loop, and every other
    sender's ACK, for about 10 s."""
    separators = (text[3], *text[4:6], text[7:8])  # field, component, repetition, subcomponent
    parts = sum(text.count(separator) for separator in separators if separator)
    if parts > MAX_PARTS:
        raise Hl7InputError(
            RejectionCode.MALFORMED,
            f"the message has {parts} fields, components and repetitions; at most {MAX_PARTS} "
            "are read: send fewer results per message",
            read_header(text),
            INTERNAL_ERROR,  # our own limit (HL7 sets none)
        )
    if "\rMSH" in text:  # another message in the same frame
        raise Hl7InputError(
            RejectionCode.MALFORMED,
            "the frame holds more than one message (an MSH segment after the first): send "
            "each message in a frame of its own",
            read_header(text),
            SEGMENT_SEQUENCE_ERROR,
        )


def check_control_id(msh: hl7.Segment, header: Header) -> None:
    if header.control_id_unreadable is not None:  # malformed; its ACK echoes MSH-10 as sent
        raise Hl7InputError(
            RejectionCode.MALFORMED, header.control_id_unreadable, header, DATA_TYPE_ERROR
        )
    if len(msh) > 10 and len(str(msh[10])) > MAX_CONTROL_ID_CHARS:
        raise Hl7InputError(
            RejectionCode.MALFORMED,
            f"MSH-10 (message control id) is longer than {MAX_CONTROL_ID_CHARS} characters",
            header,
            DATA_TYPE_ERROR,  # a length beyond the field's (v2.5.1 has no 104 "value too long")
        )


def check_senders(msh: hl7.Segment, header: Header) -> None:
    """MSH-3 and MSH-4 (HD: namespace id, universal id, its type) hold no sub-components:
    ``LIS&OTHER`` read as its first would be sender LIS, whose site its patients would be
    matched at. Such a header is malformed."""
    for field in (3, 4):
        reason = nested_value(msh, field)
        if reason is not None:
            raise Hl7InputError(RejectionCode.MALFORMED, reason, header, DATA_TYPE_ERROR)


def check_processing(processing: tuple[str, str], header: Header, processing_id: str) -> None:
    """MSH-11 must name this deployment's processing id (required in HL7; none is no
    production message) and current processing: no archive, restore or initial load."""
    sent, mode = processing
    if sent != processing_id:
        raise Hl7InputError(
            RejectionCode.WRONG_PROCESSING_ID,
            f"MSH-11 processing id {shown(sent, PROCESSING_CODE)} is not this system's "
            f"({processing_id}: {PROCESSING_IDS.get(processing_id, processing_id)})",
            header,
        )
    if mode not in CURRENT_PROCESSING:
        raise Hl7InputError(
            RejectionCode.WRONG_PROCESSING_ID,
            f"MSH-11 processing mode {shown(mode, PROCESSING_CODE)} (archive, restore or "
            "initial load) is not "
            "taken: only current results are",
            header,
        )


def read_header(text: str) -> Header | None:
    """Best effort: the MSH of a message that failed to parse, for its ACK; None unless the
    message starts with one (a batch's FHS/BHS: no message of it is answered for the rest).
    Only that segment is parsed, whatever follows it."""
    first = normalise_separators(text).lstrip(_FRAMING).split("\r", 1)[0]
    if not first.startswith("MSH"):
        return None
    try:
        return header_of(hl7.parse(first)[0])
    except Exception:
        return None


def header_of(msh: hl7.Segment) -> Header:
    sent = str(msh[10]) if len(msh) > 10 else ""
    default_separators = str(msh[1]) == "|" and str(msh[2]) == DEFAULT_ENCODING
    if len(sent) > MAX_CONTROL_ID_CHARS:  # refused (parse_oru); echoed as far as it goes,
        sent = sent[:MAX_CONTROL_ID_CHARS]  # never to the middle of an escape
        if sent.count(msh.esc) % 2:
            sent = sent[: sent.rindex(msh.esc)]
        control_id, echoed = sent, sent if default_separators else None
        unreadable = None
    else:
        try:
            control_id = _control_id(msh, sent)
            unreadable = None
        except UnreadableEscape as exc:  # malformed (parse_oru), echoed as written
            control_id, unreadable = "", str(exc)
        echoed = sent if default_separators else _as_sent(msh, sent)
    return Header(
        sending_application=sender_of(msh, 3),
        sending_facility=sender_of(msh, 4),
        echoed_application=hd_as_sent(msh, 3, default_separators=default_separators),
        echoed_facility=hd_as_sent(msh, 4, default_separators=default_separators),
        receiving_application=field_value(msh, 5),
        receiving_facility=field_value(msh, 6),
        echoed_receiving_application=_receiver_as_sent(msh, 5, default_separators),
        echoed_receiving_facility=_receiver_as_sent(msh, 6, default_separators),
        control_id=control_id,
        control_id_sent=echoed,
        control_id_unreadable=unreadable,
        processing_id=field_value(msh, 11) or "P",
        version=field_value(msh, 12),
        trigger=field_value(msh, 9, 1, 2),
    )


def sender_of(msh: hl7.Segment, field: int) -> str:
    """The name MSH-3 or MSH-4 (an HD) gives the sender: its namespace id (HD.1); else its
    universal id (HD.2, an ISO OID in the v2.5.1 LRI and ELR guides, whose senders often
    give no namespace id), so that such senders are told apart and can be allow-listed."""
    return field_value(msh, field) or field_value(msh, field, 1, 2)


def hd_as_sent(msh: hl7.Segment, field: int, *, default_separators: bool) -> str:
    """MSH-3 or MSH-4 as the ACK's MSH-5 or MSH-6 echoes it: the whole HD, every component
    the sender gave (HL7 v2.5.1 chapter 2: the ACK's receiving application and facility are
    the message's sending ones; an engine, or the LRI ACK profile, matching them against its
    own MSH-3/MSH-4 does not find ``LIS`` where it sent ``LIS^2.16.840...^ISO``). As written
    when the message uses HL7's default separators (as MSA-2 echoes MSH-10), else written
    again in them (``in_default_encoding``: its escapes as written)."""
    written = str(msh[field]) if len(msh) > field else ""
    return written if default_separators else _as_sent(msh, written)


def _receiver_as_sent(msh: hl7.Segment, field: int, default_separators: bool) -> str | None:
    """MSH-5 or MSH-6 as the ACK's MSH-3 or MSH-4 echoes it (``hd_as_sent``), when the
    sender filled it (a namespace id or a universal id: not empty, nor HL7's explicit null);
    None otherwise (the ACK then names us)."""
    if not sender_of(msh, field):
        return None
    return hd_as_sent(msh, field, default_separators=default_separators)


def _as_sent(msh: hl7.Segment, written: str) -> str:
    """A field of MSH as written, in HL7's default separators (``in_default_encoding``)."""
    return in_default_encoding(written, str(msh[1]), str(msh[2]))


def whole_field(segment: hl7.Segment, field: int) -> str:
    """Every repetition, component and sub-component of a field, each value read (unescaped)
    and written again in HL7's default separators (trailing empty parts left out): a
    message's identity, whatever its separators (``MSG#1`` is ``MSG^1``), as stored ids
    were always keyed. Not what the ACK echoes (``in_default_encoding``): a hex escape is
    read here one byte a character."""
    if field >= len(segment):
        return ""
    repetitions = []
    for repeat, node in enumerate(segment[field], start=1):
        components = []
        for component, value in enumerate([node] if isinstance(node, str) else node, start=1):
            count = 1 if isinstance(value, str) else max(len(value), 1)
            values = (
                escape(field_value(segment, field, repeat, component, subcomponent=sub))
                for sub in range(1, count + 1)
            )
            components.append("&".join(values).rstrip("&"))
        repetitions.append("^".join(components).rstrip("^"))
    return "~".join(repetitions).rstrip("~")


def _control_id(msh: hl7.Segment, sent: str) -> str:
    """The message's identity (``message_identity``). Most ids hold none of the message's
    separators or escape: one value, read once (a profile of the service's loop counts
    every microsecond of it)."""
    if not any(c in sent for c in str(msh[2])):  # MSH-2: component, repetition, escape...
        value = field_value(msh, 10)
        whole = escape(value)
        return whole if whole != value else value
    return message_identity(msh, whole_field(msh, 10))


def message_identity(msh: hl7.Segment, whole: str) -> str:
    """A message's identity: its whole MSH-10 (``whole``, as ``whole_field`` wrote it).
    Ids differing after a ``^`` are two messages. An id of one value is that value as read
    (as stored ids were always keyed, so that a resend across an upgrade is still found),
    unless the value holds a separator (``A\\S\\B``): then it is escaped, as it was
    written, so that it is never the id of a field of two values (``A^B``)."""
    if _has_parts(whole):
        return whole
    value = field_value(msh, 10)
    return escape(value) if any(c in value for c in _SEPARATORS) else value


_SEPARATORS = "|^~\\&"


def _has_parts(written: str) -> bool:
    """Whether a field ``whole_field`` wrote holds more than one value (its values are
    escaped: a separator in it separates). A message's identity is its whole MSH-10: ids
    differing after a ``^`` are two messages; an id of one value is that value as read (as
    stored ids were always keyed), so that a resend across an upgrade is still found."""
    return any(separator in written for separator in "^~&")
