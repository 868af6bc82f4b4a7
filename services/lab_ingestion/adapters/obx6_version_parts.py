"""The parts of a text in OBX-6's version places (CWE-7, 8) and which of them name a unit.

A text there is split at every character a unit is not written with: neither a letter, a
digit nor a unit's operator or bracket (``/ . * ^ % ( ) [ ] { } + -``, the multiplication
sign, a superscript minus). Characters are told by their Unicode category, never listed one
by one, so that every quote, angle bracket, arrow, middle dot and full-width colon sets a
unit apart (review 279: ``mg/dL`` in low-9 quotes, ``<mg/dL>``, after a full-width colon,
was passed over and a CRP in mg/dL published as mg/L). ``-`` is a unit's character
(``10*-3``), so a hyphenated label is one part (``UCUM-Einheiten``) whose words are each
looked at.

A part names no unit when it is a version id: a number (``2.1``, ``v2``, ``80000-1``), a
letter and digits (``M1``, ``E2``, ``Q1``) or such ids between slashes (``Q1/2024``); a
single letter (``Rev. E``); a word for no version (``N/A``); or made of label words: the
"unit" family's (units, Einheit, Maßeinheit, unité, unità, misura, mesure, measurement:
review 279, ``unità di misura`` refused every result) and a units system's or
laboratory system's name (UCUM, SI, ISO/IEC, MOLIS, CGM). Another part names a unit when
it holds a percent sign in any form, is written as a unit (``unit_shapes.names_a_unit``),
or holds a word of two letters or more that names one (``Liter``, ``milligrams``,
``thousand``; never a label's word, ``Swiss units``). Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from services.lab_ingestion.domain.unit_factors import standard_form, unit_factor
from services.lab_ingestion.domain.unit_shapes import names_a_unit
from services.lab_ingestion.domain.unit_vocabulary import folded, word_token

# a unit's operators and brackets, beside its letters and digits (and a minus, as UCUM
# writes 10*-3 and a print name 10⁻³)
_UNIT_MARKS: Final = frozenset("/.*^%()[]{}+-\u00d7\u207b\u2212")
# the words of a label naming a unit table: "unit" and its translations, "measure"
_LABEL_WORDS: Final = frozenset(
    {"unit", "units", "einheit", "einheiten", "masseinheit", "masseinheiten", "unite",
     "unites", "unita", "misura", "misure", "mesure", "mesures", "measure", "measures",
     "measurement", "measurements"}
)  # fmt: skip
# the words of a units coding system's or standard's name (UCUM, SI, UN/ECE or UN/CEFACT
# Recommendation 20, ISO/IEC 80000, CEN/TS, ISO+, ANSI), a laboratory system's (MOLIS,
# CGM) and of a label around them (reviews 269, 273, 276, 278); compared folded
_SYSTEM_WORDS: Final = frozenset(
    folded(w)
    for w in (
        "the", "unified", "code", "codes", "for", "of", "ucum", "si", "un", "ece", "unece",
        "cefact", "uncefact", "rec", "recommendation", "revision", "rev", "iso", "iso+", "iec",
        "cen", "ts", "din", "en", "ansi", "version", "hl7", "loinc", "system", "standard",
        "edition", "ed", "local", "lab", "laboratory", "hospital", "table", "list",
        "dictionary", "catalogue", "catalog", "conventional", "lis", "molis", "swisslab",
        "lauris", "cgm", "lokal", "lokale", "lokalen", "labor", "liste", "tabelle",
        "konventionelle", "konventionell", "der", "die", "das", "ausgabe", "locale",
        "locales", "laboratoire", "tableau", "conventionnelle", "conventionnelles",
        "conventionnel", "des", "de", "du", "le", "la", "les", "édition", "locali",
        "laboratorio", "lista", "tabella", "convenzionale", "convenzionali", "delle", "di",
        "il", "edizione",
    )
)  # fmt: skip
# what stands for no version at all (``N/A``: review 273, it refused every result)
_NO_VERSION: Final = frozenset({"n/a", "na", "none", "unknown", "-"})
# a version id: a number (``2.1``, ``v2.5.1``, ``80000-1``) or a letter and digits (``M1``,
# ``E2``, ``Q1``: review 279, read as a metre or an einheit with a power, every result
# refused), alone or between slashes (``Q1/2024``, ``2024/Q1``)
_VERSION_ID: Final = re.compile(r"(?:v?|[^\W\d_])\d+(?:[.\-]\d+)*", re.IGNORECASE)
_LETTERS: Final = re.compile(r"[^\W\d_]+")
# a hyphen joining words, numbers or brackets (never a minus after an operator: ``10*-3``)
_HYPHEN: Final = re.compile(r"(?<=[^*^/])-")
_WORD_PIECES: Final = re.compile(r"[-/]")
_UNIT_KINDS: Final = frozenset({"percent", "cent", "count", "term", "length"})
# a percent's word in the trial's languages, by its stem (``Perzent``, ``Prozentsatz``,
# ``pourcentage``, ``percentuale``), or abbreviated
# (never ``percentile``, ``Perzentile``, ``prozentual``, nor ``PCT`` in capitals,
# procalcitonin: review 282)
_PERCENT_WORD: Final = re.compile(
    r"(?:per|pro|pour|por)[cz]ent(?:o|s|satz|satze|age|ages|uale|uali)?|pct", re.IGNORECASE
)
_PAIRS: Final = ("()", "[]", "{}")


def parts(text: str) -> list[str]:
    """``text`` split at every character a unit is not written with (``_unit_character``)."""
    found: list[str] = []
    current: list[str] = []
    for character in text:
        if _unit_character(character):
            current.append(character)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


def percent_unit(character: str) -> str | None:
    """The unit a percent or per-mille sign is, in any of its forms, by its Unicode name:
    ``%`` and its full-width, small and Arabic forms ``%``; per mille ``10*-3`` and per ten
    thousand ``10*-4``, as UCUM writes them (their signs were passed over beside a count)."""
    name = unicodedata.name(character, "")
    if "PERCENT SIGN" in name:
        return "%"
    if "PER MILLE SIGN" in name:
        return "10*-3"
    if "PER TEN THOUSAND SIGN" in name:
        return "10*-4"
    return None


def no_version(text: str) -> bool:
    """Whether ``text`` stands for no version at all (``N/A``, ``none``, ``-``)."""
    return text.strip().casefold() in _NO_VERSION


def names_no_unit(part: str) -> bool:
    """Whether a part is a version id, a single letter, a word for no version, or a label's
    words (``UCUM-Einheiten``, ``ISO/IEC``, ``Rev.``) and nothing more."""
    core = _core(part)
    if not any(c.isalnum() or percent_unit(c) for c in core):
        return True  # brackets or operators alone: ``/`` of ``units / list``, ``-``
    if no_version(core) or (len(core) == 1 and core.isalpha()):
        return True
    pieces = [_core(p) for p in _WORD_PIECES.split(core) if _core(p)]
    if pieces and all(_VERSION_ID.fullmatch(_core(p)) for p in core.split("/")):
        return True
    return bool(pieces) and all(_label_word(p) or _VERSION_ID.fullmatch(p) for p in pieces)


def names_unit(part: str) -> bool:
    """Whether a part (not ``names_no_unit``) names a unit: a percent sign in any form, a
    text written as a unit, or a word of two letters or more naming one that is no label's."""
    if names_no_unit(part):
        return False
    core = _core(part)
    if any(percent_unit(c) for c in core):
        return True
    if names_a_unit(core):
        # written as a unit with a unit's term or a number in it (never ``Nexus/Lab``, a
        # laboratory system's name); a hyphen between words joins no unit's parts
        # (``Swiss-Q1/2024``; ``10*-3`` is one)
        pieces = _HYPHEN.split(core)
        if len(pieces) > 1:
            return any(names_unit(p) for p in pieces)
        return any(c.isdigit() for c in core) or any(
            names_a_unit(w) or _unit_word(w) for w in _LETTERS.findall(core)
        )
    return any(_unit_word(w) for w in _LETTERS.findall(core) if len(w) > 1)


