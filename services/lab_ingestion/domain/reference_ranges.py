"""A result's reference range (HL7 OBX-7, and FHIR's and JSON's written as it is): its LLN
and ULN in the canonical unit, or none when it cannot be read surely (PROTOCOL section 5:
the protocol's LLN and ULN grade the result then). Pure: no I/O."""

from __future__ import annotations

import re
from typing import Final

from services.lab_ingestion.domain.analytes import UnitConversion, UnitParameters, resolve_unit
from services.lab_ingestion.domain.lab_numbers import (
    DECIMALS,
    MAX_SIGNIFICANT_DIGITS,
    NUMBER,
    read_decimal,
    significant_digits,
    thousands_dot_is_ambiguous,
    without_thousands_apostrophes,
)
from services.lab_ingestion.domain.model import Rejected
from services.lab_ingestion.domain.plausibility import plausible_reference_range
from services.lab_ingestion.domain.unit_spellings import recognise_unit
from shared.contracts.events.lab import Analyte

LOWER_THAN: Final = r"<=|<|\u2264"
GREATER_THAN: Final = r">=|>|\u2265"
_INTERVAL: Final = re.compile(
    rf"\s*(?P<low>{NUMBER})\s*[-\u2013]\s*(?P<high>{NUMBER})(?P<rest>.*)", re.DOTALL
)
_HIGH_ONLY: Final = re.compile(rf"\s*(?:{LOWER_THAN})\s*(?P<high>{NUMBER})(?P<rest>.*)", re.DOTALL)
_LOW_ONLY: Final = re.compile(rf"\s*(?:{GREATER_THAN})\s*(?P<low>{NUMBER})(?P<rest>.*)", re.DOTALL)
_EXPONENT: Final = re.compile(r"[eE][+-]?[0-9]")
_RANGE_WORDS: Final = re.compile(r"[\s()\[\],;~]+")  # ~: HL7's repetitions, joined
# another range after a range's unit: an interval (dashed, or in words: 7 to 35, 7 bis 35,
# 7 à 35), or a comparator before a number (a note's bare number, 37°C, is no range)
_ANOTHER_RANGE: Final = re.compile(
    rf"{NUMBER}\s*[-\u2013]\s*{NUMBER}|{NUMBER}\s+(?:to|bis|\u00e0)\s+{NUMBER}"
    rf"|(?:{LOWER_THAN}|{GREATER_THAN})\s*{NUMBER}",
    re.IGNORECASE,
)
# the range's unit or label, written first after its numbers (U/L, F)
_FIRST_WORD: Final = re.compile(r"[^\s()\[\],;~]*")
# the range's own note, in brackets right after its unit: (37°C), (method 2), (F)
_NOTE: Final = re.compile(r"\s*[(\[](?P<inside>[^)\]]*)[)\]]")
# a note naming whom a range is for: a number there is an age or another range
_POPULATION: Final = re.compile(
    r"(?<![^\W\d_])(?:m|f|male|female|men|women|man|woman|adults?|child(?:ren)?|infants?"
    r"|neonates?|newborns?|boys?|girls?|ages?|aged|years?|yrs?|y)(?![^\W\d_])",
    re.IGNORECASE,
)
_MAX_RANGE_LENGTH: Final = 100

Bounds = tuple[float | None, float | None]
BoundTexts = tuple[str | None, str | None]  # a range's bounds as written, before reading


def parse_reference_range(text: str | None) -> Bounds:
    """OBX-7 style ``low-high``, ``<high`` or ``>low``, in the unit the range is written in
    (see ``range_unit``). Anything else, or a low bound above the high one, gives
    (None, None)."""
    return _read_bounds(_parse_range(text)[0], None)


def range_unit(text: str | None) -> str | None:
    """The unit written after a range's numbers (``0-5 mg/L``, ``12-16 g/dL (F)``), if its
    first word is a known unit."""
    tail = _parse_range(text)[1].strip()
    if not tail or recognise_unit(tail) is not None:
        return tail or None
    first = _RANGE_WORDS.split(tail.lstrip("([ "), maxsplit=1)[0]
    return first if recognise_unit(first) is not None else None


def _parse_range(text: str | None) -> tuple[BoundTexts, str]:
    """The bounds as written and the text after them; none for anything else, nor for a
    text listing several ranges (``_holds_another_range``). A bound grouped in thousands
    with apostrophes (``150'000-450'000``) is read as the value is (``lab_numbers``)."""
    if text is None or len(text) > _MAX_RANGE_LENGTH:
        return (None, None), ""
    texts, rest = _bounds_as_written(without_thousands_apostrophes(text))
    if _holds_another_range(rest):
        return (None, None), ""
    return texts, rest


def _bounds_as_written(text: str) -> tuple[BoundTexts, str]:
    """``low-high``, ``<high`` or ``>low`` and the text after the numbers."""
    if (match := _INTERVAL.fullmatch(text)) and _is_trailing_unit(match["rest"]):
        return (match["low"], match["high"]), match["rest"]
    if (match := _HIGH_ONLY.fullmatch(text)) and _is_trailing_unit(match["rest"]):
        return (None, match["high"]), match["rest"]
    if (match := _LOW_ONLY.fullmatch(text)) and _is_trailing_unit(match["rest"]):
        return (match["low"], None), match["rest"]
    return (None, None), ""


