"""What a unit text written beside the recognised unit measures: its standard form and its
factor. Pure: no I/O.

A laboratory writes one unit many ways (``K/ul``, ``x10^3/mcL``, ``1000/uL``, ``K/cumm`` for
10*3/uL; ``micromol/L``, ``µmol/L`` for umol/L; ``g/100mL`` for g/dL). Beside the coded unit
these are the same unit, and refusing them loses a count the laboratory wrote correctly.
So a text is brought to a standard form, where its meaning is certain, and its factor (the
dimension and the multiple of grams, moles, litres, katals or units) compared: a unit of the
same dimension and factor is the same unit; any other, or a percentage, is another.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Final

from services.lab_ingestion.domain.unit_shapes import names_a_unit, powers_written_out
from services.lab_ingestion.domain.unit_vocabulary import (
    PER_WORDS,
    folded,
    volume_symbol,
    word_token,
)

Dimension = tuple[tuple[str, int], ...]  # base unit -> power, sorted
Factor = tuple[Dimension, Fraction]

_PREFIXES: Final = {
    "": 0, "T": 12, "G": 9, "M": 6, "k": 3, "h": 2, "d": -1, "c": -2, "m": -3, "u": -6,
    "n": -9, "p": -12, "f": -15,
}  # fmt: skip
# base unit -> (its dimension, whether it is a cubic metre): a litre in either case (UCUM
# reads both); the enzyme unit in its international spellings; a metre only cubed
_BASES: Final = {
    "g": ("g", False), "gm": ("g", False), "mol": ("mol", False), "L": ("L", False),
    "l": ("L", False), "kat": ("kat", False), "U": ("U", False), "IU": ("U", False),
    "iu": ("U", False), "[IU]": ("U", False), "[iU]": ("U", False), "UI": ("U", False),
    "unit": ("U", False), "units": ("U", False), "Unit": ("U", False), "Units": ("U", False),
    "m3": ("L", True),
}  # fmt: skip
_TERM: Final = re.compile(
    r"(?P<prefix>[TGMkhdcmunpf]?)(?P<base>"
    + "|".join(re.escape(b) for b in sorted(_BASES, key=len, reverse=True))
    + r")"
)
# a molar concentration written M (µM, mM, nM): mol/L; never a bare M, which UCUM reads mega
_MOLAR: Final = re.compile(r"(?P<prefix>[umnp])M")
# a power of ten as laboratories write it: 10*3, 10^3, x10E3, 10e3, x10(3), or 10, 100, 1000
_POWER: Final = re.compile(r"x?10(?:[*^eE](?P<n>[0-9]{1,2})|\((?P<p>[0-9]{1,2})\))|(?P<z>10{1,3})")
# a count's multiplier word, in any case (``K`` and ``G`` only as listed spellings write them)
_COUNT_WORDS: Final = {"k": 3, "thou": 3, "thousand": 3, "tsd": 3, "giga": 9, "gpt": 9}
# a count's annotation, UCUM's {cells} or a word (Zellen, cellules): factor 1 (10^9 cells/L
# is 10^9/L)
_CELLS: Final = re.compile(
    r"(?<![^\W\d_])\{?(?:cells?|zellen?|cellules?|cellul[ae])\}?(?![^\W\d_])", re.IGNORECASE
)
# a count's multiplier written before "per" (Mil per uL, M per uL: a million, 1000 times a
# thousand); M and G only in UCUM's case (m is milli, g a gram)
_PER_COUNT_WORDS: Final = {**_COUNT_WORDS, "mil": 6, "million": 6}
_PER_COUNT_LETTERS: Final = {"M": 6, "G": 9}
_DESCRIPTION_START: Final = re.compile(r"[\s(\[]")


def unit_written(text: str) -> str | None:
    """The unit a component's text is written as: all of it (``%``, ``x 10^12/L``), or its
    first word when words follow (``% (percent)``, ``% of WBC``, ``mg/dL (milligrams per
    decilitre)``: the words describe the unit written first; ``10^9 cells/L`` is 10^9/L).
    None for words about a unit (``milligrams per liter``, ``percent``: read as words by
    ``unit_words``) or a coding system, and for a text opening with a number alone (``10^9
    cells per litre``: it is in words). A unit written out with ``per`` is that unit
    (``_written_per``)."""
    return unit_written_before(text)[0]


def unit_written_before(text: str) -> tuple[str | None, str]:
    """``unit_written``, and the text after the part it read (the words after a unit
    written first, ``(milligrams per decilitre)``; after ``K per uL``, ``of blood``): what
    ``unit_words`` reads as words, if they name a unit too."""
    stripped = _CELLS.sub("cells", text.strip())
    counted = re.sub(r"(?<=[0-9)])\s*cells\s*(?=/)", "", stripped)  # 10^9 cells/L: 10^9/L
    if names_a_unit(counted):
        return counted, ""
    words = counted.split()
    if len(words) > 2 and folded(words[1]) in PER_WORDS and per_what(words[2]):
        return _written_per(words[0], words[2]), " ".join(words[3:])
    first = _DESCRIPTION_START.split(counted, maxsplit=1)[0]
    if first == counted or not names_a_unit(first) or not re.search(r"[^\W\d_]|%", first):
        return None, counted
    return first, counted[len(first) :]


def per_what(word: str) -> bool:
    """Whether ``word``, after ``per`` or a word for it (``pro``, ``je``, ``par``, ``pour``,
    ``al``), is what a unit is per: a unit's word or symbol (``Deziliter``, ``l``, ``uL``),
    a count's word, a power of ten, or 10, 100, 1000 (``per 100 mL``). Any other word is a
    description's (``par néphélométrie``, ``pour 37°C``, ``je nach Methode``, ``pro Test``):
    the unit ends before it (review 166)."""
    if names_a_unit(word) or word_token(word) is not None or _POWER.fullmatch(word):
        return True
    return unit_factor(standard_form(word)) is not None  # ``L``, ``l``: a litre


def _written_per(first: str, volume: str) -> str | None:
    """``<unit> per <volume>`` as ``unit/volume`` (``IU per litre``, ``K per uL``,
    ``% per 100 WBC``; ``mg pro l``, ``mg par litre``: ``unit_vocabulary``), when its first
    word is a unit or a count's multiplier: compared, and refused when its factor cannot be
    told, since what the first word measures (a percentage, a million) is then not the coded
    unit's. None when the first word is no unit (``milligrams per liter``, ``billion per
    litre``: words about one)."""
    per = volume_symbol(volume) or volume
    power = _PER_COUNT_LETTERS.get(first) or _PER_COUNT_WORDS.get(first.casefold())
    if power is not None:
        return standard_form(f"10^{power}/{per}")
    return standard_form(f"{first}/{per}") if names_a_unit(first) else None


def standard_form(unit: str) -> str:
    """``unit`` written as the service lists units, where the meaning is certain: no spaces,
    a micro prefix written ``u`` (µ, μ, mc, micro), a litre ``L``, a cubic millimetre
    ``mm3`` (``cumm``, ``cmm``: as a whole word only), a power of ten's superscripts written
    out, no trailing ``.`` or ``*``. What could mean two things (``UL``, ``Mmol``) is left
    as written."""
    text = powers_written_out("".join(unit.split()).replace("\u00d7", "x"))
    text = text.rstrip(".*").replace("\u00b3", "3").replace("\u00b2", "2")
    text = re.sub(r"[\u00b5\u03bc]|(?<![^\W\d_])(?:mc|[mM]icro)(?=mol|kat|g|L|l|M)", "u", text)
    text = re.sub(r"(?i)(?<![^\W\d_])cu?mm(?![^\W\d_])", "mm3", text)
    return re.sub(r"(?<![^\W\d_])([dcmunpf]?)l(?![^\W\d_])", r"\1L", text)


def unit_factor(unit: str) -> Factor | None:
    """The dimension and factor of a unit in standard form (``g/100mL``: g/L, 10; ``%``:
    none, 1/100), or None when it cannot be told (an unknown word, a number that is no
    power of ten, a second slash): such a text is never taken for the recognised unit."""
    if unit == "%":
        return (), Fraction(1, 100)
    parts = unit.split("/")
    if len(parts) > 2:
        return None
    top = _side(parts[0], numerator=True)
    bottom = _side(parts[1], numerator=False) if len(parts) == 2 else ((), Fraction(1))
    if top is None or bottom is None:
        return None
    powers = dict(top[0])
    for base, power in bottom[0]:
        powers[base] = powers.get(base, 0) - power
    return tuple(sorted((b, p) for b, p in powers.items() if p)), top[1] / bottom[1]


def _side(text: str, *, numerator: bool) -> Factor | None:
    """One side of a slash: a power of ten or a count word, then a unit term or nothing."""
    scale = Fraction(1)
    if numerator and text.casefold() in _COUNT_WORDS:
        return (), Fraction(10) ** _COUNT_WORDS[text.casefold()]
    if numerator and text.casefold() == "cells":
        return (), scale
    if power := _POWER.match(text):
        digits = power["n"] or power["p"]
        scale = Fraction(10) ** (int(digits) if digits else len(power["z"]) - 1)
        text = text[power.end() :]
    if not text:
        return (), scale
    if molar := _MOLAR.fullmatch(text):
        return (("L", -1), ("mol", 1)), scale * Fraction(10) ** _PREFIXES[molar["prefix"]]
    term = _TERM.fullmatch(text)
    if term is None:
        return None
    base, cubed = _BASES[term["base"]]
    prefix = _PREFIXES[term["prefix"]]
    # a cubic metre is 10^3 L, and its prefix is cubed with it: mm3 is 10^-6 L, a microlitre
    return ((base, 1),), scale * Fraction(10) ** (prefix * 3 + 3 if cubed else prefix)
