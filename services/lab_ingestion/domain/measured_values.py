"""A trial result's value as the lab wrote it -> the number measured, in the canonical unit.

Pure: no I/O. A plain decimal that is not negative, maybe after a comparator (a limit:
``censored_values``), maybe grouped in thousands (``lab_numbers``); anything else is
rejected with a reason that never echoes more of the value than ``show_value`` shows.
"""

from __future__ import annotations

import re
from typing import Final

from services.lab_ingestion.domain.analytes import UnitConversion
from services.lab_ingestion.domain.censored_values import (
    COMPARATOR_SPELLINGS,
    LabValue,
    check_limit,
    with_off_scale_flags,
)
from services.lab_ingestion.domain.lab_numbers import (
    MAX_SIGNIFICANT_DIGITS,
    NUMBER,
    check_thousandfold_slip,
    read_decimal,
    show_value,
    significant_digits,
    without_thousands_apostrophes,
)
from services.lab_ingestion.domain.model import ObservationInput, Rejected, RejectionCode
from services.lab_ingestion.domain.plausibility import check_plausible
from services.lab_ingestion.domain.reference_ranges import GREATER_THAN, LOWER_THAN
from shared.contracts.events.lab import Analyte, Comparator

_VALUE: Final = re.compile(rf"(?P<comparator>{LOWER_THAN}|{GREATER_THAN})?\s*(?P<number>{NUMBER})")
_MAX_VALUE_LENGTH: Final = 32


def measurement(
    analyte: Analyte, observation: ObservationInput, conversion: UnitConversion
) -> tuple[float, Comparator | None, float] | Rejected:
    """The value in the canonical unit, and its comparator when it is a limit, if the sender
    gave it as a number (of a type that may hold one, OBX-2: ``_unit_of``): a plain decimal,
    maybe after a comparator (``parse_value``), whose dot is surely no thousands separator, a
    count without decimals, a limit on one side only (its comparator and off-scale flags
    agree: ``censored_values``), and one a human body may have (``plausibility``). With
    them, the number as written (in the unit written). Never with flags that cannot be
    read (``flag_refusal``: ``&lt;`` may be the off-scale ``<``, or not)."""
    if observation.flag_refusal is not None:
        return Rejected(
            RejectionCode.IMPLAUSIBLE_VALUE, f"{analyte.value} result: {observation.flag_refusal}"
        )
    value = parse_value(analyte, observation.value)
    if isinstance(value, Rejected):
        return value
    slip = check_thousandfold_slip(analyte, value.text, value.number, conversion)
    if slip is not None:
        return slip
    comparator = with_off_scale_flags(
        analyte, value, (observation.abnormal_flag, *observation.flags)
    )
    if isinstance(comparator, Rejected):
        return comparator
    canonical = conversion.apply(value.number)
    unfit = check_plausible(analyte, canonical) or check_limit(
        analyte, value, comparator, canonical
    )
    return (canonical, comparator, value.number) if unfit is None else unfit


def parse_value(analyte: Analyte, text: str) -> LabValue | Rejected:
    """A plain decimal that is not negative, maybe after a comparator (``<5``, ``>= 200``: a
    limit, ``censored_values``), maybe grouped in thousands with apostrophes (``95'000``:
    ``lab_numbers``); anything else is rejected."""
    stripped = text.strip()
    if not stripped:
        return non_numeric(f"{analyte.value} value is empty")
    if len(stripped) > _MAX_VALUE_LENGTH:
        return non_numeric(f"{analyte.value} value is too long ({len(stripped)} characters)")
    match = _VALUE.fullmatch(without_thousands_apostrophes(stripped))
    if match is None:
        return non_numeric(f"{analyte.value} value {show_value(stripped)} is not a plain decimal")
    number = _measured(analyte, stripped, match["number"])
    if isinstance(number, Rejected):
        return number
    comparator = COMPARATOR_SPELLINGS[match["comparator"]] if match["comparator"] else None
    return LabValue(number, match["number"], comparator, stripped)


def _measured(analyte: Analyte, stripped: str, number_text: str) -> float | Rejected:
    if significant_digits(number_text) > MAX_SIGNIFICANT_DIGITS:
        return non_numeric(
            f"{analyte.value} value has more than {MAX_SIGNIFICANT_DIGITS} significant digits: "
            "more than a measurement holds, and more than its number keeps exactly"
        )
    number = read_decimal(number_text)
    if number is None:
        return non_numeric(
            f"{analyte.value} value {show_value(stripped)} is ambiguous: "
            "the comma may be a thousands separator"
        )
    if number < 0:
        return Rejected(
            RejectionCode.IMPLAUSIBLE_VALUE,
            f"{analyte.value} value {show_value(stripped)} is negative",
        )
    return number + 0.0  # -0 is 0 (a float keeps the sign, which no lab value has)


def non_numeric(reason: str) -> Rejected:
    return Rejected(RejectionCode.NON_NUMERIC_VALUE, reason)
