"""HL7 v2 ORU^R01 (v2.3-2.5.1) in, ACK out, parsed with python-hl7.

``parse_oru`` turns one ER7 message into a ``LabMessage`` (or raises ``Hl7InputError`` with
the HL7 error to report); ``build_ack`` writes the acknowledgement; ``redact`` removes the
identifying fields of a message kept for inspection (PROTOCOL section 6).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import hl7
import hl7.containers
import hl7.parser
import hl7.util
from hl7.util import unescape

from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    RejectionCode,
)
from shared.contracts.events.lab import Channel

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
_TS = re.compile(
    r"^([0-9]{4})([0-9]{2})?([0-9]{2})?([0-9]{2})?([0-9]{2})?([0-9]{2})?"
    r"(?:\.([0-9]{1,4}))?([+-][0-9]{4})?$"
)
_LINE_BREAKS = re.compile(r"[\r\n]+")


def silence_library_logging() -> None:
    """python-hl7 logs parse problems with the offending field's content, which can be a
    patient's name or birth date; its loggers (named after its files) are switched off. Parse
    problems are reported by this module instead, as rejections without PHI."""
    for module in (hl7.util, hl7.containers, hl7.parser):
        logging.getLogger(module.__file__).disabled = True


class Hl7InputError(ValueError):
    """The message cannot be used. ``header`` is set when MSH could be read."""

    def __init__(self, code: RejectionCode, reason: str, header: Header | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.header = header


@dataclass(frozen=True)
class Header:
    """What an ACK echoes from the inbound MSH."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    control_id: str = ""
    version: str = "2.5.1"
    trigger: str = "R01"
    processing_id: str = "P"


def normalise_separators(text: str) -> str:
    """Segments may end in \\r, \\n or \\r\\n; HL7 wants \\r."""
    return _LINE_BREAKS.sub("\r", text).strip("\r \t\x00")


def parse_oru(text: str, channel: Channel = Channel.MLLP) -> tuple[LabMessage, Header]:
    """Parse one ORU^R01 (and its header, for the ACK); raise Hl7InputError if unusable."""
    text = normalise_separators(text)
    if not text.startswith("MSH") or len(text) < 8:
        raise Hl7InputError(
            RejectionCode.MALFORMED, "the message does not start with an MSH segment"
        )
    try:
        parsed = hl7.parse(text)
        header = _header(parsed)
    except Exception as exc:  # python-hl7 raises assorted errors on broken input
        raise Hl7InputError(
            RejectionCode.MALFORMED, f"unparseable HL7: {type(exc).__name__}"
        ) from None
    message_type = _get(parsed.segment("MSH"), 9, 1, 1)
    if message_type != "ORU" or header.trigger != "R01":
        raise Hl7InputError(
            RejectionCode.UNSUPPORTED_MESSAGE,
            f"only ORU^R01 is accepted, got {message_type}^{header.trigger}",
            header,
        )
    if header.version not in SUPPORTED_VERSIONS:
        raise Hl7InputError(
            RejectionCode.UNSUPPORTED_MESSAGE,
            f"HL7 version {header.version!r} not supported",
            header,
        )
    if not header.control_id:
        raise Hl7InputError(RejectionCode.MALFORMED, "MSH-10 (message control id) is empty", header)
    try:
        message = LabMessage(
            channel=channel,
            source_application=header.sending_application,
            source_facility=header.sending_facility,
            control_id=header.control_id,
            patient_identifier=_patient_identifier(parsed),
            observations=tuple(_observations(parsed)),
        )
        return message, header
    except Hl7InputError as exc:
        raise Hl7InputError(exc.code, exc.reason, header) from None
    except Exception as exc:
        raise Hl7InputError(
            RejectionCode.MALFORMED, f"unreadable segment structure: {type(exc).__name__}", header
        ) from None


