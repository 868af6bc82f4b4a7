"""A unit written out in words beside the coded unit: the unit the words name. Pure: no I/O.

OBX-6's text (and a FHIR Quantity's unit display) often writes the unit in words, UCUM's
print names or a laboratory's own: ``grams per deciliter``, ``microkatal per liter``,
``percent``, ``10^9 cells per litre``. Passed over as a description, the coded unit was
used alone even where the words named another unit: ``g/L^grams per deciliter`` stored
13.5 g/L as 1.35 g/dL (a life-threatening anaemia grade), ``10*9/L^percent`` published a
neutrophil percentage as a count. So words naming a unit are read as the unit they name
and compared with the coded unit by its factor (``analytes.resolve_unit``), as a unit
written as a unit is; and words that name a unit only in part (``milligrams per litre of
serum``, ``PLT units``, ``Mikroliter per litre``) cannot be told from another unit and are
never guessed at: ``units_named`` says so (None), and the result is refused.

The words are English, German, French and Italian (the trial's Swiss sites write all
three: ``Milligramm pro Deziliter``, ``milligrammes par décilitre``, ``milligrammi al
decilitro``; review 155 found them passed over, ``mg/L^Milligramm pro Deziliter`` stored
1.2 mg/L, 12 measured): ``unit_vocabulary`` lists them. A label before the unit is no
unit's word (``Einheit: mg/l``, ``Unit mg/dL``; ``Einheiten pro Liter`` is U/L).

A text holding none of these words (``Neutrophils``, ``UCUM``, ``99LAB``, ``% of WBC``,
``CREA-U``, ``hs-CRP``) is read as before (``unit_factors.unit_written``): a unit written
first is compared; and so is every unit's symbol it holds after a word (``CRP (mg/dL)``,
``S-CRP mg/dl``: ``unit_symbols``), and a local code that runs a unit together (``MGDL``).
So is a name of a system of units (``SI units``, ``SI-Einheiten``): none. ``per`` and the
words for it alone, beside no unit's symbol, are a description's (``per adulti``).

The words, in any case and either number (``gram``, ``Grams``): a metric prefix before
gram, mole, katal, litre, unit (``international unit``, UCUM's ``enzyme unit``) or
equivalent; ``cubic`` before a prefixed metre (``cubic millimetre``, a microlitre; ``cube``
after it); ``percent`` (``per cent``); ``per`` (or ``/``) between a unit and what it is per;
a count's multiplier (thousand, million, billion: 10^9, giga) or a power of ten (``10^9``,
``x 10E9``, ``10⁹``, UCUM's print name ``(the number ten for arbitrary powers ^ 9)``), and
``cells``, before what is counted; 10, 100 or 1000 before a volume (``per 100 millilitres``).
A unit's symbol may stand among them (``mg per decilitre``, ``IU per litre``). A unit whose
factor its words leave unknown (``milliequivalents per litre``) is no unit read.
"""

from __future__ import annotations

import re
from typing import Final

from services.lab_ingestion.domain.unit_factors import standard_form, unit_factor
from services.lab_ingestion.domain.unit_factors import unit_written_before as _written_first
from services.lab_ingestion.domain.unit_shapes import names_a_unit, powers_written_out
from services.lab_ingestion.domain.unit_symbols import (
    compatible_form,
    symbols_in,
    units_spelled,
)
from services.lab_ingestion.domain.unit_vocabulary import Token, folded, word_token

# a name of a system of units (a coding system's, a unit's kind): plainly no unit
_NO_UNIT: Final = frozenset({
    "unified code for units of measure", "units of measure", "si units", "si unit",
    "conventional units", "conventional unit", "international system of units",
    "si-einheiten", "si einheiten", "si-einheit", "si einheit", "konventionelle einheiten",
    "unites si", "unite si", "unites conventionnelles", "unita si", "unita convenzionali",
})  # fmt: skip
_TOKEN: Final = re.compile(
    r"(?P<power>[x\u00d7]?\s*10(?:\s*[*^]\s*|[eE])(?P<n>[0-9]{1,2})(?![0-9])"
    r"|[x\u00d7]?\s*10\((?P<p>[0-9]{1,2})\))"
    r"|(?P<number>[0-9]+)"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<slash>/)"
    r"|(?P<other>\S)"
)
# UCUM's print name of a power of ten (``10*9``), as its tools display a unit
_UCUM_POWER: Final = re.compile(
    r"\(?\s*the\s+number\s+ten\s+for\s+arbitrary\s+powers\s*\^\s*([0-9]{1,2})\s*\)?",
    re.IGNORECASE,
)
_TENS: Final = re.compile(r"10{1,3}")  # 10, 100, 1000 before a volume: per 100 mL
_SEPARATORS: Final = " \t-\u2013:=,;"
# a label before the unit: ``Einheit: mg/l``, ``Einheit; U/l``, ``Unit mg/dL`` (the word
# alone is the enzyme's unit: ``Einheiten pro Liter``, ``units per litre``)
_LABEL: Final = re.compile(
    r"\s*(?:units?|(?:ma(?:ss|\u00df))?einheit|unit[e\u00e9]|unit[a\u00e0])(?![^\W\d_])"
    r"(?:\s*(?P<colon>[:=,;_])\s*|\s+)",
    re.IGNORECASE,
)
_QUOTES: Final = "\"'`\u201a\u201e\u201c\u201d\u2018\u2019\u00ab\u00bb\u2039\u203a"
# a hyphen between two words (``pour-cent``, ``Milligramm-pro-Liter``): a space
_HYPHEN: Final = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")