def written_as_unit(part: str) -> bool:
    """Whether a part names a unit by its writing (a shape or a percent), not by words."""
    core = _core(part)
    return any(percent_unit(c) for c in core) or names_a_unit(core)


def compared(part: str) -> str:
    """A part naming a unit as it is compared: without the brackets around it, a percent
    in any form written ``%`` (a full-width one too), a percent's word ``%``."""
    core = _core(part)
    if not written_as_unit(core) and any(_percent_word(w) for w in _LETTERS.findall(core)):
        return "%"
    return "".join(percent_unit(c) or c for c in core)


def _unit_character(character: str) -> bool:
    """Whether a unit is written with ``character``: a letter or digit of any script (or a
    mark on one), a unit's operator or bracket, a percent sign in any form."""
    category = unicodedata.category(character)
    return category[0] in "LNM" or character in _UNIT_MARKS or percent_unit(character) is not None


def _core(part: str) -> str:
    """A part without the brackets and full stops around it (``(Serum)``, ``Rev.``,
    ``(nov.``, ``2017)``), those within kept (``[IU]/L``, ``Tsd./µl``)."""
    core = part.strip(".")
    while len(core) > 1 and core[0] + core[-1] in _PAIRS:
        core = core[1:-1].strip(".")
    for opening, closing in _PAIRS:
        if core.startswith(opening) and closing not in core:
            core = core[1:]
        if core.endswith(closing) and opening not in core:
            core = core[:-1]
    return core.strip(".")


def _label_word(word: str) -> bool:
    plain = folded(word).rstrip(".")
    return plain in _LABEL_WORDS or plain in _SYSTEM_WORDS


def _unit_word(word: str) -> bool:
    """Whether a word names a unit (``Liter``, ``mg``, ``percent``, ``thousand``): never a
    label's (``units``, ``Einheiten``, ``CGM``)."""
    if _label_word(word):
        return False
    if _percent_word(word):
        return True
    token = word_token(word)
    if token is not None:
        return token[0] in _UNIT_KINDS
    return names_a_unit(word) or unit_factor(standard_form(word)) is not None


def _percent_word(word: str) -> bool:
    """Whether ``word`` is a percent's word (``Perzent``, ``pourcentage``, ``pct``)."""
    if word.isupper() and word.casefold() == "pct":
        return False  # PCT: procalcitonin
    return _PERCENT_WORD.fullmatch(folded(word)) is not None
