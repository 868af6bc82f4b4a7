"""The spellings of the trial's units that are recognised (PROTOCOL section 6). Pure: no I/O.

A unit component is recognised by its UCUM code or by a known local spelling of it
(``recognise_unit``); which units an analyte accepts, and how each converts to its canonical
unit: ``analytes``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from services.lab_ingestion.domain.unit_shapes import powers_written_out

# UCUM code -> the local spellings also accepted for it (matched after removing whitespace
# and writing both micro signs as "u"). Spellings written in one case throughout also match
# in the other case, unless that would make them another unit (G/L is giga, g/L is gram;
# a unit in capitals an analyte is never reported in is read in another case for it, as
# haemoglobin's G/L: ``capitals_readings``).
# A micro sign matches only a micro "u" (a lower-case u starting a unit: uL, umol, ukat).
# "mc" is micro as US hospitals write it (ISMP's error-prone abbreviations: no u, no µ);
# "Giga/L" is the French laboratories' G/L, "UI/L" the unite/unita/unidad internacional.
# A count's multiplier word (``COUNT_WORDS``) matches in any case beside the rest as listed.
UNIT_SPELLINGS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "mg/L": (),
        "mg/dL": (),
        "nmol/L": (),
        "10*9/L": (
            *("x10*9/L", "10^9/L", "x10^9/L", "10E9/L", "x10E9/L", "x10e9/L"),
            *("10e9/L", "G/L", "G/l", "Giga/L", "Gpt/L", "Gpt/l", "/nL"),
            # a litre written l beside a giga written in its own case, and Epic's x10(9)
            *("Giga/l", "x10E9/l", "10E9/l", "x10(9)/L", "x10(9)/l"),
            # German laboratories' Milliarden pro Liter (review 130)
            *("Mrd/L", "Mrd/l", "Mrd./L", "Mrd./l"),
        ),
        "10*3/uL": (
            *("x10*3/uL", "10^3/uL", "x10^3/uL", "10E3/uL", "x10E3/uL", "x10e3/uL"),
            *("10e3/uL", "K/uL", "k/uL", "thou/uL", "10^3/mm3", "x10^3/mm3", "K/mm3"),
            *("10*3/mm3", "x10*3/mm3"),  # UCUM's cubic millimetre, a microlitre
            *("x10(3)/uL", "Thousand/uL"),  # Epic/Cerner result text; Quest Diagnostics
            *("10^3/mcL", "x10(3)/mcL", "K/mcL", "k/mcL"),
            *("Tsd/uL", "Tsd/ul"),  # German laboratories' Tausend pro Mikroliter
        ),
        "/uL": (
            *("cells/uL", "/mm3", "cells/mm3", "{cells}/uL", "{cells}/mm3"),  # UCUM annotation
            *("/mcL", "cells/mcL"),
        ),
        "g/dL": ("g/dl", "gm/dL"),
        "g/L": ("g/l",),
        "mmol/L": (),
        # UCUM's international unit: an enzyme's U
        # UCUM's case-sensitive code for the international unit is [iU] ([IU] its other form)
        "U/L": ("U/l", "IU/L", "IU/l", "[IU]/L", "[iU]/L", "UI/L", "UI/l", "units/L", "Units/L"),
        "ukat/L": ("mckat/L",),
        "umol/L": ("mcmol/L",),
    }
)

# words for a count's multiplier whose case means nothing (no UCUM prefix or unit is
# spelled by them), as listed: THOU/uL and Thou/uL are thou/uL, GPT/l is Gpt/l. Not a lone
# letter (G/L is giga, g/L gram; K/uL and k/uL are listed as they are written)
COUNT_WORDS: Final[Mapping[str, str]] = MappingProxyType(
    {w.casefold(): w for w in ("thou", "Thousand", "Tsd", "Giga", "Gpt", "Mrd")}
)
_COUNT_WORD: Final = re.compile(r"([^\W\d_]+)(/.*)", re.DOTALL)
_MICRO_SIGNS: Final = ("\u00b5", "\u03bc")  # MICRO SIGN and GREEK SMALL LETTER MU
# an enzyme's activity depends on the temperature it is measured at: IFCC's reference
# procedures (and so the protocol's ULN multiples) are at 37 °C, which German and Austrian
# laboratories write after the unit (``U/l 37°C``, ``U/L (37°C)``, ``IU/L @37C``; review
# 152). Never 25 or 30 °C, the older methods': their values are not 37 °C's, and are refused.
ENZYME_UNITS: Final = frozenset({"U/L", "ukat/L"})
_AT_37_C: Final = re.compile(
    r"(?P<unit>.*?[^\s(@])\s*(?:\(\s*@?\s*37\s*(?:°\s*C|\u2103|C)\s*\)"
    r"|(?:\s+|\s*@\s*)37\s*(?:°\s*C|\u2103|C))\s*",
    re.DOTALL,
)


def _build_indexes() -> tuple[Mapping[str, str], Mapping[str, tuple[str, ...]]]:
    """Exact spelling -> UCUM, and case-folded spelling -> the spellings that fold to it."""
    exact: dict[str, str] = {}
    folded: dict[str, tuple[str, ...]] = {}
    for ucum, spellings in UNIT_SPELLINGS.items():
        for spelling in (ucum, *spellings):
            if exact.setdefault(spelling, ucum) != ucum:
                raise ValueError(f"unit spelling {spelling!r} is listed twice")
            folded[spelling.lower()] = (*folded.get(spelling.lower(), ()), spelling)
    return MappingProxyType(exact), MappingProxyType(folded)


_EXACT, _FOLDED = _build_indexes()


def recognise_unit(text: str) -> str | None:
    """The UCUM code a unit spelling stands for, or None if it is not a known spelling. A
    micro sign stands for a spelling's micro u only, never for the U of units: ``µ/L``
    (nothing before the litre) is no U/L, whatever the case of the rest. A power of ten in
    superscript digits is the caret's (``10⁹/L`` is 10^9/L, ``x10³/mm³`` x10^3/mm3: read
    digit by digit, ``10³`` was ``103``); a cubed millimetre's ³ is its 3. An enzyme unit
    may end in its measurement temperature, 37 °C (``_AT_37_C``)."""
    ucum = _listed_unit(text)
    if ucum is None and "37" in text and (match := _AT_37_C.fullmatch(text)) is not None:
        enzyme = _listed_unit(match["unit"])
        return enzyme if enzyme in ENZYME_UNITS else None
    return ucum


def capitals_readings(text: str) -> frozenset[str]:
    """The UCUM codes a unit written in capitals throughout (``G/L``, ``MG/DL``), as UK
    laboratory systems write units, stands for in any case: ``G/L`` is giga (10*9/L) or
    gram (g/L) per litre. Empty for a unit with a lower-case letter (``g/l`` is gram, its
    case says so) or a micro sign, or none listed. Only where the exact reading
    (``recognise_unit``) is a unit the analyte is never reported in does a caller choose
    among them (``analytes.resolve_unit``)."""
    compact = "".join(text.split())
    if compact != compact.upper() or any(c in _MICRO_SIGNS for c in compact):
        return frozenset()
    return frozenset(_EXACT[s] for s in _FOLDED.get(compact.lower(), ()))


def _listed_unit(text: str) -> str | None:
    written = powers_written_out("".join(text.split()).replace("\u00d7", "x"))
    compact = _count_word_as_listed(written.replace("\u00b3", "3"))
    micro = [i for i, c in enumerate(compact) if c in _MICRO_SIGNS]
    spelled = "".join("u" if c in _MICRO_SIGNS else c for c in compact)
    if spelled in _EXACT:
        candidates: tuple[str, ...] = (spelled,)
    else:
        bare = "".join(c for c in compact if c not in _MICRO_SIGNS)
        if bare not in {bare.upper(), bare.lower()}:  # mixed case: the case carries meaning
            return None
        candidates = _FOLDED.get(spelled.lower(), ())
    units = {_EXACT[s] for s in candidates if all(_is_micro(s, i) for i in micro)}
    return units.pop() if len(units) == 1 else None  # several: the case made another unit


def _count_word_as_listed(compact: str) -> str:
    """``compact`` with a leading count word (``COUNT_WORDS``) written as listed, when the
    rest after it is then a listed spelling's: the rest keeps its case (``THOU/UL`` is left
    to the one-case rule, ``Thou/ul`` is no unit)."""
    match = _COUNT_WORD.fullmatch(compact)
    if match is None or not match[1].isascii() or match[1].casefold() not in COUNT_WORDS:
        return compact
    listed = COUNT_WORDS[match[1].casefold()] + match[2]
    spelled = "".join("u" if c in _MICRO_SIGNS else c for c in listed)
    return listed if spelled in _EXACT else compact


def _is_micro(spelling: str, index: int) -> bool:
    """Whether a listed spelling's character at ``index`` is a micro prefix: a lower-case u
    that starts a unit (``/uL``, ``umol/L``; not the u of ``thou``, nor U, units)."""
    return (
        index < len(spelling)
        and spelling[index] == "u"
        and (index == 0 or not spelling[index - 1].isalpha())
    )
