"""Abnormal flags (HL7 table 0078, FHIR's ObservationInterpretation codes): what a result's
flag may say. A flag is a code, never free text: anything else a sender writes there (a
comment, a name, a hospital number) is not kept or published."""

from __future__ import annotations

from typing import Final

# below / above the instrument's scale: the value is a limit, not a measurement
OFF_SCALE_FLAGS: Final = frozenset({"<", ">"})
# HL7 table 0078 (v2.3 to v2.9) and the v3 ObservationInterpretation codes labs send as flags
ABNORMAL_FLAGS: Final = OFF_SCALE_FLAGS | frozenset({
    "L", "H", "LL", "HH", "LU", "HU", "LX", "HX", "N", "A", "AA", "U", "D", "B", "W", "S",
    "R", "I", "MS", "VS", "SDD", "SYN-R", "SYN-S", "NS", "POS", "NEG", "IND", "DET", "ND",
    "E", "EX", "EXP", "NR", "RR", "QCF", "TOX", "CAR", "AC", "IE", "WR",
})  # fmt: skip


def is_off_scale(flag: str) -> bool:
    return flag.strip() in OFF_SCALE_FLAGS


def published_flag(flag: str | None) -> str | None:
    """The flag as a table code (``h`` is ``H``), or None when it is none of them."""
    code = (flag or "").strip().upper()
    return code if code in ABNORMAL_FLAGS else None
