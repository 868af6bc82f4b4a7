"""An address written on one line (``Gartenweg 3, 3600 Thun``: a JSON ``address``, an HL7
PID-11.1 holding the whole address), taken apart into what kept copies scrub.

Review 213: such a line was searched for as written, and of its words only those of five
letters or more, so a note's ``wohnt in Thun, Gartenweg 3`` kept ``Thun`` and the house
number. The rule, by what a line's parts are:

- the line is parted at commas, semicolons and line breaks;
- a token of four digits or more is a postal code (``3600``, ``CH-3600``, ``D-61348``: one
  with a country's letters anywhere), but first on the line, where it is a house number
  written first (``1234 Main St``), as a shorter number always is; but on a line that is
  only such a number and words naming no street (``3600 Thun``), or in PID-11's city or
  postal code component (``postal_first``), where it is the postal code (review 227);
- a postcode of letters and digits (``SW1A 2AA``, ``K1A 0B1``, ``1012 AB`` after a postal
  code's four digits) is searched for on its own, everywhere (review 227: only ``London SW1A
  2AA`` was, and a note's ``SW1A 2AA`` kept), also written in lower case or without its
  space (``sw1a 2aa``, ``SW1A2AA``: review 232, a FHIR ``postalCode`` or JSON ``zip`` so
  written was searched for whole, and is taken apart as HL7's now is);
- a street with its house number (``Gartenweg 3``, ``12 rue de la Paix``, a part holding
  a digit and a letter that does not start with a postal code) is searched for everywhere,
  the sender's name included, as a street line with its house number is;
- a postal code with its city (``3600 Thun``, ``PLZ 3600 Thun``, ``CH-3600 Thun``) is a
  place: scrubbed everywhere but where a copy is read back (MSH above all: a laboratory
  may be named after its postcode and city, review 224);
- the words after a postal code are its city (``Thun``, ``Bad Homburg``), a place; after a
  postal code of four digits or more, a trailing code of two or three capitals after a
  name in mixed case (a canton or state: ``Thun BE``) is searched for without it too, as
  a region's code in capitals is after a part's name without a postal code (``Thun BE`` of
  ``Gartenweg 3, 3600, Thun BE``: ``regions``; review 256);
- a name before a bracket or slash (``Zug (ZG)``, ``Thun/BE``) is searched for alone only
  when a region follows it (``regions.names_region``: ``zg``, ``Kt. BE``, ``Valais``), never
  before a floor or unit (``App. (OG)``, ``Whg/OG``: review 256), or after a postal code;
- the words after a house number written first are a street (``rue de la Paix``), a place,
  never a city, searched for with its house number up to an apartment or unit word too
  (``1234 Main St`` of ``1234 Main St Apt 5B``; review 227: only ``1234 Main St Apt`` was);
  those after a house number written after its street (``B`` of ``Haus 12
  B``, ``Thun`` of ``Gartenweg 3 Thun``) a place, unless a unit;
- the words before a token holding a digit are a street's name (``Gartenweg`` of
  ``Gartenweg 3``): its words as a street's are (``street_words``: five letters or more of
  a name of several words, never ``Weg`` or ``Street``), unless they are a label
  (``PLZ 3600 Thun``, ``Postfach 12``); the name with its house number is searched for
  everywhere (``Gartenweg 3`` of ``Gartenweg 3 3600 Thun`` written without a comma);
- a part of letters alone is a place (``Thun`` of ``Gartenweg 3, Thun``, ``Metz`` of ``12
  rue de la Paix, Metz``; a word of letters may join runs of letters by hyphens: ``Saas-Fee``
  of ``Dorfstrasse 5, Saas-Fee``, ``Chuo-ku`` of ``1-2-3 Ginza, Chuo-ku, Tokyo``, a place as
  written and parted by a blank, review 248), but after a part naming a city after its
  postal code, where it is a country or state (``Schweiz`` of ``..., 3600 Thun, Schweiz``),
  which is not searched for, as PID-11's country is not (review 224: a house number written
  first was taken for a postal code, and ``Metz`` kept as a country).

No piece is searched for that is shorter than ``MIN_PIECE`` characters or holds no word of
three letters or more other than a unit (review 224: ``12 B`` of ``Haus 12 B``, ``3 L``, ``12
mg`` were secrets, and an order number ``12 B``, a range ``3 L``, a note's ``12 mg/L`` cut,
so that the copy did not replay); a short everyday word is never searched for alone: a place
is its whole phrase, and a street's single words follow ``street_words``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.lab_ingestion.adapters.address_words import (
    _EDGES,
    _UNITS,
    _letters,
    _named,
    _segments,
)
from services.lab_ingestion.adapters.secret_spellings import (
    place_spellings,
    street_words,
)

_PARTS = re.compile(r"[,;\r\n]+")
_PREFIXED_CODE = re.compile(r"[A-Za-z]{1,3}-\d{4,}")  # CH-3600, D-61348
_STREET_ENDS = frozenset({"st", "rd", "way", "ave", "ln", "dr", "ct", "pl", "sq", "blvd"})
# a street's type: a number first before one is a house number, never a postal code
_STREET_WORDS = _STREET_ENDS | frozenset({
    "street", "road", "avenue", "lane", "drive", "place", "square", "court", "close",
    "boulevard", "rue", "via", "route", "chemin", "quai", "strasse", "straße",
})  # fmt: skip
# an apartment or unit after a street (``1234 Main St Apt 5B``): the street ends before it
_APARTMENT = frozenset({
    "apt", "apartment", "appt", "app", "appartement", "unit", "suite", "ste", "#", "no",
    "wohnung", "whg", "etage", "étage", "stock", "og", "flat", "floor", "fl", "room", "rm",
    "bldg", "building", "piano", "int",
})  # fmt: skip
# a postcode of letters and digits: British (``SW1A 2AA``), Canadian (``K1A 0B1``), Dutch
# (``1012 AB``): searched for on its own, everywhere, as PID-11.5 holding one is
_ALNUM_POSTCODES = (
    (re.compile(r"[A-Z]{1,2}\d[A-Z\d]?", re.I), re.compile(r"\d[A-Z]{2}", re.I)),
    (re.compile(r"[A-Z]\d[A-Z]", re.I), re.compile(r"\d[A-Z]\d", re.I)),
)
# the same written without its space (``SW1A2AA``, ``k1a0b1``): a token of its own
_JOINED_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}|[A-Z]\d[A-Z]\d[A-Z]\d", re.I)
_DUTCH_LETTERS = re.compile(r"[A-Z]{2}")
# after a postal code, a city's trailing code of capitals (``3600 Thun BE``): searched without it
_TRAILING_CODE = re.compile(r"[A-Z]{2,3}")
# what is written before a postal code or number and names no street
_LABELS = frozenset({"plz", "npa", "cap", "cp", "zip", "postcode", "postleitzahl", "code",
                     "bp", "cedex", "nr", "no", "tel", "postfach", "box", "po box"})  # fmt: skip


@dataclass
class AddressLine:
    """What of an address line is searched for: ``numbered`` parts everywhere, ``places``
    as whole phrases, ``streets`` (names before a house number) by their words."""

    numbered: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    streets: list[str] = field(default_factory=list)


def address_line(line: str, *, postal_first: bool = False) -> AddressLine:
    """An address line taken apart (the module's rule); ``postal_first``: a number first on
    the line is a postal code (PID-11's city or postal code component: ``3600 Thun``)."""
    found = AddressLine()
    city_named = False  # a postal code named a city: a part of letters after is a country
    parts = [p.split() for p in (p.strip(_EDGES) for p in _PARTS.split(line)) if p.split()]
    first_part = not (postal_first or _postcode_and_city(parts))
    for tokens in parts:
        part = " ".join(tokens)
        if any(c.isdigit() for c in part):
            city_named |= _numbered_part(found, tokens, first_part=first_part)
        elif not city_named:
            found.places.append(" ".join(tokens))
        first_part = False
    found.numbered = list(dict.fromkeys(found.numbered))
    places = (form for place in found.places for form in _segments(place, city=False))
    found.places = [p for p in dict.fromkeys(places) if _named(p, min_length=3)]
    return found


def _numbered_part(found: AddressLine, tokens: list[str], *, first_part: bool) -> bool:
    """A part holding a digit taken apart into ``found``; whether a postal code named a city."""
    numbers = [any(c.isdigit() for c in token) for token in tokens]
    postal = [_postal_code(tokens, i, first_part=first_part) for i in range(len(tokens))]
    codes = _alnum_postcodes(tokens, postal)
    first = numbers.index(True)
    part = " ".join(tokens)
    if postal[first] and all(t.lower() in _LABELS for t in tokens[:first]):
        _add_postal(found, part)  # ``3600 Thun``, ``PLZ 3600 Thun``: a place
    else:
        _add_numbered(found, part)  # a street with its house number
    found.numbered += [f"{tokens[i]} {tokens[i + 1]}".strip(_EDGES) for i in codes]
    found.numbered += [
        t for t in (t.strip(_EDGES) for t in tokens) if _JOINED_POSTCODE.fullmatch(t)
    ]
    city_named = bool(codes) and codes[-1] == len(tokens) - 2  # ``London SW1A 2AA``
    for start, end in _word_runs(numbers):
        words = " ".join(tokens[start:end]).strip(_EDGES)
        if not any(c.isalpha() for c in words):
            continue
        if start > 0 and postal[start - 1]:  # the city after its postal code
            _add_city(found, tokens[start - 1], words)
            city_named = True
        elif start == 1:  # a street after its house number written first
            street = _before_apartment(tokens[start:end])  # ``Main St`` of ``Main St Apt``
            for name in dict.fromkeys([words, street]):
                found.places.append(name)
                _add_numbered(found, f"{tokens[0]} {name}")
        elif start > 0:  # after a house number: its letter, or a city without code
            if words.lower() not in _UNITS:
                found.places.append(words)
        elif words.lower() not in _LABELS:  # before a house number: a street's name
            found.streets.append(words)
            if not postal[end] and end not in codes:  # never ``London SW1A``
                _add_numbered(found, f"{words} {tokens[end]}")
    return city_named


def _add_city(found: AddressLine, code: str, words: str) -> None:
    """A city after its postal code: a place, and with its code (as written and as digits:
    ``CH-3600 Thun``, ``3600 Thun``) a place too."""
    for city in _place_forms(words, after=code):
        found.places.append(city)
        for written in dict.fromkeys([code, code.rsplit("-", maxsplit=1)[-1]]):
            _add_postal(found, f"{written} {city}")


def _postal_code(tokens: list[str], index: int, *, first_part: bool) -> bool:
    """Whether a token is a postal code, which names the city after it: one with a country's
    letters (``CH-3600``, ``D-61348``), or four digits or more anywhere but first on the
    line (``3600`` of ``Gartenweg 3, 3600 Thun``, ``PLZ 3600``), where a number is a house
    number written first (``1234 Main St``), whose words after it are a street, no city."""
    token = tokens[index].strip(_EDGES)
    if _PREFIXED_CODE.fullmatch(token):
        return True
    if not (token.isdigit() and len(token) >= 4):
        return False
    return index > 0 or not first_part


def _postcode_and_city(parts: list[list[str]]) -> bool:
    """Whether a line is a postal code with its city alone (``3600 Thun``): one part, four
    digits or more first, then words naming no street (``1234 Main St``: a house number)."""
    if len(parts) != 1 or len(parts[0]) < 2:
        return False
    first, *words = (token.strip(_EDGES) for token in parts[0])
    return (
        first.isdigit()
        and len(first) >= 4
        and all(_letters(w) and w.lower() not in _STREET_WORDS for w in words)
    )


def _alnum_postcodes(tokens: list[str], postal: list[bool]) -> list[int]:
    """The indexes of the tokens a postcode of letters and digits starts at (``SW1A 2AA``,
    ``K1A 0B1``, a postal code then two capitals: ``1012 AB``)."""
    found = []
    for i in range(len(tokens) - 1):
        head, tail = tokens[i].strip(_EDGES), tokens[i + 1].strip(_EDGES)
        paired = any(h.fullmatch(head) and t.fullmatch(tail) for h, t in _ALNUM_POSTCODES)
        dutch = postal[i] and head.isdigit() and len(head) == 4
        if paired or (dutch and _DUTCH_LETTERS.fullmatch(tail)):
            found.append(i)
    return found


def _before_apartment(words: list[str]) -> str:
    """A street's words up to an apartment or unit word (``Main St`` of ``Main St Apt``)."""
    for index, word in enumerate(words):
        if index and word.strip(_EDGES).lower() in _APARTMENT:
            return " ".join(words[:index]).strip(_EDGES)
    return " ".join(words).strip(_EDGES)


def _add_numbered(found: AddressLine, piece: str) -> None:
    """A street with its house number: searched for everywhere (a sender's name too)."""
    if _named(piece):
        found.numbered.append(piece)


def _add_postal(found: AddressLine, piece: str) -> None:
    """A postal code with its city: a place (kept where a replay reads it, MSH above all)."""
    if _named(piece):
        found.places.append(piece)


def _word_runs(numbers: list[bool]) -> list[tuple[int, int]]:
    """The runs of tokens without a digit: (start, end) indexes."""
    runs, start = [], None
    for index, number in enumerate([*numbers, True]):
        if not number and start is None:
            start = index
        elif number and start is not None:
            runs.append((start, index))
            start = None
    return runs


def _place_forms(words: str, *, after: str) -> list[str]:
    """A city as written and, after a postal code of four digits or more, without a trailing
    canton or state code in capitals after a name in mixed case (``3600 Thun BE``; never
    ``5 INSURED WAY``, ``1234 Main ST``... where the last word is the street's)."""
    segments = _segments(words)
    if len(segments) > 1:  # ``Thun (BE)``: as written, and the city before its canton
        return segments
    *name, last = words.split()
    postal = sum(c.isdigit() for c in after) >= 4
    mixed = any(c.islower() for word in name for c in word)
    if postal and mixed and _TRAILING_CODE.fullmatch(last) and last.lower() not in _STREET_ENDS:
        return [words, " ".join(name)]
    return [words]


def line_places(line: AddressLine) -> list[str]:
    """What of a line is searched for as a place: each place as its whole phrase (and
    parted by a hyphen: ``place_spellings``), each street name's words (``street_words``)."""
    found = [spelling for place in line.places for spelling in place_spellings(place)]
    found += [word for street in line.streets for word in street_words(street)]
    return list(dict.fromkeys(found))
