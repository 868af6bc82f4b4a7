"""What OBX-6's coding system versions (CWE-7 and 8) hold that is read as a unit.

They are version ids (``2.1``, ``v2``, ``HL7 2.5``), never a unit nor a reason to refuse,
except a text a sender's miscounted carets put there that names a unit (``mg/dL^^^^^^mg/L``,
``mg/dl (Serum)``, ``Milligramm pro Deziliter``, ``IE/l (Serum)``): it is compared as the
same text in CWE-2 or 9 is (reviews 259, 264, 268), so that a unit that disagrees is never
passed over. A coding system's name and version (``Units 2.1``, ``UCUM (Unified Code for
Units of Measure)``, ``UN/ECE Rec 20``; review 269: these refused the result) names none.
A unit an unescaped caret split across the two (``10^9/L (cells)``) is read as one text
when so joined it names a unit this service knows; else each half is looked at alone
(``10`` then ``v2``, or ``10`` then ``mg/dL (Serum)``: review 272, the pair joined hid the
second's unit, or refused a version id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from services.lab_ingestion.domain.unit_carets import is_power_base
from services.lab_ingestion.domain.unit_factors import standard_form, unit_factor
from services.lab_ingestion.domain.unit_shapes import names_a_unit
from services.lab_ingestion.domain.unit_spellings import recognise_unit
from services.lab_ingestion.domain.unit_words import units_named

# the words of a units coding system's name (UCUM, SI, UN/ECE Recommendation 20, ISO+, ANSI)
_SYSTEM_WORDS: Final = frozenset(
    {"the", "unified", "code", "codes", "for", "of", "units", "unit", "measure", "ucum", "si",
     "si-units", "si-unit", "un/ece", "unece", "rec", "rec.", "recommendation", "iso", "iso+",
     "ansi", "version", "hl7", "system"}
)  # fmt: skip
# a version number (``2.1``, ``v2.5.1``, ``20``) or a bracket around such words
_VERSION_WORD: Final = re.compile(r"v?\d+(?:[.\-]\d+)*", re.IGNORECASE)
_BRACKETS: Final = re.compile(r"[()\[\],;:]")


def version_texts(versions: Sequence[str]) -> list[str]:
    """CWE-7 and 8 as texts to look at: one text when a power base in CWE-7 and what follows
    it in CWE-8 are, joined, a unit this service knows (``x10^9/L``, ``10^9/L (cells)``,
    ``x10^9 Zellen/L``: review 269, its ``9/L (cells)`` alone was told as another unit and
    the platelet count refused); else each."""
    seventh, eighth = versions
    if eighth.strip() and is_power_base(seventh):
        joined = f"{seventh.strip()}^{eighth.strip()}"
        if any(map(_known_unit, units_named(joined) or ())):
            return [joined]
    return [seventh, eighth]


def misplaced_unit(text: str) -> bool:
    """Whether a version place's text is read as a unit: ``%`` or two characters or more with
    a letter (never ``2.1``, ``*`` or ``x``), no units coding system's name (``Units 2.1``),
    and written as a unit (``names_a_unit``: ``mg/L``, ``10*9/L``) or holding one's symbol or
    words, read whole or not (``unit_words.units_named``: ``mg/dl (Serum)``, ``% (percent)``,
    ``CRP (mg%)``, ``10 hoch 12 pro Liter``; review 272: unreadable words were passed over)."""
    stripped = text.strip()
    worded = len(stripped) > 1 and any(c.isalpha() for c in stripped)
    if not (stripped == "%" or worded) or _names_a_units_system(stripped):
        return False
    return names_a_unit(stripped) or units_named(stripped) != ()


def _names_a_units_system(text: str) -> bool:
    """Whether ``text`` is a units coding system's name and version and nothing more: every
    word one of its name's (``_SYSTEM_WORDS``) or a version number."""
    words = _BRACKETS.sub(" ", text.casefold()).split()
    return bool(words) and all(w in _SYSTEM_WORDS or _VERSION_WORD.fullmatch(w) for w in words)


def _known_unit(unit: str) -> bool:
    """Whether ``unit`` is one this service knows: a listed spelling, or one whose factor
    its standard form tells (``unit_factors``)."""
    standard = standard_form(unit)
    return bool(recognise_unit(unit) or recognise_unit(standard) or unit_factor(standard))