def _read_bounds(texts: BoundTexts, conversion: UnitConversion | None) -> Bounds:
    """The bounds in the unit they are written in; none if one given cannot be read surely
    (``_bound``) or the low one is above the high one."""
    low_text, high_text = texts
    low, high = _bound(low_text, conversion), _bound(high_text, conversion)
    if (low is None and low_text is not None) or (high is None and high_text is not None):
        return None, None
    if low is not None and high is not None and low > high:
        return None, None
    return low, high


def reference_range_of(
    analyte: Analyte, text: str | None, value_unit: UnitConversion, params: UnitParameters
) -> Bounds:
    """The range in the canonical unit: converted as the value is, unless the range names
    its own unit (``0-5 mg/L`` next to a value in mg/dL); a range in a unit that cannot be
    converted, or followed by words that are no unit (``0-5 (adult)``: its unit cannot be
    told), or a count per microlitre with decimals (``150.000-400.000``: a thousands
    separator, or decimals?; ``1.5-4.0``: a unit mislabelled), or whose limits lie where no
    laboratory's do (``150-400`` next to a count per microlitre: 0.15-0.4 x10^9/L; see
    plausibility.py), is dropped rather than misread (LLN and ULN grade toxicity)."""
    written = written_range(analyte, text, value_unit, params)
    if written is None:
        return None, None
    (low, high), conversion = written
    low, high = _convert(conversion, low), _convert(conversion, high)
    if not plausible_reference_range(analyte, low, high):
        return None, None
    return low, high


def written_range(
    analyte: Analyte, text: str | None, value_unit: UnitConversion, params: UnitParameters
) -> tuple[Bounds, UnitConversion] | None:
    """The range's bounds as written (not converted) and the unit they are read in: its
    own, or else the value's. None when it cannot be read surely (``reference_range_of``:
    words that are no unit after it, a unit that cannot be converted, a count per
    microlitre with decimals); whether its limits are a laboratory's is not asked here."""
    texts, tail = _parse_range(text)
    conversion = value_unit
    if (unit := range_unit(text)) is None and tail.strip():
        return None
    if unit is not None:
        own = resolve_unit(analyte, (unit,), params)
        if isinstance(own, Rejected):
            return None
        conversion = own
    if conversion.source_unit == "/uL" and DECIMALS.search(text or ""):
        return None  # 150.000-400.000 /uL: a count has no decimals (as for the value)
    return _read_bounds(texts, conversion), conversion


def _bound(number: str | None, conversion: UnitConversion | None) -> float | None:
    """A range's bound, or None when it cannot be read exactly or surely (dropped, as the
    value would be rejected): in ``conversion``'s unit, a thousands dot is read as the
    value's is (without a unit, the dot is a decimal point). ``-0`` is 0, as the value's is
    (a float keeps the sign: a lower limit -0 was stored and published -0.0; review 259)."""
    if number is None or significant_digits(number) > MAX_SIGNIFICANT_DIGITS:
        return None
    if conversion is not None and thousands_dot_is_ambiguous(number, conversion):
        return None
    read = read_decimal(number)
    return None if read is None else read + 0.0


def _holds_another_range(rest: str) -> bool:
    """Whether the text after a range's numbers holds another range: one range per sex or
    age (``<33 U/L (F), <41 U/L (M)``, ``10-40 U/L (M), 7 to 35 (F)``, ``<41 U/L (M) or 33
    (F)``), of which the first is not the patient's more than the others (the patient's sex
    and age are not known here). So any number after the range's own note, or in a note
    naming a population, is taken for one: dropped, the protocol's limits grade the result,
    which is safe, where another sex's range is not. A single range's label (``12-16 g/dL
    (F)``) or its note's number naming no population (``10-40 U/L (37°C)``, ``<5 mg/L
    (method 2)``) is no other range."""
    tail = rest.strip()
    if not tail or recognise_unit(tail) is not None:
        return False
    first = _FIRST_WORD.match(tail)
    after = tail[first.end() :] if first else tail
    if _ANOTHER_RANGE.search(after):
        return True
    note = _NOTE.match(after)
    inside, beyond = (note["inside"], after[note.end() :]) if note else ("", after)
    if re.search(r"[0-9]", beyond):
        return True
    return re.search(r"[0-9]", inside) is not None and _POPULATION.search(inside) is not None


def _is_trailing_unit(rest: str) -> bool:
    """Text after a range's numbers may be a unit or a note, never more of a number."""
    tail = rest.strip()
    if not tail or recognise_unit(tail) is not None:
        return True
    return tail[0] not in "0123456789.,+-\u2013" and _EXPONENT.match(rest) is None


def _convert(conversion: UnitConversion, bound: float | None) -> float | None:
    return None if bound is None else conversion.apply(bound)
