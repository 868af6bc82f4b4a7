"""An address written on one line (``Gartenweg 3, 3600 Thun``: a JSON ``address``, an HL7
PID-11.1 holding the whole address), taken apart into what kept copies scrub.

Review 213: such a line was searched for as written, and of its words only those of five
letters or more, so a note's ``wohnt in Thun, Gartenweg 3`` kept ``Thun`` and the house
number. The rule, by what a line's parts are:

- the line is parted at commas, semicolons and line breaks;
- a part holding a digit and a letter (a street and its house number ``Gartenweg 3``, a
  postal code and its city ``3600 Thun``, ``CH-3600 Thun``) is searched for everywhere, as
  a street line with its house number is;
- in a part, the words (no digit) after a token holding a digit are the city after its
  postal code (``Thun`` of ``3600 Thun``, ``Bad Homburg`` of ``D-61348 Bad Homburg``) or a
  street after its number (``rue de la Paix`` of ``12 rue de la Paix``): a place, searched
  for as its whole phrase, as PID-11's city is; after a postal code, a trailing code of two
  or three capitals after a name in mixed case (a canton or state: ``Thun BE``) is searched
  for without it too;
- the words before a token holding a digit are a street's name (``Gartenweg`` of
  ``Gartenweg 3``): its words as a street's are (``street_words``: five letters or more of
  a name of several words, never ``Weg`` or ``Street``), unless they are a label
  (``PLZ 3600 Thun``, ``Postfach 12``); each name with the token after it, and each token
  before a city with the city (``Gartenweg 3`` and ``3600 Thun`` of ``Gartenweg 3 3600
  Thun`` written without a comma), is searched for everywhere too;
- a part of letters alone is a place (``Thun`` of ``Gartenweg 3, Thun``), but after a part
  naming a city after its postal code, where it is a country or state (``Schweiz`` of
  ``..., 3600 Thun, Schweiz``), which is not searched for, as PID-11's country is not.

A short everyday word is never searched for alone: a place is its whole phrase, and a
street's single words follow ``street_words``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.lab_ingestion.adapters.secret_spellings import place_spellings, street_words

_PARTS = re.compile(r"[,;\r\n]+")
_EDGES = " \t.,;:/-()"  # punctuation around a part or a run of words
_REGION_CODE = re.compile(r"[A-Z]{2,3}")
_STREET_ENDS = frozenset({"st", "rd", "way", "ave", "ln", "dr", "ct", "pl", "sq", "blvd"})
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


def address_line(line: str) -> AddressLine:
    """An address line taken apart (the module's rule)."""
    found = AddressLine()
    city_named = False  # a part named a city after its postal code: what follows is a country
    for part in (p.strip(_EDGES) for p in _PARTS.split(line)):
        tokens = part.split()
        if not tokens:
            continue
        numbers = [any(c.isdigit() for c in token) for token in tokens]
        if not any(numbers):
            if not city_named:
                found.places.append(" ".join(tokens))
            continue
        if any(c.isalpha() for c in part):
            found.numbered.append(part)
        for start, end in _word_runs(numbers):
            words = " ".join(tokens[start:end]).strip(_EDGES)
            if not any(c.isalpha() for c in words):
                continue
            if start > 0:  # after a postal code (or a house number written first)
                found.places += _place_forms(words, after=tokens[start - 1])
                found.numbered.append(f"{tokens[start - 1]} {words}")
                city_named = True
            elif words.lower() not in _LABELS:  # before a house number: a street's name
                found.streets.append(words)
            if end < len(tokens):
                found.numbered.append(f"{words} {tokens[end]}")
    found.numbered = list(dict.fromkeys(found.numbered))
    return found


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
    *name, last = words.split()
    postal = sum(c.isdigit() for c in after) >= 4
    mixed = any(c.islower() for word in name for c in word)
    if postal and mixed and _REGION_CODE.fullmatch(last) and last.lower() not in _STREET_ENDS:
        return [words, " ".join(name)]
    return [words]


def line_places(line: AddressLine) -> list[str]:
    """What of a line is searched for as a place: each place as its whole phrase (and
    parted by a hyphen: ``place_spellings``), each street name's words (``street_words``)."""
    found = [spelling for place in line.places for spelling in place_spellings(place)]
    found += [word for street in line.streets for word in street_words(street)]
    return list(dict.fromkeys(found))
