"""A unit's symbol written among words, and a local code that spells a unit. Pure: no I/O.

A unit text was compared only when it opened with a unit (``mg/dL (milligrams...)``); a
unit written after a word was passed over with the word, and the coded unit used alone:
``mg/L^CRP (mg/dL)^L``, ``mg/L^S-CRP mg/dl``, ``mg/L^Einheit mg/dl`` stored 1.2 mg/L
(12 mg/L measured), ``mg/dl^CRP (mg/l)`` 12 mg/L (review 155). So every symbol a text holds
(``symbols_in``: ``mg/dl``, ``(mmol/l)``, ``[10*9/L]``, ``%``) is compared with the coded
unit. A symbol is a unit's shape (``unit_shapes.names_a_unit``) whose letters are all a
unit's (``mg``, ``dL``, ``µmol``, ``x``, ``E``) or a count's (``K``, ``Tsd``, ``Giga``), or a
spelling the service lists; never one letter alone (``Typ E``, ``Vitamin D``: words) nor a
date or a number alone (``12/03/1961``). ``Thrombozyten/Leukozyten`` is no symbol.

A symbol glued to a label by punctuation (``CRP:mg/dL``, ``CRP;mg/dL``, ``mg/dL,Serum``,
``Labor,mg/dL``, ``lab=mg/dL``, ``2.1_mg/dL``, ``"mg/dL"``, ``„mg/dL“``) was passed over
with the label, and the coded unit used alone (task 280): a word that is no symbol whole is
split at a label's punctuation (a colon, semicolon, equals sign, underscore, quotes, or a
comma or apostrophe not between two digits: ``10,5%`` and ``1'000/µl`` are numbers) and
each part looked at as a word is. A ``%`` is a quantity only after a number (``±10 %``,
``3%``), never after a word ending in a digit (``HL7 %``); a per mille sign (``‰``, ``‱``)
is read as ``%`` is, a unit of its own.

A laboratory's local unit code (OBX-6.1 in its own coding system) runs a unit together:
``MGDL^mg/L^99LAB`` is mg/dL beside the text mg/L, two units (``units_spelled``). A code that
spells a prefixed mass, amount, katal or unit (or a power of ten: ``109L``) and a prefixed
litre is that unit (``MGDL``, ``MG_DL``, ``UMOLL``, ``GDL``, ``10E9L``); one spelling two
units (``GML``: g/mL or gm/L) cannot be told.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from services.lab_ingestion.domain.unit_factors import standard_form, unit_factor
from services.lab_ingestion.domain.unit_shapes import UNIT_WORDS, names_a_unit
from services.lab_ingestion.domain.unit_spellings import COUNT_WORDS, recognise_unit

_LETTERS: Final = re.compile(r"[^\W\d_]+")
# a count's words among a symbol's letters (K/uL, Tsd/µl, Giga/l, cells/uL, Mio/µl)
_COUNT_LETTERS: Final = frozenset(COUNT_WORDS) | {"k", "mio", "mil", "cells", "cell"}
_OPENERS: Final = "([{"
_CLOSERS: Final = ")]}"
_TRAILING: Final = ",;:."
_PERCENT_SIGNS: Final = ("%", "\u2030", "\u2031")  # percent, per mille, per ten thousand
_NUMBER_BEFORE: Final = re.compile(r"[0-9][.,]?[0-9]*\s*[%\u2030\u2031]")  # 3%, 10,5%
_WORDS_AND_PERCENT: Final = re.compile(r"[^\W_]+|[%\u2030\u2031]")
# a number before a percent (``3``, ``±10``, ``10,5``, ``0.5-1``), never a word (``HL7``)
# (a sign of one or two characters: ``±``, ``+/-``, ``+-``; review 282: ``+/-3 %`` was a unit)
_NUMBER: Final = re.compile(
    r"(?:\+/-|\+-|-/\+|[\u00b1+\-\u2212~<>\u2264\u2265\u2248])?[0-9]+(?:[.,\-\u2013][0-9]+)*"
)
# what glues a label to a unit's symbol: a colon, semicolon, equals sign, underscore,
# quotes; and a comma or apostrophe, except between a number's digits (``10,5``, Swiss
# ``1'000``; never ``2.1,10*9/l`` nor ``HL7,10*9/l``: a version's, a label's)
_GLUE: Final = re.compile(
    r"[:;=_,\"'`\u201a\u201e\u201c\u201d\u2018\u2019\u00ab\u00bb\u2039\u203a]"
)
_IN_NUMBERS: Final = frozenset(",'\u2019")
_IN_RATIOS: Final = ":"  # a dilution's or a time's (``1:10``, ``08:15``): review 282
# a code's words joined by underscores (``CRP_MG_L``, ``HB_G_DL``, ``MG_L_1``): a local
# code, read whole, never cut into units (review 282: ``MG`` of ``CRP_MG_L`` was refused)
_CODE_WORDS: Final = re.compile(r"[^\W_]+(?:_[^\W_]+)+")

# the full-width forms of ASCII (U+FF01-FF5E) and the small forms (U+FE50-FE6B)
_COMPATIBLE: Final = re.compile(r"[\uff01-\uff5e\ufe50-\ufe6b]")

_CODE_PREFIXES: Final = {"": "", "k": "k", "d": "d", "c": "c", "m": "m", "u": "u", "mc": "u",
                         "n": "n", "p": "p", "f": "f"}  # fmt: skip
_CODE_BASES: Final = {"g": "g", "gm": "g", "mol": "mol", "kat": "kat", "eq": "eq", "u": "U",
                      "iu": "U"}  # fmt: skip
_CODE_TOPS: Final = {p + b: _CODE_PREFIXES[p] + s for p in _CODE_PREFIXES
                     for b, s in _CODE_BASES.items()}  # fmt: skip
_CODE_BOTTOMS: Final = {p + "l": _CODE_PREFIXES[p] + "L" for p in ("", "d", "c", "m", "u", "mc")}
_CODE_POWER: Final = re.compile(r"x?10(?:[e^*])?(?P<n>[0-9])")
_CODE: Final = re.compile(r"[a-z0-9]+(?:[_.\-][a-z0-9]+)?")
_CODE_SEPARATORS: Final = re.compile(r"[_.\-]|per")
_MAX_CODE: Final = 16


def compatible_form(text: str) -> str:
    """``text`` with its full-width and small forms (the full-width percent sign, U+FF05;
    the small one, U+FE6A; full-width letters and solidus) in their plain ones, and the
    Arabic percent sign (U+066A) as ``%``: Unicode's compatibility mapping (NFKC) of those
    characters alone, since NFKC of the whole text would write a power of ten's superscripts
    as digits (``10⁹/L`` as ``109/L``) and the micro sign as a Greek mu (task 280: a
    full-width percent beside 10*9/L published a neutrophil percentage as a count)."""
    plain = _COMPATIBLE.sub(lambda m: unicodedata.normalize("NFKC", m[0]), text)
    return plain.replace("\u066a", "%")


def symbols_in(text: str, *, after_unit: bool = False) -> tuple[str, ...]:
    """The units' symbols ``text`` holds, each as written without the brackets or the
    punctuation around it (``CRP (mg/dL)``: ``mg/dL``; ``Einheit: mg/l,``: ``mg/l``).

    A ``%`` after a number is a quantity, no unit (``CV 3%``, ``±10 %``, ``5 %``); after a
    unit (``after_unit``: the text follows a unit already read; or a symbol before it in
    ``text``) it names a unit only alone or directly after one word, the analyte's name
    (``(%)``, ``Neutrophile %``), not in a description (``Hämatokrit in % separat``,
    ``(% see NEUT%)``: review 166)."""
    chunks, glued = _words(text)
    found: list[str] = []
    unit_ends = 0 if after_unit else None  # where the text after a unit read starts
    for index, chunk in enumerate(chunks):
        symbol = _symbol(chunk)
        if symbol is None:
            continue
        if not _percent(symbol):
            unit_ends = index + 1 if unit_ends is None else unit_ends
        elif _quantity(chunks, index, symbol, glued=index in glued) or (
            unit_ends is not None and not _percent_named(chunks[unit_ends:])
        ):
            continue
        found.append(symbol)
    return tuple(found)


def _words(text: str) -> tuple[list[str], set[int]]:
    """``text``'s blank-separated words, each that is no symbol whole split at a label's
    punctuation (``CRP:mg/dL``: ``CRP``, ``mg/dL``; ``"%"``: ``%``), never a local code
    that spells a unit (``MG_DL``: ``units_spelled``); and which of them such punctuation
    sets apart from the word before (``%`` of ``2.1:%``, ``2.1: %``, ``"%"``: no number's
    quantity)."""
    words: list[str] = []
    glued: set[int] = set()
    for chunk in text.split():
        cuts = _cuts(chunk)
        if not cuts or _symbol(chunk) is not None or units_spelled(chunk):
            words.append(chunk)  # ``MG_DL``: a local code, read whole
            continue
        starts = [0, *(cut + 1 for cut in cuts)]
        for start, end in zip(starts, [*cuts, len(chunk)], strict=True):
            if start:
                glued.add(len(words))
            if end > start:
                words.append(chunk[start:end])
        if cuts[-1] == len(chunk) - 1:
            glued.add(len(words))  # ``2.1:`` before ``%``
    return words, glued


def _cuts(chunk: str) -> list[int]:
    """Where a label's punctuation parts ``chunk``: at each glue mark but a number's
    (``_kept_whole``), and at an underscore only outside a code's words, what other marks
    leave of the chunk being letters and digits joined by underscores (``CRP_MG_L`` of
    ``CRP:CRP_MG_L``; ``mg/dL_Serum`` is cut)."""
    marks = [m.start() for m in _GLUE.finditer(chunk) if chunk[m.start()] != "_"]
    cuts = [at for at in marks if not _kept_whole(chunk, at)]
    starts, ends = [0, *(at + 1 for at in cuts)], [*cuts, len(chunk)]
    for start, end in zip(starts, ends, strict=True):
        piece = chunk[start:end]
        if "_" in piece and _CODE_WORDS.fullmatch(piece) is None:
            cuts += [start + i for i, c in enumerate(piece) if c == "_"]
    return sorted(cuts)


def _kept_whole(chunk: str, at: int) -> bool:
    """Whether the punctuation at ``chunk[at]`` is a number's, no label's glue: a comma or
    apostrophe between a whole number's digits (``10,5``, ``1'000``), a colon between
    digits (``1:10``)."""
    mark = chunk[at]
    if not _ascii_digit(chunk[at + 1 : at + 2]):
        return False
    if mark == _IN_RATIOS:
        return _ascii_digit(chunk[at - 1 : at])
    return mark in _IN_NUMBERS and _whole_number_before(chunk, at)


def _ascii_digit(character: str) -> bool:
    return len(character) == 1 and "0" <= character <= "9"


def _whole_number_before(chunk: str, at: int) -> bool:
    """Whether digits end at ``at`` that start the chunk or follow a mark other than a
    letter's, digit's, underscore or period (the 10 of ``10,5``; never ``HL7,`` nor
    ``2.1,``). Looks back over the digits alone, so a long run of numbers is read once."""
    start = at
    while start and _ascii_digit(chunk[start - 1]):
        start -= 1
    if start == at:
        return False
    before = chunk[start - 1] if start else ""
    return not before or not (before.isalnum() or before in "_.")


def _percent(symbol: str) -> bool:
    return any(sign in symbol for sign in _PERCENT_SIGNS)


def _quantity(chunks: list[str], index: int, symbol: str, *, glued: bool) -> bool:
    """Whether the ``%`` at ``chunks[index]`` follows a number (``3%``, ``±10 %``), never
    a word that ends in a digit (``HL7 %``: a label's, the ``%`` a unit) nor a number a
    label's punctuation sets apart (``2.1:%``, ``glued``)."""
    if symbol not in _PERCENT_SIGNS:
        return symbol[:-1].rstrip()[-1:].isdigit() or bool(_NUMBER_BEFORE.search(symbol))
    if glued or not index:
        return False  # ``2.1:%``, ``Version 2.1: %``: a label's number, set apart
    before = chunks[index - 1].rstrip(_TRAILING).lstrip(_OPENERS)
    opened = chunks[index].lstrip(_OPENERS) != chunks[index]  # ``(%``: opens its own words
    return not opened and _NUMBER.fullmatch(before) is not None


def _percent_named(after: list[str]) -> bool:
    """Whether the words after a unit name ``%`` as one: ``%`` alone, or one word before
    it (``(%)``, ``Neutrophile %``, ``NEUT%``)."""
    words = _WORDS_AND_PERCENT.findall(" ".join(after))
    return len(words) in (1, 2) and words[-1] in _PERCENT_SIGNS


def units_spelled(code: str) -> frozenset[str]:
    """The units a local unit code runs together (``MGDL``: ``mg/dL``): none when it
    spells none, two when it can be read as either (``GML``: ``g/mL``, ``g/L``)."""
    compact = code.strip().casefold()
    if len(compact) > _MAX_CODE or not _CODE.fullmatch(compact):
        return frozenset()
    readings = (_reading(top, bottom) for top, bottom in _splits(compact))
    units = {unit for unit in readings if unit is not None}
    if len({unit_factor(unit) for unit in units}) == 1:
        return frozenset(sorted(units)[:1])  # one unit written two ways (``u``, ``mc``)
    return frozenset(units)


def _symbol(chunk: str) -> str | None:
    """``chunk`` as a symbol, bare of brackets around it (``(x10(9)/L)``: ``x10(9)/L``); the
    first bare form whose factor is known is taken, else the first shaped as a unit."""
    trimmed = chunk.rstrip(_TRAILING)
    bare = trimmed.lstrip(_OPENERS).rstrip(_CLOSERS).rstrip(_TRAILING)
    forms = [bare, trimmed.lstrip(_OPENERS), trimmed.rstrip(_CLOSERS), trimmed]
    shaped = [form for form in forms if _is_symbol(form)]
    known = [form for form in shaped if recognise_unit(form) or _factor_known(form)]
    chosen = known or shaped
    return chosen[0] if chosen else None


def _is_symbol(text: str) -> bool:
    if text in _PERCENT_SIGNS:
        return True  # ``%``; a per mille, ``‰``, is no unit's shape but a unit still
    letters = [word.casefold() for word in _LETTERS.findall(text)]
    if not names_a_unit(text) or not (letters or "%" in text):
        return False
    if len(text) == 1 and text != "%":
        return False  # one letter: a word's (Typ E), never taken for a unit
    words = all(w in UNIT_WORDS or w in _COUNT_LETTERS for w in letters)
    return words or recognise_unit(text) is not None


def _factor_known(text: str) -> bool:
    return unit_factor(standard_form(text)) is not None


def _splits(code: str) -> list[tuple[str, str]]:
    """Each way ``code`` is a top and a bottom: at its separator (``mg_dl``, ``mgperdl``)
    or, run together, at every letter."""
    parts = _CODE_SEPARATORS.split(code)
    if len(parts) == 2:
        return [(parts[0], parts[1])]
    if len(parts) > 2:
        return []
    return [(code[:cut], code[cut:]) for cut in range(1, len(code))]


def _reading(top: str, bottom: str) -> str | None:
    volume = _CODE_BOTTOMS.get(bottom)
    if volume is None:
        return None
    if power := _CODE_POWER.fullmatch(top):
        return f"10^{power['n']}/{volume}"
    unit = _CODE_TOPS.get(top)
    return None if unit is None else f"{unit}/{volume}"
