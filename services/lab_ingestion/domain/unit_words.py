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

A text holding none of these words (``Neutrophils``, ``UCUM``, ``99LAB``, ``% of WBC``,
``CREA-U``) is read as before (``unit_factors.unit_written``): a unit written first is
compared, the rest passed over. So is a name of a system of units (``SI units``).

The words, in any case and either number (``gram``, ``Grams``): a metric prefix (kilo,
hecto, deci, centi, milli, micro, nano, pico, femto) before gram (gramme), mole (mol),
katal, litre (liter), unit (``international unit``, UCUM's ``enzyme unit``) or
equivalent; ``cubic`` before a
prefixed metre (meter: ``cubic millimetre``, a microlitre); ``percent`` (``per cent``);
``per`` (or ``/``) between a unit and what it is per; a count's multiplier (thousand,
million, billion: 10^9, giga) or a power of ten (``10^9``, ``x 10E9``, ``10⁹``, UCUM's print
name ``(the number ten for arbitrary powers ^ 9)``), and
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

_PREFIX_WORDS: Final = {
    "": "", "kilo": "k", "hecto": "h", "deci": "d", "centi": "c", "milli": "m", "micro": "u",
    "nano": "n", "pico": "p", "femto": "f",
}  # fmt: skip
_BASE_WORDS: Final = {
    "gram": "g", "gramme": "g", "mole": "mol", "mol": "mol", "katal": "kat", "litre": "L",
    "liter": "L", "unit": "U", "equivalent": "eq",
}  # fmt: skip
_LENGTH_WORDS: Final = {"metre": "m", "meter": "m"}  # a length: only cubed (a volume)
# a count's multiplier written as a word: its power of ten (a billion is 10^9, as laboratories
# and UCUM's print names write it)
_COUNT_WORDS: Final = {"thousand": 3, "million": 6, "billion": 9, "giga": 9}
# a name of a system of units (a coding system's, a unit's kind): plainly no unit
_NO_UNIT: Final = frozenset({
    "unified code for units of measure", "units of measure", "si units", "si unit",
    "conventional units", "conventional unit", "international system of units",
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

Token = tuple[str, str | int]  # (kind, a unit's symbol or a power of ten)


def units_named(text: str) -> tuple[str, ...] | None:
    """The units ``text`` names, to be compared with the coded unit: none for a text that
    names none (a description, a coding system); the unit written first (``unit_written``)
    and the unit its words after it name (``mg/dL (milligrams per decilitre)``: both); the
    unit its words name (``grams per deciliter``: ``g/dL``). None when it holds a unit's
    words that cannot be read whole as one unit: which unit it is cannot be told."""
    first, rest = _written_first(text)
    if not holds_unit_words(text) or " ".join(text.casefold().split()) in _NO_UNIT:
        return (first,) if first else ()
    whole = unit_in_words(text)
    if whole is not None:
        return (whole,)
    if first is None:
        return None
    if not holds_unit_words(rest):
        return (first,)  # ``K per uL of blood``, ``% per 100 WBC``: the rest names none
    described = unit_in_words(_unbracketed(rest))
    return None if described is None else (first, described)


def holds_unit_words(text: str) -> bool:
    """Whether ``text`` holds a word that names a unit or joins a unit's parts (``per``,
    ``percent``, ``grams``, ``Litre``, ``thousand``, ``cubic``): a unit's symbols alone
    (``U``, ``L``, ``mg``) are read as ``unit_written`` reads them."""
    words = (_word(m["word"]) for m in _TOKEN.finditer(_written_out(text)) if m["word"])
    return any(word is not None and word[0] in _TRIGGERS for word in words)


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


_TRIGGERS: Final = frozenset({"per", "percent", "count", "cubic", "term"})


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
        elif match["word"] and (token := _word(match["word"]) or _symbol(match["word"])):
            tokens.append(token)
        else:
            return None
    return tokens


def _word(word: str) -> Token | None:
    """A unit's word (either number, any case) as a token, or None."""
    folded = word.casefold()
    for singular in (folded, folded[:-1] if folded.endswith("s") else None):
        if singular is None:
            continue
        if singular in {"per", "percent", "cent", "x", "cubic", "international", "enzyme"}:
            return (singular, singular)
        if singular == "cell":
            return ("cells", "")
        if singular in _COUNT_WORDS:
            return ("count", _COUNT_WORDS[singular])
        for name, prefix in _PREFIX_WORDS.items():
            if singular.startswith(name):
                base = singular[len(name) :]
                if base in _BASE_WORDS:
                    return ("term", prefix + _BASE_WORDS[base])
                if base in _LENGTH_WORDS:
                    return ("length", prefix + _LENGTH_WORDS[base])
    return None


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
    UCUM's print name (``(the number ten for arbitrary powers ^ 9)``)."""
    return _UCUM_POWER.sub(r" 10^\1 ", powers_written_out(text))