def read_header(text: str) -> Header | None:
    """Best effort: the MSH of a message that failed to parse, for its ACK."""
    try:
        return _header(hl7.parse(normalise_separators(text)))
    except Exception:
        return None


def _header(message: hl7.Message) -> Header:
    msh = message.segment("MSH")
    return Header(
        sending_application=_get(msh, 3),
        sending_facility=_get(msh, 4),
        receiving_application=_get(msh, 5),
        receiving_facility=_get(msh, 6),
        control_id=_get(msh, 10),
        processing_id=_get(msh, 11) or "P",
        version=_get(msh, 12),
        trigger=_get(msh, 9, 1, 2),
    )


def _get(segment: hl7.Segment, field: int, repeat: int = 1, component: int = 1) -> str:
    """Field/repetition/component (1-based) of a parsed segment, unescaped; "" if absent.

    Walks python-hl7's containers directly (its ``extract_field`` builds an accessor per
    call, which doubles the cost of reading a message); a deeper value yields its first
    sub-component, as ``extract_field`` does.
    """
    if field >= len(segment):
        return ""
    repetitions = segment[field]
    if repeat > len(repetitions):
        return ""
    node: Any = repetitions[repeat - 1]
    if isinstance(node, str):
        value = node if component == 1 else ""
    elif component > len(node):
        return ""
    else:
        node = node[component - 1]
        while not isinstance(node, str):
            node = node[0] if len(node) else ""
        value = node
    if segment.esc in value:
        value = unescape(segment, value)
    return str(value).strip()


def _patient_identifier(message: hl7.Message) -> str | None:
    try:
        pid = message.segment("PID")
    except KeyError:
        return None
    return _get(pid, 3) or None


def _observations(message: hl7.Message) -> list[ObservationInput]:
    observations = []
    order_key, order_time = "", None
    for segment in message:
        kind = str(segment[0])
        if kind == "OBR":
            order_key = _get(segment, 3) or _get(segment, 2) or _get(segment, 1)
            order_time = parse_ts(_get(segment, 7))
        elif kind == "OBX":
            observations.append(_observation(segment, order_key, order_time))
    return observations


def _observation(obx: hl7.Segment, order_key: str, order_time: datetime | None) -> ObservationInput:
    codes = [Coding(_get(obx, 3, 1, 1), _get(obx, 3, 1, 3) or None, _get(obx, 3, 1, 2) or None)]
    alternate = _get(obx, 3, 1, 4)
    if alternate:
        codes.append(Coding(alternate, _get(obx, 3, 1, 6) or None, _get(obx, 3, 1, 5) or None))
    unit = tuple(u for u in (_get(obx, 6, 1, c) for c in range(1, 7)) if u)
    observed = parse_ts(_get(obx, 14))
    return ObservationInput(
        result_key=f"{order_key}|{codes[0].code}|{_get(obx, 4)}",
        codes=tuple(c for c in codes if c.code),
        value=_get(obx, 5),
        unit=unit,
        reference_range=_get(obx, 7) or None,
        abnormal_flag=_get(obx, 8) or None,
        status=_get(obx, 11) or "F",
        collected_at=observed or order_time,
        reported_at=parse_ts(_get(obx, 19)),
    )


def parse_ts(value: str) -> datetime | None:
    """An HL7 DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) to an aware datetime.

    A time without an offset is ambiguous and therefore unusable (None), as is a date alone:
    a collection time must be exact for the 72-hour CRP window.
    """
    match = _TS.match(value.strip())
    if not match or match.group(4) is None or match.group(8) is None:
        return None
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups()[:6])
    fraction = match.group(7) or "0"
    offset = match.group(8)
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[3:5])
    if hours > 14 or minutes > 59:
        return None
    try:
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        local = datetime(
            year, month or 1, day or 1, hour, minute, second,
            int(fraction.ljust(6, "0")[:6]), tzinfo=tz,
        )  # fmt: skip
    except ValueError:
        return None
    return local.astimezone(UTC)


