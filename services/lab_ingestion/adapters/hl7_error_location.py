"""Where in an HL7 message the error an ACK reports lies: ERR-2 (ERL, v2.5 on) or the first
components of ERR-1 (ELD, v2.3 and v2.4): segment id, its sequence among segments of that id,
and the field, so that the laboratory's interface analyst finds the result at fault without
reading the whole message (``OBX^2^6``: the second OBX's unit).

A result's error names its OBX: the message's observations are its OBX segments in order
(``hl7_codec``), so the observation at fault (0-based) is the OBX of that sequence. The field
is the one each rejection is about (its value, unit, status, collection time); a rejection
of how a result fits its stored chain (a correction of nothing, a final result of another
sample) names the OBX alone. A malformed message, a failure of ours, or a rejection whose
result is not known names nothing (no ERR-2 is better than a wrong one).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

from services.lab_ingestion.domain.model import RejectionCode


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
    RejectionCode.NON_NUMERIC_VALUE: 5,  # OBX-5 observation value
    RejectionCode.CENSORED_VALUE: 5,
    RejectionCode.IMPLAUSIBLE_VALUE: 5,
    RejectionCode.UNCONVERTIBLE_UNIT: 6,  # OBX-6 units
    RejectionCode.MISSING_UNIT: 6,
    RejectionCode.UNKNOWN_STATUS: 11,  # OBX-11 observation result status
    RejectionCode.MISSING_COLLECTION_TIME: 14,  # OBX-14 (else OBR-7): the result's own
    RejectionCode.IMPLAUSIBLE_TIME: 14,
    RejectionCode.UNKNOWN_CORRECTED_RESULT: None,
    RejectionCode.OTHER_PATIENTS_RESULT: None,
    RejectionCode.OTHER_ANALYTES_RESULT: None,
    RejectionCode.OTHER_SAMPLES_RESULT: None,
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


def error_location(code: RejectionCode | None, observation: int | None) -> ErrorLocation | None:
    """Where the error of ``code`` lies; ``observation``: the message's result at fault
    (0-based), when one is. None where it cannot be told."""
    if code is None:
        return None
    if code in _MESSAGE_LOCATIONS:
        return _MESSAGE_LOCATIONS[code]
    if code in _RESULT_FIELDS and observation is not None and observation >= 0:
        return ErrorLocation("OBX", observation + 1, _RESULT_FIELDS[code])
    return None
