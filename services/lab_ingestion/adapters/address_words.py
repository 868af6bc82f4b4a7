"""The words of an address line (``address_lines``): which of them are letters, units or a
place's name, and the forms a place written with a canton or region after it is searched for
in (review 251)."""

from __future__ import annotations

import re

from services.lab_ingestion.adapters.secret_spellings import place_spellings
from services.lab_ingestion.domain.regions import names_region, region_after_a_blank

_EDGES = " \t.,;:/-()"  # punctuation around a part or a run of words
# what joins runs of letters into one word of a name: a hyphen, written as ASCII's or as a
# dash (U+2010 to U+2014: an en dash, a non-breaking hyphen), or an apostrophe (' or U+2019)
_JOINERS = re.compile(r"[-'\u2019\u2010-\u2014]")
# what parts a place's words besides blanks: a canton or a region in parentheses, square
# brackets or after a slash (``Thun (BE)``, ``Zug [ZG]``, ``Saas-Fee/VS``)
_PLACE_SIGNS = re.compile(r"[()\[\]/]")
_SIGN_EDGES = _EDGES + "[]"
_PLACE_WORDS = re.compile(r"[\s()\[\]/]+")
MIN_PIECE = 5  # the shortest piece of a line searched for everywhere (``Weg 3``)
# units a house number may read as (``Gartenweg 12 mg``): no piece's word, no place
_UNITS = frozenset({"mg", "g", "kg", "ug", "mcg", "ng", "pg", "l", "dl", "ml", "ul", "nl", "fl",
                    "mol", "mmol", "umol", "µmol", "nmol", "pmol", "iu", "miu", "kiu", "u",
                    "mu", "ku", "meq", "mval", "m", "mm", "cm", "sec", "min", "mosm", "gpt", "tpt",
                    "pct", "percent"})  # fmt: skip


def _named(text: str, *, min_length: int = MIN_PIECE) -> bool:
    """A piece worth searching for: ``min_length`` characters or more holding a word of
    three letters or more that is no unit (never ``12 B``, ``3 L``, ``12 mg``: a number
    with a letter or a unit alone is in any note, range or order number); a word written
    as a name (``Mol``, a Belgian town; ``Percent``) is a name, never read as a unit."""
    words = [token.strip(_EDGES) for token in _PLACE_WORDS.split(text)]
    named = any(
        _letters(w) and sum(c.isalpha() for c in w) >= 3 and not _unit_word(w) for w in words
    )
    return named and len(text.strip()) >= min_length


def _letters(word: str) -> bool:
    """A word of letters: letters alone, or runs of letters joined by hyphens, letters on
    both sides of each (``Saas-Fee``, ``Chuo-ku``; review 248: such a city was no word of
    letters, named no place, and a note repeating it was kept), a hyphen written as a dash
    too (``Saas`` and ``Fee`` joined by an en dash), or by apostrophes (``Cap-d'Ail``,
    ``L'Aquila``, ``'`` written as U+2019 too; review 251: such a city named no place); a
    run abbreviated with a dot before its hyphen too (``St.-Gallen``)."""
    *runs, last = _JOINERS.split(word)
    return last.isalpha() and all(run.removesuffix(".").isalpha() for run in runs)


def _unit_word(word: str) -> bool:
    """A unit as units are written (``mg``, ``MMOL``), never a capitalised name (``Mol``);
    a hyphenated word only when each of its parts is one."""
    if "-" in word:
        return all(_unit_word(part) for part in word.split("-") if part)
    return word.lower() in _UNITS and not (word[0].isupper() and word[1:].islower())


