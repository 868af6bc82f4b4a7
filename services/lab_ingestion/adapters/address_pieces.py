"""What of an address component's value is searched for in kept copies (HL7, FHIR, JSON):
the line taken apart by ``address_lines``' rules, and what those rules name no piece of
(review 240), read part by part so that the work grows with the value (review 242)."""

from __future__ import annotations

import re
from itertools import pairwise

from services.lab_ingestion.adapters.address_lines import _PARTS, address_line, line_places
from services.lab_ingestion.adapters.address_words import _EDGES, MIN_PIECE, _unit_word
from services.lab_ingestion.adapters.secret_spellings import numbered, place_spellings

_DUTCH_POSTCODE = re.compile(r"\d{4}\s?[^\W\d_]{2}")  # 5611 MM, 1012AB, 2511 cm
# a number with a letter or a unit: 12 B, 12 mg, 3 L, 12 mg/dL, 5 10*9/L, 3 mmol/L, 40 %
# possessive: linear in the part (a sign-spelled unit let a long run of digits backtrack)
_NUMBER_AND_LETTER = re.compile(
    r"\d++(?:[.,]\d+)?+\s*+([^\W\d_]++|[^\s/*^%]*+(?:[/*^%][^\s/*^%]*+)++)"
)
_UNIT_SIGNS = re.compile(r"[/*^%]")
_UNIT_SIGN_SPLIT = re.compile(r"([/*^%])")


def address_pieces(value: str, *, postal_first: bool = False) -> tuple[list[str], list[str]]:
    """What of an address component's value holding a digit and a letter is searched for, in
    every copy (HL7, FHIR, JSON): the line taken apart (``address_line``), never the value
    whole: (its ``numbered`` parts, searched for everywhere; its places, ``line_places``).
    ``postal_first``: the value is a city or postal code's (PID-11.3 or 11.5, FHIR's
    ``city`` or ``postalCode``, a JSON place key), where a number first is a postal code."""
    line = address_line(value, postal_first=postal_first)
    places = line_places(line)
    left = _parts_left_out(value, postal_first=postal_first)
    return line.numbered, list(dict.fromkeys([*places, *left]))


def _parts_left_out(value: str, *, postal_first: bool) -> list[str]:
    """What of a value holding a digit and a letter the rules above name no piece of,
    searched for as a place (scrubbed everywhere but where a copy is read back): each token
    holding a digit and a letter (a postcode: ``CH-3600``, ``1012AB``, ``5611MM`` of ``5611MM
    Eindhoven``; a street run into its number: ``Bahnhofstr.12``), and a part the line rules
    name no piece of, whole too (``D02 X285``, ``2511 cm``, ``45 W 122nd St``: review 246, only
    its ``122nd`` was searched for); never one too short or only a number with
    a letter or a unit (``12 B``, ``3 L``, ``12 mg``). Review 240: once FHIR and JSON copies
    took addresses apart by these rules, such values, searched for whole before, were kept
    in notes; review 242: linear in the value (each part is read once, alone)."""
    left: list[str] = []
    for part in (p.strip(_EDGES) for p in _PARTS.split(value)):
        if not numbered(part):
            continue
        tokens = [token.strip(_EDGES) for token in part.split()]
        found = [t for t in tokens if numbered(t) and not _unit_alone(t)]
        pairs = (f"{a} {b}" for a, b in pairwise(tokens))
        found += [p for p in pairs if _DUTCH_POSTCODE.fullmatch(p)]  # ``1012 ab``: any case
        alone = address_line(part, postal_first=postal_first)
        if not alone.numbered and not alone.places and not _number_and_letter(part):
            found.append(part)  # named by no rule: whole too (review 246: ``45 W 122nd St``)
        left += [spelling for piece in found for spelling in place_spellings(piece)]
    return left


def _number_and_letter(part: str) -> bool:
    """Too short to search for alone, or a number with one letter or a unit (``12 B``,
    ``12 mg``, and one spelled with ``/``, ``*``, ``^`` or ``%``: ``12 mg/dL``, ``5
    10*9/L``; review 248: an address part ``12 mg/dL`` cut a range and a note reading so),
    never a Dutch postcode's four digits and two letters (``5611 MM``, review 242: its
    letters spelling a unit kept it in notes)."""
    if _DUTCH_POSTCODE.fullmatch(part):
        return False
    found = _NUMBER_AND_LETTER.fullmatch(part)
    return len(part) < MIN_PIECE or (found is not None and _unit_or_letter(found[1]))


def _unit_alone(token: str) -> bool:
    """A token never searched for alone: a number with a letter or a unit
    (``_number_and_letter``: ``12mg``, ``10*9/L``), or a unit spelled with signs holding a
    number (``kg/m^2`` of ``12 kg/m^2``; review 251: it was searched for and cut such a
    unit from notes)."""
    if token[:1].isdigit():  # ``123/G``: a number and what follows it
        return _number_and_letter(token)
    return _unit_or_letter(token)


def _unit_or_letter(text: str) -> bool:
    """One letter or a unit (``B``, ``mg``), or a unit spelled with signs that reads as a
    unit as a whole (``mg/dL``, ``10*9/L``, ``U/L``, ``kg/m^2``, ``%``): it starts with a
    number or a unit (or the power of the number before it: ``*9/L`` of ``10*9/L``), never
    with ``/``; each piece after ``/`` is a unit, each other piece a number or a unit, and
    ``%`` ends it. Never ``/G`` of ``123/G`` (review 251: a house number with its letter
    after a slash, searched for as it was before review 248, whatever its letter spells),
    ``m/2`` of ``12 m/2`` or ``/BC`` of ``12/BC``."""
    if not _UNIT_SIGNS.search(text):
        return len(text) == 1 or _unit_word(text)
    first, *rest = _UNIT_SIGN_SPLIT.split(text)  # piece, then (sign, piece) pairs
    pairs = list(zip(rest[::2], rest[1::2], strict=True))
    percent = pairs[-1] == ("%", "")
    pairs = pairs[:-1] if percent else pairs
    if not first and pairs and pairs[0][0] in "*^" and pairs[0][1].isdigit():
        first, pairs = pairs[0][1], pairs[1:]  # the number's power: ``*9/L`` of ``10*9/L``
    if not first:
        return percent and not pairs  # ``40 %``; never ``/G`` of ``123/G``
    if any(sign == "%" or not piece for sign, piece in pairs):
        return False
    pieces = [first, *(piece for _, piece in pairs)]
    fit = all(_unit_word(p) if s == "/" else _unit_piece(p) for s, p in pairs)
    return fit and _unit_piece(first) and (percent or not all(p.isdigit() for p in pieces))


def _unit_piece(piece: str) -> bool:
    """A piece of a unit spelled with signs: a number (``10`` and ``9`` of ``10*9/L``) or a
    unit (``mg``)."""
    return piece.isdigit() or _unit_word(piece)
