"""What OBX-6's coding system versions (CWE-7 and 8) hold that is read as a unit.

They are version ids (``2.1``, ``v2``, ``HL7 2.5``), never a unit nor a reason to refuse,
except a text a sender's miscounted carets put there that names a unit (``mg/dL^^^^^^mg/L``,
``mg/dl (Serum)``, ``Milligramm pro Deziliter``, ``IE/l (Serum)``, ``(%)``): it is compared
as the same text in CWE-2 or 9 is (reviews 259, 264, 268, 272, 273), so that a unit that
disagrees is never passed over. A coding system's name and version (``Units 2.1``, ``UCUM
(Unified Code for Units of Measure)``, ``UN/ECE Rec 20``, ``ISO/IEC 80000``, ``Local
units``; reviews 269, 273: these refused the result) names none.
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
from services.lab_ingestion.domain.unit_factors import standard_form
from services.lab_ingestion.domain.unit_shapes import names_a_unit
from services.lab_ingestion.domain.unit_spellings import recognise_unit
from services.lab_ingestion.domain.unit_words import units_named

# the words of a units coding system's or standard's name (UCUM, SI, UN/ECE or UN/CEFACT
# Recommendation 20, ISO/IEC 80000, CEN/TS, ISO+, ANSI) and of a label naming a unit table
# (``Local units``, ``unit list 2.1``, ``Lokale Einheiten``, ``unités locales``, ``unità
# SI``: review 276, the Swiss sites' languages), each alone or between slashes
# (``ISO/IEC``, ``UCUM/2.1``, ``HL7/UCUM``); "unit" and its translations name no unit there
_SYSTEM_WORDS: Final = frozenset(
    {"the", "unified", "code", "codes", "for", "of", "units", "unit", "measure", "measures",
     "ucum", "si", "si-units", "si-unit", "un", "ece", "unece", "cefact", "uncefact", "rec",
     "rec.", "recommendation", "revision", "rev", "rev.", "iso", "iso+", "iec", "cen", "ts",
     "din", "en", "ansi", "version", "hl7", "loinc", "system", "standard", "edition", "ed.",
     "local", "lab", "laboratory", "hospital", "table", "list", "dictionary", "catalogue",
     "catalog", "conventional", "lis", "molis", "swisslab", "lauris", "cgm",
     # German
     "einheit", "einheiten", "si-einheit", "si-einheiten", "lokal", "lokale", "lokalen",
     "labor", "liste", "tabelle", "konventionelle", "konventionell", "der", "die", "das",
     "ausgabe",
     # French
     "unité", "unités", "unite", "unites", "locale", "locales", "laboratoire", "tableau",
     "conventionnelle", "conventionnelles", "conventionnel", "des", "de", "du", "le", "la",
     "les", "édition",
     # Italian
     "unità", "unita", "locali", "laboratorio", "lista", "tabella", "convenzionale",
     "convenzionali", "delle", "di", "il", "edizione"}
)  # fmt: skip
# what stands for no version at all (``N/A``: review 273, it refused every result)
_NO_VERSION: Final = frozenset({"n/a", "na", "none", "unknown", "-"})
# a version number (``2.1``, ``v2.5.1``, ``20``, ``80000-1``)
_VERSION_WORD: Final = re.compile(r"v?\d+(?:[.\-]\d+)*", re.IGNORECASE)
_BRACKETS: Final = re.compile(r"[()\[\],;:]")
# what parts a unit from a label in a version place (``lab:mg/dL``, ``UCUM:%``, ``"%"``)
_PUNCTUATION: Final = re.compile(r"[\s:;#\"'`,_=\u201e\u201c\u201d\u00ab\u00bb\u2019]+")


def version_texts(versions: Sequence[str]) -> list[str]:
    """CWE-7 and 8 as texts to look at: one text when a power base in CWE-7 and what follows
    it in CWE-8 are, joined, a listed unit (``x10^9/L``, ``10^9/L (cells)``,
    ``x10^9 Zellen/L``: review 269, its ``9/L (cells)`` alone was told as another unit and
    the platelet count refused); else each."""
    seventh, eighth = versions
    if eighth.strip() and is_power_base(seventh):
        joined = f"{seventh.strip()}^{eighth.strip()}"
        # the unit the join itself makes (its power of ten), never one named further on
        # (review 276: ``10`` then ``Local units`` joined by the ``U`` of "units")
        if any("^" in u and _listed_unit(u) for u in units_named(joined) or ()):
            return [joined]
    return [seventh, eighth]


def misplaced_unit(text: str) -> bool:
    """Whether a version place's text is read as a unit (``misplaced_units``)."""
    return bool(misplaced_units(text))


