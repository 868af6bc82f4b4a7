"""One observation as a lab sent it -> a result in the canonical unit (PROTOCOL section 6).

Pure: no I/O. Observations of analytes the trial does not follow yield None (the caller
ignores them); unusable trial results yield a ``Rejected`` with a bounded code and a reason
that never echoes free text (a value field may carry a comment, and comments may carry PHI).

A censored value (``<10``, ``>200``, or a number flagged off the instrument's scale: OBX-8 or
a FHIR interpretation ``<`` or ``>``) is rejected, never read as its bound: the events carry a
number, and ``<10`` read as 10 is not a CRP response, ``<0.5`` neutrophils read as 0.5 is
grade 3 instead of 4. A negative value is no measurement of any trial analyte, nor is one
above its plausibility ceiling (``plausibility``), and a value with more significant digits
than a binary float keeps (15) could round across a threshold.
"""

from __future__ import annotations

import re
from typing import Final

from services.lab_ingestion.domain.abnormal_flags import is_off_scale, published_flag
from services.lab_ingestion.domain.analytes import (
    DEFAULT_UNIT_PARAMETERS,
    UnitConversion,
    UnitParameters,
    analytes_named,
    identify_analyte,
    recognise_unit,
    resolve_unit,
)
from services.lab_ingestion.domain.model import (
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.plausibility import check_plausible, plausible_reference_range
from shared.contracts.events.lab import Analyte

__all__ = [
    "DEFAULT_UNIT_PARAMETERS", "UnitParameters", "normalise", "parse_reference_range",
    "range_unit",
]  # fmt: skip

_NUMBER: Final = r"[+-]?(?:[0-9]+(?:[.,][0-9]+)?|\.[0-9]+)"
_LOWER_THAN: Final = r"<=|<|\u2264"
_GREATER_THAN: Final = r">=|>|\u2265"
_VALUE: Final = re.compile(
    rf"(?P<comparator>{_LOWER_THAN}|{_GREATER_THAN})?\s*(?P<number>{_NUMBER})"
)
_INTERVAL: Final = re.compile(
    rf"\s*(?P<low>{_NUMBER})\s*[-\u2013]\s*(?P<high>{_NUMBER})(?P<rest>.*)", re.DOTALL
)
_HIGH_ONLY: Final = re.compile(
    rf"\s*(?:{_LOWER_THAN})\s*(?P<high>{_NUMBER})(?P<rest>.*)", re.DOTALL
)
_LOW_ONLY: Final = re.compile(
    rf"\s*(?:{_GREATER_THAN})\s*(?P<low>{_NUMBER})(?P<rest>.*)", re.DOTALL
)
_EXPONENT: Final = re.compile(r"[eE][+-]?[0-9]")
# 250.000/uL: German labs write thousands so; cells per microlitre are never fractional
_THOUSANDS_DOT: Final = re.compile(r"\+?[0-9]{1,3}\.[0-9]{3}")
# any decimal separator before a digit: no count per microlitre has one (a thousands dot
# or comma, or a unit mislabelled /uL for 10^3/uL)
_DECIMALS: Final = re.compile(r"[.,][0-9]")
# one lab number, maybe censored (<5, >= 200, 1,5, 250.000): a reason quotes nothing else
# (digits and signs in another shape may be a misplaced birth date, phone or AHV number)
_SHOWABLE_VALUE: Final = re.compile(
    r"(?:<=|>=|<|>|=|\u2264|\u2265)?\s?[+-]?[0-9]{1,6}(?:[.,][0-9]{1,6})?"
)
_RANGE_WORDS: Final = re.compile(r"[\s()\[\],;]+")
_MAX_VALUE_LENGTH: Final = 32
MAX_SIGNIFICANT_DIGITS: Final = 15  # what a binary float (the events' number) keeps exactly
# HL7 OBX-2 value types whose text may be a measurement (SN: read as structured numeric)
MEASURED_VALUE_TYPES: Final = frozenset({"NM", "SN", "ST", "TX", "FT"})
# HL7 table 0125 (value types, v2.3 to 2.5.1): the only OBX-2 text a reason quotes; anything
# else there (a name, a number) is told by its length
HL7_VALUE_TYPES: Final = frozenset({
    "AD", "CE", "CF", "CK", "CN", "CNE", "CP", "CWE", "CX", "DR", "DT", "DTM", "ED", "FT",
    "ID", "IS", "MA", "MO", "NA", "NM", "PN", "RP", "SN", "ST", "TM", "TN", "TS", "TX", "XAD",
    "XCN", "XON", "XPN", "XTN",
})  # fmt: skip
_MAX_RANGE_LENGTH: Final = 100

Bounds = tuple[float | None, float | None]


def normalise(
    observation: ObservationInput, params: UnitParameters = DEFAULT_UNIT_PARAMETERS
) -> NormalisedResult | Rejected | None:
    """The observation in its analyte's canonical unit; None if it is not a trial analyte."""
    identified = identify_analyte(observation.codes)
    if identified is None:
        return None
    analyte, loinc = identified
    ambiguous = check_one_analyte(observation)
    if ambiguous is not None:
        return ambiguous
    if observation.collected_at is None:
        return Rejected(
            RejectionCode.MISSING_COLLECTION_TIME, f"{analyte.value} result has no collection time"
        )
    conversion = resolve_unit(analyte, observation.unit, params)
    if isinstance(conversion, Rejected):
        return conversion
    value = _measurement(analyte, observation, conversion)
    if isinstance(value, Rejected):
        return value
    low, high = _reference_range(analyte, observation.reference_range, conversion, params)
    return NormalisedResult(
        analyte=analyte,
        loinc=loinc,
        value=value,
        unit=conversion.canonical_unit,
        original_value=observation.value.strip(),
        original_unit=conversion.source_text,
        reference_low=low,
        reference_high=high,
        abnormal_flag=published_flag(observation.abnormal_flag),
    )


def check_one_analyte(observation: ObservationInput) -> Rejected | None:
    """Why a result whose codes name different trial analytes is not one (None if they name
    one): read as its first code, a platelet count would be published as neutrophils."""
    if len(analytes_named(observation.codes)) <= 1:
        return None
    return Rejected(
        RejectionCode.AMBIGUOUS_ANALYTE,
        "the result's codes (LOINC) name different trial analytes: one test per result",
    )


def _measurement(
    analyte: Analyte, observation: ObservationInput, conversion: UnitConversion
) -> float | Rejected:
    """The value in the canonical unit, if the sender gave it as a measurement: of a type
    that may hold one (OBX-2), a plain decimal (``parse_value``), a count without decimals,
    not flagged off the instrument's scale, and one a human body may have (``plausibility``)."""
    value_type = observation.value_type.strip().upper()
    if value_type and value_type not in MEASURED_VALUE_TYPES:
        return _non_numeric(
            f"{analyte.value} value is of type {_show_value_type(value_type)} (OBX-2), not a number"
        )
    value = parse_value(analyte, observation.value)
    if isinstance(value, Rejected):
        return value
    if conversion.source_unit == "/uL":
        fractional = _fractional_count(analyte, observation.value.strip())
        if fractional is not None:
            return fractional
    off_scale = [f.strip() for f in observation.flags if is_off_scale(f)]
    if off_scale:
        return Rejected(
            RejectionCode.CENSORED_VALUE,
            f"{analyte.value} value {_show(observation.value.strip())} is flagged "
            f"{off_scale[0]!r}, off the instrument's scale (a limit, not a measured value)",
        )
    canonical = conversion.apply(value)
    implausible = check_plausible(analyte, canonical)
    return canonical if implausible is None else implausible


def _fractional_count(analyte: Analyte, stripped: str) -> Rejected | None:
    """Why a count per microlitre written with decimals is no count (None: it has none).
    Cells are counted whole: ``250.000`` is 250 thousand written with a thousands dot, or
    250 with decimals; ``1.5`` is a unit mislabelled (1.5 x10^3/uL, grade 1), read as 1.5
    cells it is 0.0015 x10^9/L, grade-4 neutropenia and a dose held."""
    if _THOUSANDS_DOT.fullmatch(stripped):
        return _non_numeric(
            f"{analyte.value} value {_show(stripped)} per microlitre is "
            "ambiguous: a count has no decimals, the dot may be a thousands separator"
        )
    if _DECIMALS.search(stripped):
        return Rejected(
            RejectionCode.IMPLAUSIBLE_VALUE,
            f"{analyte.value} value {_show(stripped)} per microlitre has decimals: a count "
            "per microlitre has none, check the unit",
        )
    return None


def parse_value(analyte: Analyte, text: str) -> float | Rejected:
    """A plain decimal that is not negative; a censored value (``<5``) or anything else is
    rejected."""
    stripped = text.strip()
    if not stripped:
        return _non_numeric(f"{analyte.value} value is empty")
    if len(stripped) > _MAX_VALUE_LENGTH:
        return _non_numeric(f"{analyte.value} value is too long ({len(stripped)} characters)")
    match = _VALUE.fullmatch(stripped)
    if match is None:
        return _non_numeric(f"{analyte.value} value {_show(stripped)} is not a plain decimal")
    if match["comparator"]:
        return Rejected(
            RejectionCode.CENSORED_VALUE,
            f"{analyte.value} value {_show(stripped)} is censored (a limit, not a measured "
            "value): send the measured value",
        )
    return _measured(analyte, stripped, match["number"])


def _measured(analyte: Analyte, stripped: str, number_text: str) -> float | Rejected:
    if significant_digits(number_text) > MAX_SIGNIFICANT_DIGITS:
        return _non_numeric(
            f"{analyte.value} value has more than {MAX_SIGNIFICANT_DIGITS} significant digits: "
            "more than a measurement holds, and more than its number keeps exactly"
        )
    number = _decimal(number_text)
    if number is None:
        return _non_numeric(
            f"{analyte.value} value {_show(stripped)} is ambiguous: "
            "the comma may be a thousands separator"
        )
    if number < 0:
        return Rejected(
            RejectionCode.IMPLAUSIBLE_VALUE, f"{analyte.value} value {_show(stripped)} is negative"
        )
    return number + 0.0  # -0 is 0 (a float keeps the sign, which no lab value has)


def parse_reference_range(text: str | None) -> Bounds:
    """OBX-7 style ``low-high``, ``<high`` or ``>low``, in the unit the range is written in
    (see ``range_unit``). Anything else, or a low bound above the high one, gives
    (None, None)."""
    return _parse_range(text)[0]


def range_unit(text: str | None) -> str | None:
    """The unit written after a range's numbers (``0-5 mg/L``, ``12-16 g/dL (F)``), if its
    first word is a known unit."""
    tail = _parse_range(text)[1].strip()
    if not tail or recognise_unit(tail) is not None:
        return tail or None
    first = _RANGE_WORDS.split(tail.lstrip("([ "), maxsplit=1)[0]
    return first if recognise_unit(first) is not None else None


def _parse_range(text: str | None) -> tuple[Bounds, str]:
    if text is None or len(text) > _MAX_RANGE_LENGTH:
        return (None, None), ""
    if (match := _INTERVAL.fullmatch(text)) and _is_trailing_unit(match["rest"]):
        low, high = _bound(match["low"]), _bound(match["high"])
        if low is None or high is None or low > high:
            return (None, None), ""
        return (low, high), match["rest"]
    if (match := _HIGH_ONLY.fullmatch(text)) and _is_trailing_unit(match["rest"]):
        return (None, _bound(match["high"])), match["rest"]
    if (match := _LOW_ONLY.fullmatch(text)) and _is_trailing_unit(match["rest"]):
        return (_bound(match["low"]), None), match["rest"]
    return (None, None), ""


def _reference_range(
    analyte: Analyte, text: str | None, value_unit: UnitConversion, params: UnitParameters
) -> Bounds:
    """The range in the canonical unit: converted as the value is, unless the range names
    its own unit (``0-5 mg/L`` next to a value in mg/dL); a range in a unit that cannot be
    converted, or followed by words that are no unit (``0-5 (adult)``: its unit cannot be
    told), or a count per microlitre with decimals (``150.000-400.000``: a thousands
    separator, or decimals?; ``1.5-4.0``: a unit mislabelled), or whose limits lie where no
    laboratory's do (``150-400`` next to a count per microlitre: 0.15-0.4 x10^9/L; see
    plausibility.py), is dropped rather than misread (LLN and ULN grade toxicity)."""
    (low, high), tail = _parse_range(text)
    conversion = value_unit
    if (unit := range_unit(text)) is None and tail.strip():
        return None, None
    if unit is not None:
        own = resolve_unit(analyte, (unit,), params)
        if isinstance(own, Rejected):
            return None, None
        conversion = own
    if conversion.source_unit == "/uL" and _DECIMALS.search(text or ""):
        return None, None  # 150.000-400.000 /uL: a count has no decimals (as for the value)
    low, high = _convert(conversion, low), _convert(conversion, high)
    if not plausible_reference_range(analyte, low, high):
        return None, None
    return low, high


def _bound(number: str) -> float | None:
    """A range's bound, or None when it cannot be read exactly (dropped, as the value would be
    rejected)."""
    return None if significant_digits(number) > MAX_SIGNIFICANT_DIGITS else _decimal(number)


def _decimal(number: str) -> float | None:
    """A regex-checked number with ``.`` or a lone decimal comma; None if the comma is ambiguous.

    ``1,500`` may be one and a half or fifteen hundred, so three digits after a comma are
    not read as decimals.
    """
    if "," in number:
        whole, _, fraction = number.partition(",")
        if len(fraction) == 3:
            return None
        number = f"{whole}.{fraction}"
    return float(number)


def significant_digits(number: str) -> int:
    """Digits from the first non-zero one on (``0.0012`` has 2, ``1.500`` has 4)."""
    return len("".join(c for c in number if c.isdigit()).lstrip("0"))


def _is_trailing_unit(rest: str) -> bool:
    """Text after a range's numbers may be a unit or a note, never more of a number."""
    tail = rest.strip()
    if not tail or recognise_unit(tail) is not None:
        return True
    return tail[0] not in "0123456789.,+-\u2013" and _EXPONENT.match(rest) is None


def _convert(conversion: UnitConversion, bound: float | None) -> float | None:
    return None if bound is None else conversion.apply(bound)


def _show(value: str) -> str:
    """The value itself if it is one number (a comparator and sign allowed); otherwise only
    its length."""
    if _SHOWABLE_VALUE.fullmatch(value):
        return repr(value)
    return f"(text of {len(value)} characters)"


def _show_value_type(code: str) -> str:
    """An HL7 value type (table 0125) itself, anything else only by its length: a short word
    there may be a name (``SMITH``)."""
    return repr(code) if code in HL7_VALUE_TYPES else f"(code of {len(code)} characters)"


def _non_numeric(reason: str) -> Rejected:
    return Rejected(RejectionCode.NON_NUMERIC_VALUE, reason)
