"""The words a unit is written in, in the trial's languages: English, and the German, French
and Italian of its Swiss sites. Pure: no I/O.

A laboratory writes a unit out as ``milligrams per decilitre``, ``Milligramm pro Deziliter``
(or ``je``), ``milligrammes par décilitre``, ``milligrammi per decilitro`` (or ``al``): read
in English only, the others were passed over as descriptions, and the coded unit was used
alone where they named another (review 155: ``mg/L^Milligramm pro Deziliter`` stored 1.2
mg/L, 12 mg/L measured). So each word is read whatever its language, case, accents
(``décilitre``, ``unità``, ``Äquivalent``) or number (``Liter``, ``litres``, ``litri``):

- a metric prefix (kilo/chilo, hecto/hekto/etto, deci/dezi, centi/zenti, milli,
  micro/mikro, nano, pico/piko, femto) before gram (Gramm, gramme, grammo), mole (Mol, moli),
  katal, litre (Liter, litro), unit (Einheit, unité, unità) or equivalent (Äquivalent,
  équivalent, equivalente); a prefixed metre (Meter, mètre, metro) cubed, ``cubic`` or
  ``Kubik-`` before it, ``cube`` or ``cubo`` after it;
- ``per`` and the words for it: pro, je, par, pour, al (``/`` too);
- percent: Prozent, pourcent, percento, pct; percentage, Prozentsatz, pourcentage,
  percentuale; ``per``, ``pour`` before cent, cento;
- a count's multiplier: thousand (Tausend, mille, millier, mila, Tsd), million (Millionen,
  milione, Mio), billion (10^9: Milliarde, milliard, miliardo, Mrd, giga); cells (Zellen,
  cellules, cellule) before what is counted; international (internationale, internazionale)
  before or after a unit.
"""

from __future__ import annotations

import unicodedata
from typing import Final

Token = tuple[str, str | int]  # (kind, a unit's symbol or a power of ten)

PREFIX_WORDS: Final = {
    "": "", "kilo": "k", "chilo": "k", "hecto": "h", "hekto": "h", "etto": "h", "deci": "d",
    "dezi": "d", "centi": "c", "zenti": "c", "milli": "m", "micro": "u", "mikro": "u",
    "nano": "n", "pico": "p", "piko": "p", "femto": "f",
}  # fmt: skip
BASE_WORDS: Final = {
    "gram": "g", "gramme": "g", "gramm": "g", "grammo": "g", "grammi": "g",
    "mole": "mol", "mol": "mol", "moli": "mol", "katal": "kat",
    "litre": "L", "liter": "L", "litro": "L", "litri": "L",
    "unit": "U", "einheit": "U", "einheiten": "U", "unite": "U", "unita": "U",
    "equivalent": "eq", "aquivalent": "eq", "aquivalente": "eq", "equivalente": "eq",
    "equivalenti": "eq",
}  # fmt: skip
LENGTH_WORDS: Final = {"metre": "m", "meter": "m", "metro": "m", "metri": "m"}
# a count's multiplier as a word: its power of ten (a billion is 10^9, as laboratories and
# UCUM's print names write it; German and French write it Milliarde, milliard)
COUNT_WORDS: Final = {
    "thousand": 3, "tausend": 3, "mille": 3, "millier": 3, "mila": 3, "tsd": 3,
    "million": 6, "millionen": 6, "milione": 6, "milioni": 6, "mio": 6,
    "billion": 9, "giga": 9, "milliard": 9, "milliarde": 9, "milliarden": 9,
    "miliardo": 9, "miliardi": 9, "mrd": 9,
}  # fmt: skip
# ``per`` in the trial's languages; ``per`` itself is also Italian's
PER_WORDS: Final = frozenset({"per", "pro", "je", "par", "pour", "al"})
# percent, and its nouns (``percentage``, ``Prozentsatz``, ``pourcentage``, ``percentuale``)
# and abbreviation (``pct``; never ``PCT``, procalcitonin's: ``word_token``): task 280,
# ``10*9/L^Prozentsatz`` published a neutrophil percentage as a count
_PERCENT: Final = frozenset({
    "percent", "prozent", "pourcent", "percento", "percentage", "percentages",
    "prozentsatz", "prozentsatze", "pourcentage", "pourcentages", "percentuale",
    "percentuali", "pct",
})  # fmt: skip
_CAPITALS_ANOTHER: Final = frozenset({"pct"})  # PCT: procalcitonin, no percent
_CENT: Final = frozenset({"cent", "cento"})
_CUBIC: Final = frozenset({"cubic", "kubik"})  # before a length
_CUBE: Final = frozenset({"cube", "cubo", "cubi"})  # after a length
_CELLS: Final = frozenset({"cell", "zelle", "zellen", "cellule", "cellula"})
_INTERNATIONAL: Final = frozenset({
    "international", "internationale", "internazionale", "internazionali", "enzyme",
})  # fmt: skip
# words read as written, and words read in either number (``cubes``, ``internationales``)
_JOINING: Final = ((PER_WORDS, "per"), (_PERCENT, "percent"), (_CENT, "cent"), ({"x"}, "x"))
_WORDS: Final = ((_CUBIC, "cubic"), (_CUBE, "cube"), (_INTERNATIONAL, "international"))