def misplaced_units(text: str) -> list[str]:
    """What of a version place's text is compared as a unit ([]: nothing). Nothing of a text
    without ``%`` that is not two characters or more with a letter (``2.1``, ``*``), nor of
    a units coding system's name (``Units 2.1``, ``ISO/IEC 80000``, ``N/A``). The text
    itself where it is written as a unit (``names_a_unit``: ``mg/L``, ``10*9/L``) or holds
    one's symbol or words, read whole or not (``unit_words.units_named``: ``mg/dl (Serum)``,
    ``CRP (mg%)``, ``IE/l (Serum)``, ``10 hoch 12 pro Liter``; review 272: unreadable words
    were passed over). Else each part of two characters or more a punctuation mark or blank
    sets apart that is written as a unit (``mg/dL`` of ``lab:mg/dL``, ``Labor,mg/dL``). And
    ``%`` for a percent in it that neither reading holds (``UCUM:%``, ``HL7 %``, ``"%"``,
    ``10*9/L im Serum %``; reviews 273, 276, 278: a neutrophil percentage was published as a
    count)."""
    stripped = text.strip()
    worded = len(stripped) > 1 and any(c.isalpha() for c in stripped)
    if not ("%" in stripped or worded) or _names_a_units_system(stripped):
        return []
    named = units_named(stripped)
    if names_a_unit(stripped) or named != ():
        found = [stripped]
        # a percent the reading of the whole passes over (``10*9/L im Serum %``: review 278)
        named_percent = any("%" in unit for unit in named or ())
        read_percent = named is None or named_percent or names_a_unit(stripped)
    else:
        # a part of two characters or more, or ``%`` (never a revision letter, ``Rev. E``:
        # review 278, ``E`` was read as a unit and every result refused)
        parts = [p for p in _PUNCTUATION.split(stripped) if len(p) > 1 or p == "%"]
        found = [p for p in parts if names_a_unit(p) and not _names_a_units_system(p)]
        read_percent = any("%" in p for p in found)
    if "%" in stripped and not read_percent:
        found.append("%")
    return found


def _names_a_units_system(text: str) -> bool:
    """Whether ``text`` is a units coding system's name and version and nothing more: every
    word, and every part of a word between slashes, one of its name's (``_SYSTEM_WORDS``) or
    a version number; or a word for no version (``N/A``)."""
    folded = text.casefold()
    if folded in _NO_VERSION:
        return True
    words = _BRACKETS.sub(" ", folded).split()
    return bool(words) and all(_system_word(w) for w in words)


def _system_word(word: str) -> bool:
    parts = word.split("/") if "/" in word else [word]
    return all(p in _SYSTEM_WORDS or _VERSION_WORD.fullmatch(p) for p in parts if p) and any(parts)


def _listed_unit(unit: str) -> bool:
    """Whether ``unit`` is a listed spelling (``unit_spellings``), as written or in its
    standard form (``x10^9/L``; never a bare power of ten, ``x10^20``, whose factor alone
    is known: review 276)."""
    return bool(recognise_unit(unit) or recognise_unit(standard_form(unit)))
