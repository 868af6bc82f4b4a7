"""A unit whose caret was written unescaped in HL7's OBX-6. Pure: no I/O.

HL7 writes a caret inside a value as ``\\S\\`` (``x10\\S\\9/L``); many laboratory systems
write it plainly (``x10^9/L``), and the caret then splits OBX-6 into a bare power base
(``x10``) and the rest (``9/L``), read as the unit's identifier and its text: no unit,
and every neutrophil and platelet count of such a laboratory was refused. A component
that is a bare power base (``10``, ``x10``, ``X10``, ``10E``, or a multiplication sign's
10: no unit on its own) followed by another is read joined with a caret (``rejoined``)
when that is a spelling the
service lists (``x10^9/L``, ``10^9/L``, ``10^3/uL``, ``x10^3/mm3``: ``unit_spellings``),
as the unit the laboratory meant and as the same unit escaped is read; the components
after it (a coding system ``L``, an alternate code ``10*9/L``) are compared with it as
before (``analytes.resolve_unit``: one that disagrees still refuses). Joined, any other is
no listed unit (``x10^12/L``, ``10^/uL``, ``x10^G/L``): which unit was meant is a guess
(read apart, ``x10^/uL`` was read as /uL, its multiplier passed over), so the result is
refused with a reason that names the cause (``split_unit_refusal``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from typing import Final

from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.unit_shapes import quoted_unit
from services.lab_ingestion.domain.unit_spellings import recognise_unit
from shared.contracts.events.lab import Analyte

# a power of ten's base without its exponent: no unit alone, the start of one split
_POWER_BASE: Final = re.compile(r"\s*[xX\u00d7]?\s*10[eE]?\s*")

# a reference range's text ending in one (``1.8-7.5 x10``, ``150-400x10``, ``1.8-7.5 10``)
_ENDS_IN_POWER_BASE: Final = re.compile(r"(?:(?:^|\s)[xX\u00d7]?|[xX\u00d7])\s*10[eE]?\s*$")

SplitUnit = tuple[str, str]  # the power base and the component after it


def is_power_base(component: str) -> bool:
    """Whether ``component`` is a power of ten's base alone (``x10``, ``10``, ``10E``)."""
    return _POWER_BASE.fullmatch(component) is not None


def ends_in_power_base(first: str) -> bool:
    """Whether OBX-7's first component ends in a bare power base (``1.8-7.5 x10``): the only
    case in which a unit's plain caret may have split it, and its second component is read
    (``range_split``). Cheap: most ranges end in no 10 at all."""
    return (
        first.rstrip().endswith(("10", "10E", "10e"))
        and _ENDS_IN_POWER_BASE.search(first) is not None
    )


def range_split(first: str, second: str) -> bool:
    """Whether OBX-7 (a string: no components in HL7) was split by a unit's plain caret:
    its first component ends in a bare power base (``ends_in_power_base``) and the next
    starts with the exponent (``1.8-7.5 x10`` and ``9/L``)."""
    return second[:1].isdigit() and ends_in_power_base(first)


def rejoined(components: Sequence[str]) -> tuple[list[str], SplitUnit | None]:
    """``components`` (OBX-6's, empty ones kept in place) with each bare power base and the
    non-empty component after it written as one, joined by a caret, when that is a listed
    spelling; and the first such pair that is not (None when there is none)."""
    out: list[str] = []
    split: SplitUnit | None = None
    index = 0
    while index < len(components):
        component = components[index]
        after = components[index + 1] if index + 1 < len(components) else ""
        if after.strip() and is_power_base(component):
            joined = f"{component.strip()}^{after.strip()}"
            if recognise_unit(joined) is not None:
                out.append(joined)
                index += 2
                continue
            split = split or (component.strip(), after.strip())
        out.append(component)
        index += 1
    return out, split


def first_split(components: Sequence[str]) -> SplitUnit | None:
    """The first bare power base in ``components`` and the non-empty component after it,
    listed spelling or not (None: there is none): in a repetition of OBX-6, which is not
    read joined (``split_unit_refusal``)."""
    for component, after in pairwise(components):
        if after.strip() and is_power_base(component):
            return component.strip(), after.strip()
    return None


def split_unit_refusal(analyte: Analyte, split: SplitUnit) -> Rejected:
    """The refusal of a result whose OBX-6 a caret split: into no listed unit, or in a
    repetition of OBX-6 (``10*9/L~x10^9/L``: OBX-6 does not repeat, and only its first is
    read joined; read apart, its parts were told as disagreeing units, ``'10*9/L' beside
    '9/L'``, a reason that hid the cause). The rest after the base quoted as a unit is
    (``unit_shapes.quoted_unit``: a sender's free text there may be a misplaced name or
    date, shown then by its length only)."""
    base, rest = split
    after = quoted_unit([rest], listed=lambda c: recognise_unit(c) is not None)
    if recognise_unit(f"{base}^{rest}") is not None:
        return Rejected(
            RejectionCode.UNCONVERTIBLE_UNIT,
            f"unit of {analyte.value}: OBX-6 holds {base!r} and {after} as two components "
            "in a repetition of OBX-6, where a unit is not read joined: write a caret in a "
            "unit as \\S\\",
        )
    return Rejected(
        RejectionCode.UNCONVERTIBLE_UNIT,
        f"unit of {analyte.value}: OBX-6 holds {base!r} and {after} as two components, "
        "no unit the service lists when joined: write a caret in a unit as \\S\\",
    )