def units_named(text: str) -> tuple[str, ...] | None:
    """The units ``text`` names, to be compared with the coded unit: none for a text that
    names none (a description, a coding system); the unit written first (``unit_written``)
    and the unit its words after it name (``mg/dL (milligrams per decilitre)``: both); the
    unit its words name (``grams per deciliter``, ``Milligramm pro Deziliter``: ``g/dL``,
    ``mg/dL``); the units' symbols written after a word (``CRP (mg/dL)``: ``unit_symbols``);
    the unit a local code runs together (``MGDL``). None when it holds a unit's words that
    cannot be read whole as one unit, or a code spelling two: which unit, cannot be told."""
    text = _unlabelled(compatible_form(text))
    first, rest = _written_first(text)
    if " ".join(folded(text).split()) in _NO_UNIT:
        return (first,) if first else ()
    if not holds_unit_words(text):
        # ``mg/dL (CRP in mg/L)``: both; ``CRP (mg/dL)``; a code, ``MGDL``
        if first:
            return (first, *symbols_in(rest, after_unit=True))
        return symbols_in(rest) or _spelled(text)
    whole = unit_in_words(text)
    if whole is not None:
        return (whole,)
    if first is None:
        return _words_then_symbol(text)
    return _after_first(first, rest)


_TRAILING_BRACKET = re.compile(r"\(([^()]*)\)\s*$")  # the last bracket: one class, no nesting


def _words_then_symbol(text: str) -> tuple[str, ...] | None:
    """``Milligramm pro Liter (mg/l)``: the unit the words name and the unit's symbol in
    brackets after them, both (review 265: a Swiss display, read the other way round,
    ``mg/L (milligrams per liter)``, but not so: the range was dropped, the value refused);
    None when either cannot be read as one unit."""
    bracket = _TRAILING_BRACKET.search(text)
    if bracket is None:
        return None
    described = unit_in_words(text[: bracket.start()])
    symbol, after = _written_first(bracket[1].strip())
    if described is None or symbol is None or after.strip():
        return None
    return (described, symbol)


def _after_first(first: str, rest: str) -> tuple[str, ...] | None:
    """The units ``first`` and the text after it (``rest``) name."""
    if not holds_unit_words(rest):
        return (first, *symbols_in(rest, after_unit=True))  # ``K per uL of blood``
    described = unit_in_words(_unbracketed(rest))
    return None if described is None else (first, described)


def holds_unit_words(text: str) -> bool:
    """Whether ``text`` holds a word that names a unit (``percent``, ``grams``, ``Litre``,
    ``Deziliter``, ``thousand``, ``cubic``), or one that joins a unit's parts (``per``,
    ``pro``, ``par``, ``al``) before what a unit is per and beside a unit's symbol or a power
    of ten (``10^9 per L``, ``per cent``): a unit's symbols alone (``U``, ``L``, ``mg``) are
    read as ``unit_written`` reads them, and a joining word before a description's word is a
    description's (Italian's ``per``: ``per adulti``; ``U/l par méthode IFCC``, ``mg/l je
    nach Methode``, ``U/l pour 37°C``: review 166)."""
    joined = beside = False
    matches = list(_TOKEN.finditer(_written_out(text)))
    for index, match in enumerate(matches):
        if match["power"]:
            beside = True
        elif match["word"]:
            token = word_token(match["word"])
            if token is not None and token[0] in _TRIGGERS:
                return True
            if token is not None and token[0] == "per":
                joined = joined or _joins(matches[index + 1 : index + 2])
            beside = beside or (token or _symbol(match["word"]) or ("",))[0] in _BESIDE
    return joined and beside


def _joins(following: list[re.Match[str]]) -> bool:
    """Whether a word for ``per`` followed by ``following`` (its next token) joins a unit's
    parts: before a unit's word or symbol, a power of ten or 10, 100, 1000."""
    if not following:
        return False
    after = following[0]
    if after["power"]:
        return True
    if after["number"]:
        return _TENS.fullmatch(after["number"]) is not None
    word = after["word"]
    return bool(word) and (word_token(word) or _symbol(word)) is not None


