"""Unit slips told by a result's own reference range and flag. Pure: no I/O.

A wrong unit label whose range is written in the true unit (``751-8 | 450 | 10*9/L |
1800-7700 | LL``: an ANC of 450 /uL labelled 10^9/L; ``2160-0 | 45 | mg/dL | 62-106 | L``:
45 umol/L labelled mg/dL) converts to a number under the plausibility ceilings, and was
published as measured (neutrophils 450 x10^9/L, creatinine 45 mg/dL), its range dropped as
no laboratory's. Two things tell the slip:

* the range, read in the value's unit (no unit of its own, or its own converting as the
  value's), lies where no laboratory's does (``plausibility.REFERENCE_LIMIT_WINDOWS``), yet
  where one's does read in another unit of the analyte, and the value is a human value in
  that unit too (``check_range_fits_unit``). Which of the two units is the value's cannot
  be told: refused, never guessed. When the value in the other unit is no human value
  (``250000 | /uL | 150-400``: 250000 x10^9/L), or no count measured (``4.2 | 10*9/L |
  1800-7700``: 4.2 /uL has decimals), the value's unit stands and only the range (written
  in the other unit) is dropped, as before;
* without a range (none, or one dropped), a flag that no laboratory's range allows
  (``check_flag_fits_any_range``): a flag below the range on a value above the highest
  lower limit of normal any laboratory has (L on creatinine 45 mg/dL, LL on neutrophils
  450 x10^9/L), or above it on a value below the lowest upper limit of normal (HH on
  creatinine 0.107 mg/dL). PROTOCOL section 5 names no default LLN or ULN in numbers, so
  the windows of every laboratory's limits are what the flag is compared with.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.lab_ingestion.domain.abnormal_flags import (
    HIGH_FLAGS,
    LOW_FLAGS,
    NORMAL,
    far_from_normal,
    range_text,
    value_words,
)
from services.lab_ingestion.domain.analytes import UnitConversion, UnitParameters, accepted_units
from services.lab_ingestion.domain.lab_numbers import is_showable
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.plausibility import (
    REFERENCE_LIMIT_WINDOWS,
    check_count_per_microlitre,
    is_plausible,
    plausible_reference_range,
)
from services.lab_ingestion.domain.reference_ranges import written_range
from shared.contracts.events.lab import Analyte, Comparator


def check_range_fits_unit(
    analyte: Analyte,
    text: str | None,
    value_unit: UnitConversion,
    number: float,
    params: UnitParameters,
    *,
    as_written: str,
) -> Rejected | None:
    """Why the reference range ``text`` says the value's unit label is wrong (None: it does
    not). ``number`` is the value read, in ``value_unit``; ``as_written`` its digits as sent
    (``4.0`` has decimals: no count per microlitre, though its number is whole). The reason
    quotes lab numbers and the service's own unit codes only: the value's numbers only when
    ``as_written`` is one a reason may quote (``lab_numbers.is_showable``)."""
    written = written_range(analyte, text, value_unit, params)
    if written is None:
        return None
    (low, high), conversion = written
    if (low is None and high is None) or _factor(conversion) != _factor(value_unit):
        return None  # no range, or one in its own other unit (dropped if no laboratory's)
    if plausible_reference_range(analyte, _apply(conversion, low), _apply(conversion, high)):
        return None
    for code, (multiplier, divisor) in accepted_units(analyte, params).items():
        other = UnitConversion(analyte, code, code, multiplier, divisor)
        if _factor(other) == _factor(value_unit):
            continue
        converted = (_apply(other, low), _apply(other, high))
        if plausible_reference_range(analyte, *converted) and _may_be_in(other, number, as_written):
            unit, canonical = value_unit.source_unit, other.canonical_unit
            readings = (
                f" {number:.6g} may be in {code} too ({other.apply(number):.6g} {canonical}, "
                f"not {value_unit.apply(number):.6g} {canonical})"
                if is_showable(as_written.strip())
                else f" may be in {code} too"
            )
            return Rejected(
                RejectionCode.IMPLAUSIBLE_VALUE,
                f"{analyte.value}: the reference range {range_text(low, high)} read in the "
                f"value's unit {unit} is no laboratory's, but is one in {code} "
                f"({range_text(*converted)} {canonical}): the value{readings}; check the unit",
            )
    return None


def check_flag_fits_any_range(
    analyte: Analyte,
    codes: Iterable[str],
    value: float,
    *,
    unit: str,
    comparator: Comparator | None = None,
    as_written: str | None = None,
) -> Rejected | None:
    """Why a result without a reference range has a flag no laboratory's range allows (None:
    some laboratory's may). ``value`` (a limit when ``comparator``) is in the canonical
    ``unit``, quoted when its text as sent (``as_written``) may be (``value_words``). A low
    flag (``LOW_FLAGS``) says the value is below the laboratory's LLN: one above the highest
    LLN of any laboratory (or, a ``<`` limit, above the highest ULN: no reporting limit lies
    there) is not; a high flag likewise below the lowest ULN (a ``>`` limit: below the lowest
    LLN). N alone says the value is normal in some laboratory's range: one below half the
    lowest LLN or above twice the highest ULN is not."""
    (lowest_lln, highest_lln), (lowest_uln, highest_uln) = REFERENCE_LIMIT_WINDOWS[analyte]
    below = comparator in (Comparator.BELOW, Comparator.AT_MOST)
    above = comparator in (Comparator.ABOVE, Comparator.AT_LEAST)
    given = list(codes)
    for code in given:
        if code == NORMAL:
            far = far_from_normal(given, value, lowest_lln, highest_uln, comparator)
            if far is None:
                continue
            wrong, where = True, far
            limit, name = (lowest_lln, "lower") if far == "far below" else (highest_uln, "upper")
        elif code in LOW_FLAGS:
            limit, name = (highest_uln, "upper") if below else (highest_lln, "lower")
            wrong = value >= limit if comparator is Comparator.ABOVE else value > limit
            where = "above"
        elif code in HIGH_FLAGS:
            limit, name = (lowest_lln, "lower") if above else (lowest_uln, "upper")
            wrong = value <= limit if comparator is Comparator.BELOW else value < limit
            where = "below"
        else:
            continue
        if wrong:
            return Rejected(
                RejectionCode.IMPLAUSIBLE_VALUE,
                f"{analyte.value}: the abnormal flag {code!r} contradicts the value"
                f"{value_words(value, unit, comparator, as_written)}, {where} every "
                f"laboratory's {name} limit of normal ({limit:g} "
                f"{unit}), and no reference range is read: check the unit",
            )
    return None


def _may_be_in(unit: UnitConversion, number: float, as_written: str) -> bool:
    """Whether ``number`` may be a value in ``unit``: a human value, and in a count per
    microlitre a whole count an analyser reports, written without decimals (review 120:
    ``4.0 | 10*9/L | 1800-7700`` was refused as maybe 4 /uL, ``4.2`` read)."""
    if unit.source_unit == "/uL" and (
        _has_decimals(as_written) or check_count_per_microlitre(unit.analyte, number) is not None
    ):
        return False
    return is_plausible(unit.analyte, unit.apply(number))


def _has_decimals(written: str) -> bool:
    """Whether a number as written has a decimal separator (a dot, or a comma)."""
    return "." in written or "," in written


def _factor(conversion: UnitConversion) -> tuple[float, float]:
    return conversion.multiplier, conversion.divisor


def _apply(conversion: UnitConversion, bound: float | None) -> float | None:
    return None if bound is None else conversion.apply(bound)
