"""HL7 v2 acknowledgements: the ACK of one inbound message, for the MLLP listener and
``POST /v1/hl7`` (MSA echoes MSH-10; ERR by version; reasons cut before escaping)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from services.lab_ingestion.adapters.hl7_error_location import ErrorLocation
from services.lab_ingestion.domain.model import RejectionCode


@dataclass(frozen=True)
class Header:
    """What an ACK echoes from the inbound MSH."""

    # MSH-3 and MSH-4: the sender's namespace id (HD.1), or its universal id (HD.2) when it
    # names itself by that alone (the v2.5.1 LRI and ELR way: ``^2.16.840.1.113883.3.72.5.20^ISO``)
    sending_application: str = ""
    sending_facility: str = ""
    # the ACK's MSH-5 and MSH-6: MSH-3 and MSH-4, each the whole HD as sent (``hd_as_sent``:
    # namespace id, universal id and its type); None: the name above, escaped
    echoed_application: str | None = None
    echoed_facility: str | None = None
    receiving_application: str = ""
    receiving_facility: str = ""
    # the ACK's MSH-3 and MSH-4: MSH-5 and MSH-6, each the whole HD as sent (as MSH-3/MSH-4
    # are echoed above), when the sender filled them; None: the name above, escaped, and
    # when that is empty too, ours (``OUR_APPLICATION``, ``OUR_FACILITY``)
    echoed_receiving_application: str | None = None
    echoed_receiving_facility: str | None = None
    control_id: str = ""
    # MSA-2: MSH-10 as written (escapes and blanks kept) when the message uses HL7's default
    # separators, echoed byte for byte (an escape read and written again was not the same
    # bytes, and a formatting escape could grow an ACK a hundredfold); else the whole field
    # written again in the ACK's default separators (``MSG#1`` is ``MSG^1``). None: the
    # control id, escaped
    control_id_sent: str | None = None
    # why MSH-10 cannot be read (an escape that cannot be: the message is malformed, but its
    # ACK still echoes MSH-10 as written), None when it can
    control_id_unreadable: str | None = None
    version: str = "2.5.1"
    trigger: str = "R01"
    processing_id: str = "P"
    # the HL7 table 0211 name of the character set the ACK is written in, None for ASCII:
    # an ACK holding a letter beyond ASCII names it in MSH-18 (``build_ack``)
    charset: str | None = None


# the ACK's MSH-3 and MSH-4 when the message named no receiving application or facility
OUR_APPLICATION, OUR_FACILITY = "LENA-CCS", "TRIAL"
# HL7 table 0357 (message error condition codes, v2.5.1). A malformed message's condition
# is its cause's: 100 only a segment out of place (no MSH first, a second MSH in the frame,
# segments python-hl7 cannot split), 102 a value that cannot be read (an escape, a NUL, a
# byte not of the declared character set, MSH-2's encoding characters), 101 a required
# field missing; 207, the table's catch-all, our own failures and our own limits (a frame
# over the size limit, too many fields, PID-3 repetitions: the message may be valid HL7).
Condition = tuple[str, str]
INTERNAL_ERROR = _INTERNAL_ERROR = ("207", "Application internal error")
SEGMENT_SEQUENCE_ERROR = ("100", "Segment sequence error")
REQUIRED_FIELD_MISSING = _REQUIRED_FIELD_MISSING = ("101", "Required field missing")
UNSUPPORTED_EVENT = ("201", "Unsupported event code")
UNSUPPORTED_VERSION = ("203", "Unsupported version id")
_TABLE_VALUE_NOT_FOUND = ("103", "Table value not found")
DATA_TYPE_ERROR = _DATA_TYPE_ERROR = ("102", "Data type error")
_ERROR_CODES = {
    # when its cause gives none (``Hl7InputError.condition``): a frame without <VT>
    RejectionCode.MALFORMED: SEGMENT_SEQUENCE_ERROR,
    RejectionCode.UNSUPPORTED_MESSAGE: ("200", "Unsupported message type"),
    RejectionCode.WRONG_PROCESSING_ID: ("202", "Unsupported processing id"),
    RejectionCode.UNKNOWN_SOURCE: ("204", "Unknown key identifier"),
    RejectionCode.MISSING_PATIENT: _REQUIRED_FIELD_MISSING,
    RejectionCode.MISSING_COLLECTION_TIME: _REQUIRED_FIELD_MISSING,
    RejectionCode.IMPLAUSIBLE_TIME: _DATA_TYPE_ERROR,
    RejectionCode.UNKNOWN_ANALYTE: _TABLE_VALUE_NOT_FOUND,
    RejectionCode.AMBIGUOUS_ANALYTE: _DATA_TYPE_ERROR,
    RejectionCode.UNCONVERTIBLE_UNIT: _TABLE_VALUE_NOT_FOUND,
    RejectionCode.MISSING_UNIT: _REQUIRED_FIELD_MISSING,
    RejectionCode.NON_NUMERIC_VALUE: _DATA_TYPE_ERROR,
    RejectionCode.CENSORED_VALUE: _DATA_TYPE_ERROR,
    RejectionCode.IMPLAUSIBLE_VALUE: _DATA_TYPE_ERROR,
    RejectionCode.UNKNOWN_STATUS: _TABLE_VALUE_NOT_FOUND,
    # a legal ORU^R01 (several PATIENT_RESULT groups) that this application does not split
    RejectionCode.MULTIPLE_PATIENTS: ("100", "Segment sequence error"),
    RejectionCode.UNKNOWN_CORRECTED_RESULT: ("204", "Unknown key identifier"),
    RejectionCode.OTHER_PATIENTS_RESULT: ("205", "Duplicate key identifier"),
    RejectionCode.AMBIGUOUS_PATIENT: ("205", "Duplicate key identifier"),
    RejectionCode.AMBIGUOUS_IDENTIFIER: ("205", "Duplicate key identifier"),
    RejectionCode.OTHER_ANALYTES_RESULT: ("205", "Duplicate key identifier"),
    RejectionCode.OTHER_SAMPLES_RESULT: ("205", "Duplicate key identifier"),
    RejectionCode.CONFLICTING_IDENTIFIERS: ("205", "Duplicate key identifier"),
    RejectionCode.REUSED_MESSAGE_ID: ("205", "Duplicate key identifier"),
    RejectionCode.AMBIGUOUS_VERSION: ("205", "Duplicate key identifier"),  # a late copy
    RejectionCode.SUBJECT_WITHDRAWN: ("204", "Unknown key identifier"),
    RejectionCode.PROCESSING_FAILED: _INTERNAL_ERROR,
    RejectionCode.KEPT_COPY: _DATA_TYPE_ERROR,  # PID-3 holds a hash, no hospital number
}  # 207 (application internal error): failures of the service itself
MSA3_LENGTH = 80  # MSA-3 (text message) is ST(80) in v2.3-2.5.1
ELLIPSIS = "..."
# a cut at a blank before this share of the length loses too much: cut within the word
_SHORTEST_CUT_SHARE = 0.5
# an escape sequence in a reason's text (one quoting what a sender wrote: ``\X41\``,
# ``\F\``, ``\.sp2\``), never cut: before the ACK escapes it, it reads as one
_ESCAPE_SEQUENCE = re.compile(r"\\[^\\\s]{1,32}\\")
_LONGEST_SEQUENCE = 34  # its backslashes and at most 32 characters between them
ERR_TEXT_LENGTH = 200  # ERR-8 (user message, v2.5+)
# what an ACK echoes of the inbound MSH, at most (HL7 v2.5.1 lengths): MSH-3 to MSH-6 are HD
# (227), MSH-10 is ST (199 at most), MSH-11 PT (3), MSH-12 VID (60), MSH-9's trigger ID (3)
HD_LENGTH, ST_LENGTH, PT_LENGTH, VID_LENGTH, TRIGGER_LENGTH = 227, 199, 3, 60, 3
# an echo is its value as sent rewritten in the default separators: a character may become an
# escape of three (``^`` as ``\S\``), so a value of its HL7 length as sent fits in three times it
# (review 135: an MSH-10 of 199 holding carets was cut, and the lab could not match its ACK)
ESCAPED = 3


def build_ack(
    header: Header | None,
    code: str,
    *,
    text: str = "",
    error: RejectionCode | None = None,
    condition: Condition | None = None,
    location: ErrorLocation | None = None,
    control_id: str,
    now: datetime | None = None,
) -> str:
    """An ACK (MSA-1 ``code``, MSA-2 the inbound MSH-10, MSA-3 the reason, ERR on error).

    Its MSH-3/MSH-4 are the message's MSH-5/MSH-6 (HL7 v2.5.1 chapter 2: the receiving
    application and facility answer as themselves; an engine that routes by them finds its
    ACK under the name it addressed), ours when the sender left them empty; its MSH-5/MSH-6
    are the message's MSH-3/MSH-4. Each value echoed is cut to its HL7 length (``bounded``:
    an HD 227 characters, MSH-10 199, as sent: three times that as escaped): an ACK is never
    hundreds of kilobytes, whatever the
    sender wrote (a peer that never reads its ACKs would hold its connection's slot with a
    few frames; review 132).

    The reason is cut before it is escaped, so a cut never splits an escape sequence; MSA-3
    at the last blank within its 80 characters, marked ``...`` (``shortened``). The
    ERR segment follows the version echoed in MSH-12: ERR-1 (segment ^ sequence ^ field ^
    code&text&HL70357) before v2.5, ERR-2/ERR-3/ERR-4/ERR-8 from v2.5 on; its condition is the
    error's (``condition``, else the one of ``error``'s rejection code), its location
    (``location``: ERR-1's first components, ERR-2) where the error lies, when known. An
    ACK holding a letter beyond ASCII (echoed, or in the reason) names in MSH-18 the set it
    is written in (``Header.charset``): without MSH-18 an HL7 message is ASCII, and a
    receiver reading it so finds no MSA-2 matching its MSH-10.
    """
    h = header or Header()
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S+0000")
    version = bounded(escape(h.version), VID_LENGTH) or "2.5.1"
    msh = [
        "MSH", "^~\\&",
        _echoed(h.echoed_receiving_application, h.receiving_application) or OUR_APPLICATION,
        _echoed(h.echoed_receiving_facility, h.receiving_facility) or OUR_FACILITY,
        _echoed(h.echoed_application, h.sending_application),
        _echoed(h.echoed_facility, h.sending_facility), stamp, "", _message_type(h),
        control_id, bounded(escape(h.processing_id), PT_LENGTH) or "P", version,
    ]  # fmt: skip
    echo = h.control_id_sent if h.control_id_sent is not None else escape(h.control_id)
    echo = bounded(echo, ESCAPED * ST_LENGTH)
    msa = ["MSA", code, echo, escape(shortened(text, MSA3_LENGTH))]
    if h.charset is not None and not all(part.isascii() for part in (*msh, *msa, text)):
        msh += ["", "", "", "", "", h.charset]  # MSH-13 to MSH-17 empty, MSH-18
    segments = ["|".join(msh), "|".join(msa)]
    if code != "AA":
        number, name = condition or (
            _ERROR_CODES.get(error, _INTERNAL_ERROR) if error else _INTERNAL_ERROR
        )
        where = location.components() if location else []
        if _before_v25(h.version):
            eld = [*where, "", "", ""][:3]  # segment ^ sequence ^ field ^ code
            segments.append(f"ERR|{'^'.join(eld)}^{number}&{name}&HL70357")
        else:
            user_message = escape(text[:ERR_TEXT_LENGTH])
            erl = "^".join(where)
            segments.append(f"ERR||{erl}|{number}^{name}^HL70357|E||||{user_message}")
    return "\r".join(segments) + "\r"


def shortened(text: str, length: int) -> str:
    """``text`` in at most ``length`` characters: whole when it fits, else cut at its last
    blank that leaves room for ``...`` (not ``...converted to mg/L for cr``), within a word
    only when no blank comes late enough; never inside an escape sequence the text holds
    (``\\X0D\\``, ``\\F\\``: the ACK escapes the text after the cut, so no escape it
    writes is ever cut either)."""
    if len(text) <= length:
        return text
    room = length - len(ELLIPSIS)
    cut = max(text.rfind(blank, 0, room + 1) for blank in " \t\r\n")  # the blank not kept
    if cut < length * _SHORTEST_CUT_SHARE:
        cut = room
    for sequence in _ESCAPE_SEQUENCE.finditer(text, 0, cut + _LONGEST_SEQUENCE):
        if sequence.start() < cut < sequence.end():
            cut = sequence.start()
            break
    return text[:cut].rstrip(" \t\r\n,;:") + ELLIPSIS


def _echoed(hd: str | None, namespace: str) -> str:
    return bounded(hd if hd is not None else escape(namespace), ESCAPED * HD_LENGTH)


def bounded(written: str, length: int) -> str:
    """A value as written in the ACK (escaped) in at most ``length`` characters, never cut
    inside an escape sequence: an odd number of backslashes left means the cut split one,
    which is then left out whole."""
    if len(written) <= length:
        return written
    cut = written[:length]
    return cut[: cut.rfind("\\")] if cut.count("\\") % 2 else cut


_DIGITS = re.compile(r"[0-9]+")


def _message_type(h: Header) -> str:
    """MSH-9: ACK, the trigger echoed, and from v2.3.1 on the message structure (v2.3's
    MSH-9 has two components)."""
    trigger = bounded(escape(h.trigger), TRIGGER_LENGTH) or "R01"
    return f"ACK^{trigger}" if h.version == "2.3" else f"ACK^{trigger}^ACK"


def _before_v25(version: str) -> bool:
    """v2.3 and v2.4 define ERR-1 only (ERR-2 onwards arrived with v2.5)."""
    major, _, rest = version.partition(".")
    minor = rest.partition(".")[0]
    # ASCII digits only: "²".isdigit() holds, and int("²") raises
    if not (_DIGITS.fullmatch(major) and _DIGITS.fullmatch(minor)):
        return False
    return (int(major), int(minor)) < (2, 5)


def escape(value: str) -> str:
    """A value written in HL7's default separators (line breaks, which no field holds, as
    blanks)."""
    return (
        value.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
        .replace("\r", " ")
        .replace("\n", " ")
    )