def unit_in_words(text: str) -> str | None:
    """The unit ``text`` names in words, read whole (``microkatal per liter``: ukat/L;
    ``thousand per cubic millimetre``: 10^3/mm3), in standard form; None when any of it is
    no unit's word or the unit's factor cannot be told."""
    tokens = _tokens(text)
    if tokens is None:
        return None
    if [k for k, _ in tokens] in (["percent"], ["per", "cent"]):
        return "%"
    cuts = [i for i, (kind, _) in enumerate(tokens) if kind == "per"]
    if len(cuts) > 1:
        return None
    top = _side(tokens[: cuts[0]] if cuts else tokens)
    bottom = _side(tokens[cuts[0] + 1 :]) if cuts else ""
    if top is None or bottom is None or (cuts and not bottom) or not (top or bottom):
        return None
    unit = standard_form(f"{top}/{bottom}" if cuts else top)
    return unit if unit_factor(unit) is not None else None


_TRIGGERS: Final = frozenset({"percent", "count", "cubic", "cube", "term"})
_BESIDE: Final = frozenset({"term", "cent"})  # a unit's symbol, or cent: ``per cent``


def _tokens(text: str) -> list[Token] | None:
    tokens: list[Token] = []
    for match in _TOKEN.finditer(_written_out(text)):
        if match["power"]:
            tokens.append(("power", int(match["n"] or match["p"])))
        elif match["number"]:
            if not _TENS.fullmatch(match["number"]):
                return None
            tokens.append(("number", match["number"]))
        elif match["slash"]:
            tokens.append(("per", "/"))
        elif match["word"] and (token := word_token(match["word"]) or _symbol(match["word"])):
            tokens.append(token)
        else:
            return None
    return tokens


def _symbol(word: str) -> Token | None:
    """A unit's symbol among words (``mg``, ``dL``, ``IU``, ``L``), or None."""
    if names_a_unit(word) or unit_factor(standard_form(word)) is not None:
        return ("term", word)
    return None


def _side(tokens: list[Token]) -> str | None:
    """One side of ``per``: powers of ten and count words, ``cells``, then one unit (or
    none: ``10^9 cells``); None for anything else."""
    power, multiple, term, index = 0, "", None, 0
    while index < len(tokens):
        kind, value = tokens[index]
        after = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        if term is not None or (multiple and kind in {"power", "count", "number"}):
            return None  # nothing after the unit, one multiple written in digits alone
        if kind in {"power", "count"}:
            power += int(value)
        elif kind == "number" and not power:
            multiple = str(value)  # per 100 millilitres
        elif kind == "x" and after[0] == "power":
            pass  # x 10^9
        elif kind == "cells":
            pass  # 10^9 cells: a count's annotation
        elif kind in {"international", "enzyme"} and after == ("term", "U"):
            term, index = "U", index + 1
        elif kind == "cubic" and after[0] == "length":
            term, index = f"{after[1]}3", index + 1
        elif kind == "length" and after[0] == "cube":
            term, index = f"{value}3", index + 1  # millimètre cube, millimetro cubo
        elif kind == "term" and value == "U" and after[0] == "international":
            term, index = "U", index + 1  # unités internationales, unità internazionali
        elif kind == "term":
            term = str(value)
        else:
            return None
        index += 1
    return (f"10^{power}" if power else multiple) + (term or "")


def _unbracketed(rest: str) -> str:
    """The words after a unit without what sets them apart: ``(...)``, ``[...]``, ``- ...``."""
    text = rest.strip().lstrip(_SEPARATORS).strip()
    if len(text) > 1 and text[0] + text[-1] in {"()", "[]"}:
        return text[1:-1]
    return text


def _written_out(text: str) -> str:
    """``text`` with its powers of ten as ``10^n``: written in superscript (``10⁹``) or as
    UCUM's print name (``(the number ten for arbitrary powers ^ 9)``); a hyphen between
    words a space (``pour-cent``)."""
    return _HYPHEN.sub(" ", _UCUM_POWER.sub(r" 10^\1 ", powers_written_out(text)))


def _unlabelled(text: str) -> str:
    """``text`` without a label before its unit (``Einheit: mg/l``, ``Unit (mg/dL)``): a
    label's word before a unit's symbol, or before a colon."""
    label = _LABEL.match(text)
    if label is None or unit_in_words(text) is not None:
        return text  # no label; or its word is the unit's (``unità internazionali/litro``)
    after = _unbracketed(text[label.end() :])
    quoted = after.strip(_QUOTES)  # ``Einheit „mg/l“``: read without its quotes (review
    # 282: ``Einheit "IE/l"`` was passed over with them, where ``Einheit IE/l`` is refused)
    if after and names_a_unit(quoted):
        return quoted
    return after if after and label["colon"] else text


def _spelled(code: str) -> tuple[str, ...] | None:
    """The unit a local code spells (``units_spelled``): None when it spells two."""
    units = units_spelled(code)
    return None if len(units) > 1 else tuple(units)
