"""Where in an HL7 message the error an ACK reports lies: ERR-2 (ERL, v2.5 on) or the first
components of ERR-1 (ELD, v2.3 and v2.4): segment id, its sequence among segments of that id,
and the field, so that the laboratory's interface analyst finds the result at fault without
reading the whole message (``OBX^2^6``: the second OBX's unit).

A result's error names its OBX: the message's observations are its OBX segments in order
(``hl7_codec``), so the observation at fault (0-based) is the OBX of that sequence (HL7's
segment sequence is the segment's place in the message, not its set id). The field only
where the rejection is about that one field (test code, unit, status); the OBX alone where
the fault may lie in another (a value refused for its type, OBX-2, or for flags that
contradict it, OBX-8; a time taken from OBR-7 or OBR-22 when OBX-14 is empty) or in how the
result fits its stored chain (a correction of nothing, a final result of another sample). A
malformed message, a failure of ours, or a rejection whose result is not known names nothing
(no ERR-2 is better than a wrong one).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

from services.lab_ingestion.domain.model import Place, RejectionCode


class ErrorLocation(NamedTuple):
    """An ERL's first three components: segment id, sequence (1-based), field (None: the
    segment as a whole)."""

    segment: str
    sequence: int
    field: int | None = None

    def components(self) -> list[str]:
        """``segment^sequence[^field]`` as components (written in HL7's default separators:
        every part is an id or a number, never anything a sender wrote)."""
        fields = [] if self.field is None else [str(self.field)]
        return [self.segment, str(self.sequence), *fields]


# the OBX field each rejection of one result is about (None: the OBX as a whole)
_RESULT_FIELDS: Final[Mapping[RejectionCode, int | None]] = MappingProxyType({
    RejectionCode.UNKNOWN_ANALYTE: 3,  # OBX-3 observation identifier
    RejectionCode.AMBIGUOUS_ANALYTE: 3,
    RejectionCode.NON_NUMERIC_VALUE: None,  # OBX-5, or its type (OBX-2)
    RejectionCode.CENSORED_VALUE: None,  # OBX-5 and its off-scale flags (OBX-8)
    RejectionCode.IMPLAUSIBLE_VALUE: None,  # OBX-5, its unit, range or flags (OBX-6 to 8)
    RejectionCode.UNCONVERTIBLE_UNIT: 6,  # OBX-6 units
    RejectionCode.MISSING_UNIT: 6,
    RejectionCode.UNKNOWN_STATUS: 11,  # OBX-11 observation result status
    RejectionCode.MISSING_COLLECTION_TIME: None,  # OBX-14, else OBR-7
    RejectionCode.IMPLAUSIBLE_TIME: None,  # OBX-14 or OBR-7, OBR-22 or OBX-19
    RejectionCode.UNKNOWN_CORRECTED_RESULT: None,
    RejectionCode.OTHER_PATIENTS_RESULT: None,
    RejectionCode.OTHER_ANALYTES_RESULT: None,
    RejectionCode.OTHER_SAMPLES_RESULT: None,
    RejectionCode.CONFLICTING_IDENTIFIERS: None,
    RejectionCode.AMBIGUOUS_VERSION: None,
})  # fmt: skip

# rejections of the message as a whole, at one place of its header or patient
_MESSAGE_LOCATIONS: Final[Mapping[RejectionCode, ErrorLocation]] = MappingProxyType({
    RejectionCode.UNSUPPORTED_MESSAGE: ErrorLocation("MSH", 1, 9),  # message type
    RejectionCode.REUSED_MESSAGE_ID: ErrorLocation("MSH", 1, 10),  # message control id
    RejectionCode.WRONG_PROCESSING_ID: ErrorLocation("MSH", 1, 11),
    RejectionCode.MISSING_PATIENT: ErrorLocation("PID", 1, 3),  # patient identifier list
    RejectionCode.AMBIGUOUS_PATIENT: ErrorLocation("PID", 1, 3),
    RejectionCode.AMBIGUOUS_IDENTIFIER: ErrorLocation("PID", 1, 3),
    RejectionCode.KEPT_COPY: ErrorLocation("PID", 1, 3),
    RejectionCode.MULTIPLE_PATIENTS: ErrorLocation("PID", 2),  # the second patient
})  # fmt: skip


# an unsupported version is refused as an unsupported message, under its own condition
_VERSION = ErrorLocation("MSH", 1, 12)


def error_location(
    code: RejectionCode | None,
    observation: int | None,
    *,
    version_refused: bool = False,
    place: Place | None = None,
) -> ErrorLocation | None:
    """Where the error of ``code`` lies; ``observation``: the message's result at fault
    (0-based), when one is; ``version_refused``: the message's version (MSH-12) is what was
    refused (HL7 table 0357's 203); ``place``: the field at fault, when it is no OBX's (an
    order's status, OBR-25 or ORC-1: ``order_status``). None where it cannot be told."""
    if code is None:
        return None
    if place is not None:
        return ErrorLocation(*place)
    if code is RejectionCode.UNSUPPORTED_MESSAGE and version_refused:
        return _VERSION
    if code in _MESSAGE_LOCATIONS:
        return _MESSAGE_LOCATIONS[code]
    if code in _RESULT_FIELDS and observation is not None and observation >= 0:
        return ErrorLocation("OBX", observation + 1, _RESULT_FIELDS[code])
    return None