def _segments(place: str, *, city: bool = True) -> list[str]:
    """A place as written and, where parentheses, square brackets or a slash part it
    (``Thun (BE)``, ``Zug [ZG]``, ``Saas-Fee/VS``, ``Biel/Bienne``; review 251: only the
    whole was searched for, so a note naming the city alone kept it), the name before them
    and each other name after them of ``MIN_PIECE`` letters or more (``Bienne``), never a
    region (``BE``, ``Kt. BE``, ``Valais``: ``names_region``) nor a short word (``Oder`` of
    ``Frankfurt (Oder)``: the word ``oder`` of a German note); without signs, the name before
    a region's code written after a blank (``Thun`` of ``Thun BE``: ``_before_a_region``).
    ``city``: the place is a city (after its postal code), whose name before the signs is
    searched however short (``Thun``); else that name only of ``MIN_PIECE`` letters or more,
    or when a region follows it (``Zug (ZG)``, ``zug (zg)``, ``Thun (Kt. BE)``, ``Sion
    (Valais)``, ``Zug (CH)``: a city, its postal code in a part of its own or none; reviews
    254, 256), never before a floor or unit (``App. (OG)``, ``Whg/OG``, ``Tel/FAX``: review
    256) or another word (review 253: ``App. (links)``, ``Ost/West``, ``Lab (Bern)`` cut
    ``App``, ``Ost``, ``Lab`` from every note)."""
    first, *others = (part.strip(_SIGN_EDGES) for part in _PLACE_SIGNS.split(place))
    if not others:
        return _before_a_region(place)
    for opening, closing in ("()", "[]"):
        if place.count(opening) > place.count(closing):  # cut as a part's edge: ``Thun (BE``
            place += closing
    regions = [names_region(o) for o in others]
    named = [
        o for o, region in zip(others, regions, strict=True) if len(o) >= MIN_PIECE and not region
    ]
    first = first if city or any(regions) or len(first) >= MIN_PIECE else ""
    return list(dict.fromkeys(p for p in [place, first, *named] if p))


def _before_a_region(place: str) -> list[str]:
    """A place as written and, when its last word after a blank is a region's code in
    capitals after a name in mixed case (``Thun BE``, ``Sion VS``: ``region_after_a_blank``;
    review 256: only ``Thun BE`` was searched for), the name before it too."""
    *name, last = place.split() or [""]
    if name and region_after_a_blank(last) and any(c.islower() for w in name for c in w):
        return [place, " ".join(name)]
    return [place]


def city_spellings(city: str) -> list[str]:
    """A city's value written alone, without a digit (PID-11.3 or 11.5, the county PID-12
    and birth place PID-23, a FHIR ``city`` or ``postalCode``, a JSON place key), as
    searched for: as written and, where parentheses, square brackets or a slash part it, by
    the city's name before them however short (``Thun`` of ``Thun (BE)`` or ``Thun/BE``,
    ``Zug`` of ``Zug [ZG]``) and another name of ``MIN_PIECE`` letters or more after them
    (``Bienne``), never a region alone (``Valais`` of ``Sion (Valais)``, ``Kt. BE``:
    ``_segments``; review 256), and by its name before a region's code after a blank
    (``Thun`` of ``Thun BE``); before a comma, by its name (``Wil`` of ``Wil, SG``, ``Thun``
    of ``Thun, BE, CH`` or ``Thun, Schweiz``: reviews 258, 262, 266), each as
    ``place_spellings`` writes it (review 254: only the whole phrase was, so a note
    repeating ``Thun`` kept it). Never a street's value: its word in brackets (``links`` of
    ``App. (links)``) is no city."""
    pieces = [piece.strip() for piece in city.split(",")]
    # a city's value before a comma is its name (review 262: ``Thun, BE, CH``, ``Wil SG,
    # Schweiz``; review 266: ``Thun, Schweiz``, a country in words being no region): PHI
    # first, ``Praxis`` of ``Praxis, Bern`` too; only it is parted, so that what follows the
    # comma is never searched alone (``Schweiz`` of ``Thun (BE), Schweiz``, ``Bienne,
    # Schweiz`` of ``Biel/Bienne, Schweiz`` were cut from every note)
    named = pieces[0] if len(pieces) > 1 and pieces[0] else city
    parts = [city.strip(), *_segments(named)]  # (``Thun (BE`` also as written)
    return list(dict.fromkeys(s for part in parts for s in place_spellings(part)))
