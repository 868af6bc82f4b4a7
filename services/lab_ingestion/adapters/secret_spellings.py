"""The spellings of a person's data that redactors search for besides the data as written:
a birth date's common forms, a name's and a birth date's pieces run into ids, a street
line's own words (``scrub.Scrubber`` finds them)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Words that name no street in particular: searched for alone, they would wipe ordinary
# text (a "Street" in a note, "Hospital Road" hitting a sender's "HOSPITAL") and find no one.
_STREET_TYPES = frozenset({
    "street", "road", "avenue", "lane", "drive", "way", "place", "square", "court", "close",
    "boulevard", "str", "strasse", "straße", "gasse", "weg", "platz", "allee", "ring", "rue",
    "route", "chemin", "quai", "via", "viale", "piazza", "corso", "vicolo", "house", "flat",
    "apartment", "apt", "floor", "unit", "building", "box", "postfach", "case", "postale",
    "north", "south", "east", "west", "upper", "lower", "old", "new", "the", "and", "von",
    "van", "der", "den", "des", "del", "della", "les", "bei", "chez",
})  # fmt: skip
_WORD = re.compile(r"[^\W\d_]{3,}")  # three letters or more, no digit
# what ``date_spellings`` writes (and a YYYYMMDD birth date followed by its time; DDMMYY,
# YYMMDD and MMDDYY in six digits): searched
# for run into ids too. D.M.YYYY, DD.MM.YY and D.M.YY only where no digit runs on into
# them (``_date_bounded``): there they may be part of another date (14.2.1958 holds
# 4.2.1958); six digits likewise (``_runs_in``: 20261120140258 holds 140258).
_DATE_SPELLING = re.compile(
    r"\d{6}|\d{8}\d*|\d{4}[-/]\d\d[-/]\d\d|\d\d[./-]\d\d[./-]\d{4}"
    r"|\d\d?\.\d\d?\.\d\d(?:\d\d)?",
    re.ASCII,
)


def date_spellings(year: str, month: str, day: str) -> tuple[str, ...]:
    """The ways a date is commonly written, searched for by every redactor (digits, as
    given: ``"1958", "02", "14"``): YYYYMMDD, YYYY-MM-DD, YYYY/MM/DD, DD.MM.YYYY, D.M.YYYY
    (``14.2.1958``), DD.MM.YY (``14.02.58``), D.M.YY (``4.2.58``), DD/MM/YYYY, DD-MM-YYYY,
    MM/DD/YYYY, MM-DD-YYYY, and in digits only DDMMYYYY (``14021958``), MMDDYYYY
    (``02141958``), DDMMYY (``140258``), YYMMDD (``580214``) and MMDDYY (``021458``), as
    labs and forms run them into ids (``LIS14021958``). Each has two separators or six
    digits or more, so that none is a lab value; a six-digit one is found in an id only
    where no digit runs on (``Scrubber._found``): inside a longer number it is as likely
    another number (a time of day ``140258`` in a timestamp).
    With the day first and the month first both searched, a day up to 12 is found either
    way round (3 February 1958 as ``03021958`` and ``02031958``). (The Scrubber also finds
    the date with its month in words: ``word_dates``.)"""
    d, m, yy = day.lstrip("0") or "0", month.lstrip("0") or "0", year[-2:]
    return tuple(dict.fromkeys((
        f"{year}{month}{day}", f"{year}-{month}-{day}", f"{year}/{month}/{day}",
        f"{day}.{month}.{year}", f"{d}.{m}.{year}", f"{day}.{month}.{yy}",
        f"{d}.{m}.{yy}", f"{day}/{month}/{year}", f"{day}-{month}-{year}",
        f"{month}/{day}/{year}", f"{month}-{day}-{year}",
        f"{day}{month}{year}", f"{month}{day}{year}", f"{day}{month}{yy}", f"{yy}{month}{day}",
        f"{month}{day}{yy}",
    )))  # fmt: skip


def run_in_secrets(values: Iterable[str]) -> set[str]:
    """What of a person's names and birth date spellings is searched for run into an id
    (``Scrubber(run_in=True)``: ``ZWYSSIGMANN19510317``, ``X19510317``): each word of a
    name of three letters or more (``_WORD``: no digit, so no code or number is one), and
    each date spelling as it is (digits and separators). Searched for only in ids (MSH-10,
    order numbers, result ids), where a short word of a name is not cut out of text."""
    found: set[str] = set()
    for value in values:
        stripped = value.strip()
        if _DATE_SPELLING.fullmatch(stripped):
            found.add(stripped)
        else:
            found.update(word for word in _WORD.findall(value))
    return found


def street_words(line: str) -> list[str]:
    """The words of a street line (or its other designation) searched for on their own
    ("ZZSTREET" of "ZZSTREET 12"), as a name's parts are: letters only, three or more, never
    a word every address has (``_STREET_TYPES``). With no digit, no code (LOINC ``1988-5``),
    house number or value is one; found as whole words only, none cuts a unit (``umol/L``)."""
    return [word for word in _WORD.findall(line) if word.lower() not in _STREET_TYPES]
