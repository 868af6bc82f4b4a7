"""How a sender's text appears in a rejection's reason.

A reason is stored, published on ``lab.rejected.v1`` and sent back in the ACK, so it quotes
a sender's text only when it has the shape of the code expected there (an HL7 status, a
version, a known unit); anything else, which may be a misplaced name, number or birth date,
is described by its length alone.
"""

from __future__ import annotations

import re
from typing import Final

RESULT_STATUS: Final = re.compile(r"[A-Z]")  # HL7 table 0085: F, C, P, X, D, ...
PROCESSING_CODE: Final = re.compile(r"[A-Z]")  # MSH-11: P, T, D; its mode: A, R, I, T
VERSION: Final = re.compile(r"[0-9](?:\.[0-9]){1,3}")  # MSH-12: 2.5.1
MESSAGE_TYPE: Final = re.compile(r"[A-Z]{3}")  # MSH-9.1: ORU, ADT, ...
EVENT: Final = re.compile(r"[A-Z][0-9]{2}")  # MSH-9.2: R01, A08, ...
# a coding system as OBX-3 writes one (HL7 table 0396): a local one (99 and letters: 99LAB),
# the laboratory's (L), LOINC's under another name or a version (LOINC-2.7, LN2.73), an OID
# of five arcs or more (no date, no phone number), LOINC's web address misspelt
CODING_SYSTEM: Final = re.compile(
    r"(?=[0-9A-Z]{3,10}$)99[0-9A-Z]*[A-Z][0-9A-Z]*|L|(?:LN|LNC|LOINC)(?:[-_. ]?V?[0-9][0-9.]*)?"
    r"|[0-2](?:\.(?:0|[1-9][0-9]{0,8})){4,15}|https?://(?:www\.)?loinc\.org[a-z0-9./-]{0,20}",
    re.IGNORECASE,
)


def shown(text: str, shape: re.Pattern[str]) -> str:
    """``text`` quoted when it has ``shape``; otherwise only its length."""
    if shape.fullmatch(text):
        return repr(text)
    return f"(text of {len(text)} characters)" if text else "empty"