def folded(word: str) -> str:
    """``word`` compared: in any case, without its accents (``Décilitre`` is ``decilitre``,
    ``unità`` ``unita``, ``Äquivalent`` ``aquivalent``)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def word_token(word: str) -> Token | None:
    """A unit's word (``_tokens`` in ``unit_words``) as a token, or None: (``per``, the
    word), (``percent``, ...), (``cent``, ...), (``cubic``, ...), (``cube``, ...),
    (``cells``, ""), (``international``, ...), (``x``, "x"), (``count``, a power of ten),
    (``term``, a unit's symbol: ``mg``, ``mm3``) or (``length``, a metre's: ``mm``)."""
    plain = folded(word)
    if plain in _CAPITALS_ANOTHER and word.isupper():
        return None
    for words, kind in _JOINING:  # as written: ``als`` is no ``al``
        if plain in words:
            return (kind, plain)
    for singular in (plain, plain[:-1] if plain.endswith("s") else None):
        if singular is None:
            continue
        token = _singular_token(singular)
        if token is not None:
            return token
    return None


def volume_symbol(word: str) -> str | None:
    """The volume a word names (``Deziliter``: dL, ``microlitres``: uL, ``Kubikmillimeter``:
    mm3), or None."""
    token = word_token(word)
    if token is None or token[0] != "term" or not str(token[1]).endswith(("L", "m3")):
        return None
    return str(token[1])


def _singular_token(word: str) -> Token | None:
    for words, kind in _WORDS:
        if word in words:
            return (kind, word)
    if word in _CELLS:
        return ("cells", "")
    if word in COUNT_WORDS:
        return ("count", COUNT_WORDS[word])
    return _measure(word)


def _measure(word: str) -> Token | None:
    """A prefixed unit's word (``Milligramm``: mg), or a metre's (``millimetre``: mm), or
    a cubic one's (``Kubikmillimeter``: mm3, a microlitre)."""
    if word.startswith("kubik") and (length := _prefixed(word[5:], LENGTH_WORDS)):
        return ("term", f"{length}3")
    if term := _prefixed(word, BASE_WORDS):
        return ("term", term)
    if length := _prefixed(word, LENGTH_WORDS):
        return ("length", length)
    return None


def _prefixed(word: str, bases: dict[str, str]) -> str | None:
    """``word`` as a metric prefix and one of ``bases`` (``millimol``: mmol), or None."""
    for name, prefix in PREFIX_WORDS.items():
        if word.startswith(name) and (base := bases.get(word[len(name) :])) is not None:
            return prefix + base
    return None
