"""A birth date written with its month in words, found in a kept copy's free text.

A note writes a date as a person reads it: ``14 Feb 1958``, ``14. Februar 1958``,
``February 14, 1958``, ``14 février 1958``, ``14 febbraio 1958``, ``14-FEB-58``,
``14FEB1958``, ``1958 Feb 14``. The trial's sites are Swiss, so month names are searched in
English, German, French and Italian, in full and in their usual abbreviations (a dot after
one is a separator), with or without accents (``fevrier``), the day maybe with its ordinal
(``1st``, ``1er``, ``1°``) and a leading zero, the year in four digits or two; two never
after a comma nor before a unit word (``CRP 14 Feb, 58 mg/L``, ``14 Feb 58 g/L``: values;
``14 Feb 58 u. wohnhaft``, ``14-FEB-58/ female``: birth dates). Only a
date that is one of the given dates is found: a collection date written so is kept.

``date_spans`` reads the text as ``scrub`` searches it (case folded, accents decomposed),
with one regular expression of fixed parts and bounded repeats: linear in the text, and run
only when the text holds one of the dates' years.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection, Iterator

Date = tuple[int, int, int]  # year, month, day

_MONTHS = (
    ("january", "jan", "januar", "jänner", "jaenner", "janner", "janvier", "janv", "gennaio",
     "genn", "gen"),
    ("february", "feb", "febr", "februar", "feber", "février", "fevrier", "févr", "fevr",
     "fév", "fev", "febbraio", "febb"),
    ("march", "mar", "märz", "maerz", "marz", "mär", "mars", "marzo"),
    ("april", "apr", "avril", "avr", "aprile"),
    ("may", "mai", "maggio", "mag"),
    ("june", "jun", "juni", "juin", "giugno", "giu"),
    ("july", "jul", "juli", "juillet", "juil", "luglio", "lug"),
    ("august", "aug", "août", "aout", "agosto", "ago"),
    ("september", "sep", "sept", "septembre", "settembre", "sett", "set"),
    ("october", "oct", "oktober", "okt", "octobre", "ottobre", "ott"),
    ("november", "nov", "novembre"),
    ("december", "dec", "dezember", "dez", "décembre", "decembre", "déc", "dicembre", "dic"),
)  # fmt: skip


def _folded(word: str) -> str:
    """As ``scrub`` folds text: case folded and decomposed (``é`` as ``e`` and U+0301)."""
    return unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", word).casefold())


MONTH_OF = {_folded(name): number for number, names in enumerate(_MONTHS, 1) for name in names}
_MONTH = "|".join(re.escape(name) for name in sorted(MONTH_OF, key=len, reverse=True))
# the day, maybe with a leading zero and its ordinal (1st, 2nd, 3rd, 14th, 1er, 1°, 1º
# folded as 1o); never run on into another digit
_DAY = r"0?[1-9]|[12][0-9]|3[01]"
_ORDINAL = r"(?:st|nd|rd|th|er|°|o)?"
_SEPARATOR = r"[ \t.,/-]"
_SHORT_SEPARATOR = r"[ \t./-]"  # before a two-digit year: never a comma (review 118)
# a unit after a number: a two-digit "year" followed by one is a value ("14 Feb 58 mg/L").
# Only a unit word counts: a quotient (mg/L, g/dL, U/L, ukat/L, mL/min, mm/h, /uL), an amount
# alone (mmol, mg, ug, units, mmHg), a percent or a power of ten;
# never one letter ("58 u. wohnhaft", "58 s. Vorbefund", "58 h. Meier", "58 l. Arm") nor a
# bare slash ("14-FEB-58/ female"): those are a birth date's words (review 120)
_UNIT_WORD = (
    r"(?:[mμunpkf]?mol|[mμunpkf]g|[mk]?iu|[mk]?ui|mu|[mμun]?kat|[mμufdn]l|units?|unites?"
    r"|mmhg|mm|cm|kg|sec|min)"
)
# alone (no slash), only a word no one's initials are: `MM`, `CM`, `ML`, `DL`, `UI`, `KG` after
# a two-digit year are a name's initials as often as units (review 122: the text is folded, so
# case cannot tell them)
_BARE_UNIT_WORD = r"(?:[mμunp]?mol|[mμunp]g|units?|unites?|mmhg)"
_DENOMINATOR = r"(?:[mμufdn]?l|[mμ]?mol|min|kg|g|d|h|24 ?h|mm3|hpf)\b"
_UNIT = (
    rf"[ \t]*(?:(?:{_UNIT_WORD}|giga|g|u|l)[ \t]*/[ \t]*{_DENOMINATOR}"  # mg/L, U/L, G/L
    rf"|{_BARE_UNIT_WORD}\b|/(?:[mμufdn]?l|mm3|hpf)\b|%|[x\u00d7][ \t]*10|10[ \t]*[*^])"
)


def _year(n: int, at_least: int) -> str:
    """The year of form ``n`` after ``at_least`` separators: four digits, or two after no
    comma and before no unit. ``CRP 14 Feb, 58 mg/L`` and ``since Feb 14, 58 units`` are
    values: with a birth date of 14 Feb 1958, both were kept as the birth date (review 118)."""
    return (
        rf"(?:{_SEPARATOR}{{{at_least},3}}(?P<y{n}>[0-9]{{4}})"
        rf"|{_SHORT_SEPARATOR}{{{at_least},3}}(?P<s{n}>[0-9]{{2}})(?![0-9]|{_UNIT}))(?![0-9])"
    )


_PATTERN = re.compile(
    # 14 Feb 1958, 14. Februar 1958, 14-FEB-58, 14FEB1958
    rf"(?<![0-9])(?P<d1>{_DAY}){_ORDINAL}{_SEPARATOR}{{0,3}}(?P<m1>{_MONTH}){_year(1, 0)}"
    # February 14, 1958; Feb. 14th 1958 (a day and year never run together: "Feb 1958")
    rf"|(?P<m2>{_MONTH}){_SEPARATOR}{{0,3}}(?P<d2>{_DAY}){_ORDINAL}{_year(2, 1)}"
    # 1958 Feb 14, 1958-FEB-14
    rf"|(?<![0-9])(?P<y3>[0-9]{{4}}){_SEPARATOR}{{0,3}}(?P<m3>{_MONTH})"
    rf"{_SEPARATOR}{{0,3}}(?P<d3>{_DAY})(?![0-9]){_ORDINAL}"
)

_PARTS = (("y1", "s1", "y2", "s2", "y3"), ("m1", "m2", "m3"), ("d1", "d2", "d3"))


def date_spans(folded: str, dates: Collection[Date]) -> Iterator[tuple[int, int, Date]]:
    """Where in ``folded`` (text folded as ``scrub`` folds it) one of ``dates`` is written
    with its month in words (a year of two digits read as any century), as (start, end,
    the date);
    not checked for word boundaries (the caller knows whether a copy may run into an id)."""
    if not dates or not any(f"{year % 100:02d}" in folded for year, _, _ in dates):
        return
    wanted = _wanted(frozenset(dates))
    found = _PATTERN.search(folded)
    while found is not None:
        year, month, day = (
            next(g for g in found.group(*names) if g is not None) for names in _PARTS
        )
        key = (year if len(year) == 4 else f"*{year}", MONTH_OF[month], int(day))
        date = wanted.get(key)
        if date is not None:
            yield found.start(), found.end(), date
        # another date may begin inside one that is not wanted ("3 Feb 14, 1958"): a match
        # is a few dozen characters at most, so searching on from its next one stays linear
        found = _PATTERN.search(folded, found.start() + 1 if date is None else found.end())


@functools.lru_cache(maxsize=64)
def _wanted(dates: frozenset[Date]) -> dict[tuple[str, int, int], Date]:
    """Each date by how it is read: with its four-digit year, and with ``*`` and its last
    two."""
    return {
        key: (year, month, day)
        for year, month, day in sorted(dates)
        for key in ((f"{year:04d}", month, day), (f"*{year % 100:02d}", month, day))
    }
