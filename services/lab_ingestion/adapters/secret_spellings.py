"""The spellings of a person's data that redactors search for besides the data as written:
a birth date's common forms, a name's and a birth date's pieces run into ids, a street
line's own words (``scrub.Scrubber`` finds them)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

from services.lab_ingestion.domain.regions import names_region

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
MIN_STREET_WORD = 5  # a word of a street's name of several words searched for on its own
_PUNCTUATION = " ,;:./-"
_PLACE_PARTS = re.compile(r"[\s\-\u2010-\u2014]+")  # blanks, hyphens, dashes (U+2010-2014)
# a birth date written in digits only (YYYYMMDD) with a month and day that are one
_DATE_DIGITS = re.compile(r"(?:18|19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])", re.ASCII)
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
    """What of a street line (or its other designation) is searched for besides the line:
    its name without the house number when that is several words ("Bad Homburger Weg" of
    "Bad Homburger Weg 5"), and its own words (letters only, three or more, never a word
    every address has: ``_STREET_TYPES``): the one word a street's name is ("ZZSTREET" of
    "ZZSTREET 12", "Dorf"), of a name of several words only those of five letters or more
    ("Homburger", "Sonnenberg"; review 192: "Bad", "Alte", "Haus" are everyday words, and
    every "Bad" of a note was cut). With no digit, no code (LOINC ``1988-5``), house number
    or value is one; found as whole words only, none cuts a unit (``umol/L``). Never a
    region's name (``Valais`` of ``Gartenweg 3, 1950, Sion (Valais)``: ``names_region``;
    review 256), which names no one: a note's ``Kanton Valais`` stays."""
    named = [word for word in _WORD.findall(line) if word.lower() not in _STREET_TYPES]
    words = [word for word in named if not names_region(word)]
    # the words without a digit (a house number: 5, 12b, 12-14, 5/3), split, not searched
    # for (review 262: ``\S*\d\S*`` took a time the square of a long run without blanks)
    name = " ".join(t for t in line.split() if not any(c.isdigit() for c in t)).strip(_PUNCTUATION)
    # a street named after a region (``Rue du Jura``, ``Jura-Strasse``) by its whole name
    # still (review 262: it was dropped with the region's word)
    # never a region's name alone (``Jura 5``: review 265, a note's ``Kanton Jura`` stays)
    several = len(name.split()) > 1 or (len(words) < len(named) and not names_region(name))
    phrase = [name] if named and several else []
    if len(words) > 1:
        words = [word for word in words if len(word) >= MIN_STREET_WORD]
    return list(dict.fromkeys([*phrase, *words]))


def numbered(value: str) -> bool:
    """A value holding a digit and a letter: a street and its house number, a postcode."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def number_text(value: int | float | Decimal) -> str:
    """A number as text would write it: ``19510317`` (an integral float without ``.0``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def letters_only(value: str) -> bool:
    """A place's name: a letter, no digit (not a street and house number, a phone, a date)."""
    return any(c.isalpha() for c in value) and not any(c.isdigit() for c in value)


_UNMARKED = str.maketrans(
    {"\u0131": "i", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D"}
)


def plain_letters(text: str) -> str:
    """``text`` without diacritics: "İbrahim" -> "Ibrahim", "Müller" -> "Muller"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNMARKED))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def place_spellings(place: str) -> list[str]:
    """A place (a city, a county, a birth place) as written and, when it is several words,
    with them parted by a blank or a hyphen (``Bad-Homburg`` for ``Bad Homburg``,
    ``Saint Imier`` for ``Saint-Imier``): a place is searched for as its whole phrase, never
    as its single words (review 192: every "Bad", "Sent" or "bei" of a note was cut); the
    blank stands for any run of white space (``phrases``: two blanks, a tab, a line break)."""
    parts = [part for part in _PLACE_PARTS.split(place.strip()) if part]
    return list(dict.fromkeys([place.strip(), " ".join(parts), "-".join(parts)]))


# A date written otherwise than as HL7's DTM (``written_dates``): a time may follow.
_YEAR_FIRST = re.compile(r"(\d{4})([-/.])(\d\d)\2(\d\d)(?![0-9])", re.ASCII)
_DAY_FIRST = re.compile(r"(\d\d?)([./-])(\d\d?)\2(\d{4})(?![0-9])", re.ASCII)


def written_dates(value: str) -> list[tuple[str, str, str]]:
    """The date a date field holds as (year, month, day), two digits each but the year's
    four: as HL7 writes it (a DTM, ``YYYYMMDD`` and maybe a time, read as before, without a
    check), or as converters from FHIR and web forms do, a time maybe after it: year first
    with dashes, slashes or dots (``1958-02-14``, ``1958/02/14``), day first with dots,
    dashes or slashes (``14.02.1958``, ``14.2.1958``, ``14/02/1958``), month first with
    slashes or dashes (``02/14/1958``, ``02-14-1958``): an ambiguous one (``02/03/1958``,
    ``02-03-1958``) read both ways. Each read has a month of 1 to 12 and a day of 1 to 31;
    none for anything else (a year alone, ``195802``: too short a number to search for)."""
    text = value.strip()
    if len(text) >= 8 and text[:8].isascii() and text[:8].isdigit():  # YYYYMMDD[HHMM...]
        return [(text[:4], text[4:6], text[6:8])]
    found = []
    if year_first := _YEAR_FIRST.match(text):
        found.append(year_first.group(1, 3, 4))
    elif day_first := _DAY_FIRST.match(text):
        first, separator, second, year = day_first.groups()
        found.append((year, second, first))
        if separator in "/-":  # month first too, as US forms write it
            found.append((year, first, second))
    return [
        (year, month.zfill(2), day.zfill(2))
        for year, month, day in found
        if 1 <= int(month) <= 12 and 1 <= int(day) <= 31
    ]


def checked_dates(value: str) -> list[tuple[str, str, str]]:
    """``written_dates`` of a value that may be anything (a FHIR or JSON detail: a phone, a
    number): one written in digits first only when they are a date (``19510317``, not
    ``0311234567``), for the redactors of FHIR and JSON copies, which search each removed
    value that is a date in every spelling HL7's do (review 192: a JSON birth date written
    ``17.03.1951`` was searched only so, and a ``collected_at`` of that day kept)."""
    text = value.strip()
    if text[:8].isascii() and text[:8].isdigit() and not _DATE_DIGITS.match(text):
        return []
    return written_dates(text)