_INTERNAL_ERROR = "207^Application internal error"
_ERROR_CODES = {
    RejectionCode.MALFORMED: "100^Segment sequence error",
    RejectionCode.UNSUPPORTED_MESSAGE: "200^Unsupported message type",
    RejectionCode.UNKNOWN_SOURCE: "204^Unknown key identifier",
    RejectionCode.MISSING_PATIENT: "101^Required field missing",
    RejectionCode.MISSING_COLLECTION_TIME: "101^Required field missing",
    RejectionCode.UNKNOWN_ANALYTE: "103^Table value not found",
    RejectionCode.UNCONVERTIBLE_UNIT: "103^Table value not found",
    RejectionCode.MISSING_UNIT: "101^Required field missing",
    RejectionCode.NON_NUMERIC_VALUE: "102^Data type error",
    RejectionCode.UNKNOWN_STATUS: "103^Table value not found",
}


def build_ack(
    header: Header | None,
    code: str,
    *,
    text: str = "",
    error: RejectionCode | None = None,
    control_id: str,
    now: datetime | None = None,
) -> str:
    """An ACK (MSA-1 ``code``, MSA-2 the inbound MSH-10, MSA-3 the reason, ERR on error)."""
    h = header or Header()
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S+0000")
    msh = [
        "MSH", "^~\\&", "LENA-CCS", "TRIAL", _esc(h.sending_application),
        _esc(h.sending_facility), stamp, "", f"ACK^{_esc(h.trigger) or 'R01'}^ACK",
        control_id, _esc(h.processing_id) or "P", _esc(h.version) or "2.5.1",
    ]  # fmt: skip
    segments = ["|".join(msh), "|".join(["MSA", code, _esc(h.control_id), _esc(text)[:200]])]
    if code != "AA":
        hl7_error = _ERROR_CODES.get(error, _INTERNAL_ERROR) if error else _INTERNAL_ERROR
        segments.append(f"ERR|||{hl7_error}^HL70357|E||||{_esc(text)[:200]}")
    return "\r".join(segments) + "\r"


def _esc(value: str) -> str:
    return (
        value.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
        .replace("\r", " ")
        .replace("\n", " ")
    )


# PROTOCOL section 6 names PID-5/6/7/11/13/14/19; PID-2, PID-4, PID-18 and PID-20 can hold
# identifiers too (patient id in v2.3, alternate ids, account and licence numbers).
_BLANKED_PID_FIELDS = (2, 4, 5, 6, 7, 11, 13, 14, 18, 19, 20)


def redact(text: str, hash_identifier: Callable[[str], str]) -> str:
    """The message without identifying fields: PID-3 hashed; PID-5/6/7/11/13/14/19 blanked;
    NK1 segments dropped. Works on unparseable text too (line by line)."""
    lines = normalise_separators(text).split("\r")
    field, component, repetition = _separators(text)
    return "\r".join(
        _redact_pid(line, hash_identifier, field, component, repetition)
        if line.startswith("PID")
        else line
        for line in lines
        if not line.startswith("NK1")
    )


def _separators(text: str) -> tuple[str, str, str]:
    """Field, component and repetition separators declared in MSH-1/MSH-2 (or the defaults)."""
    text = text.lstrip()
    if text.startswith("MSH") and len(text) >= 7:
        return text[3], text[4], text[5]
    return "|", "^", "~"


def _redact_pid(
    line: str, hash_identifier: Callable[[str], str], field: str, component: str, repetition: str
) -> str:
    fields = line.split(field)
    if len(fields) > 3 and fields[3]:
        identifier = fields[3].split(repetition)[0].split(component)[0]
        fields[3] = f"HMAC:{hash_identifier(identifier)}"
    for index in _BLANKED_PID_FIELDS:
        if len(fields) > index:
            fields[index] = ""
    return field.join(fields)
