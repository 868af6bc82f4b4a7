"""Values no human body has, and reference ranges no laboratory has: a unit or
decimal-point slip, never a result or a range. Pure: no I/O.

A result in the wrong unit (neutrophils sent as 1500 with x10^9/L written for /uL) or with
its decimal point lost (CRP 1250 for 12.50) converts to a number the trial would act on as
if measured. Each analyte has a ceiling in its canonical unit, far above any value a patient
has reached, so that a x100 or x1000 slip goes over it and a real extreme never does.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from services.lab_ingestion.domain.analytes import canonical_unit
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from shared.contracts.events.lab import Analyte

# Plausibility ceilings, in the canonical unit: NOT clinical limits (no grade, alert or dose
# reads them). Chosen (a product decision) generously above the most extreme values reported
# in people, so a genuine extreme is never refused, yet below what a x1000 slip of an
# ordinary value gives (neutrophils 3000 sent with x10^9/L for /uL) and a x100 slip of a
# high one. A value above its ceiling is rejected, never stored or published.
PLAUSIBILITY_CEILINGS: Final[Mapping[Analyte, float]] = MappingProxyType(
    {
        Analyte.CRP: 1000.0,  # mg/L
        Analyte.NEUTROPHILS: 500.0,  # x10^9/L
        Analyte.PLATELETS: 5000.0,  # x10^9/L
        Analyte.HAEMOGLOBIN: 30.0,  # g/dL
        Analyte.ALT: 100_000.0,  # U/L
        Analyte.AST: 100_000.0,  # U/L
        Analyte.BILIRUBIN: 100.0,  # mg/dL (total)
        Analyte.CREATININE: 50.0,  # mg/dL
    }
)


# Plausibility floors, in the canonical unit, where a living patient has one: haemoglobin
# (the lowest reported in survivors is about 0.7 g/dL). Below it lies a slip, not a result:
# `1.200` g/L read with its dot as a decimal point (0.12 g/dL), or g/L values sent as g/dL's
# tenths; each would grade as anaemia and hold a dose. Creatinine: serum creatinine stays
# above 0.1 mg/dL (8.84 umol/L) even in the smallest muscle mass (newborns, cachexia, about
# 0.2 at the lowest); below it lies a mg/dL value labelled umol/L (2.4 read as 0.027 mg/dL,
# 88x too low: Cockcroft-Gault then gives a clearance in the thousands and the renal dose
# caps of PROTOCOL section 4 never apply). Other analytes have none: a count, CRP, enzyme
# or bilirubin near zero is real.
PLAUSIBILITY_FLOORS: Final[Mapping[Analyte, float]] = MappingProxyType(
    {
        Analyte.HAEMOGLOBIN: 0.5,  # g/dL
        Analyte.CREATININE: 0.1,  # mg/dL (8.84 umol/L)
    }
)


def is_plausible(analyte: Analyte, canonical_value: float) -> bool:
    """Whether a value in the analyte's canonical unit may be a human value (at most its
    ceiling and at least its floor, if it has one; a negative value is refused where it is
    read, as no measurement)."""
    floor = PLAUSIBILITY_FLOORS.get(analyte, 0.0)
    return floor <= canonical_value <= PLAUSIBILITY_CEILINGS[analyte]


def check_plausible(analyte: Analyte, canonical_value: float) -> Rejected | None:
    """Why a value in the analyte's canonical unit is no human value (None: it may be one).
    The reason names the analyte and the bound, never the value: a number no body has may
    be no measurement at all but a birth date, phone or AHV number sent in the value field
    (review 125: ``19580214`` mg/L was quoted in the answer, the rejection and its event)."""
    if is_plausible(analyte, canonical_value):
        return None
    ceiling = PLAUSIBILITY_CEILINGS[analyte]
    unit = canonical_unit(analyte)
    if canonical_value < ceiling:
        return Rejected(
            RejectionCode.IMPLAUSIBLE_VALUE,
            f"{analyte.value} value is below any human value "
            f"({PLAUSIBILITY_FLOORS[analyte]:g} {unit}): check the unit and the decimal point",
        )
    return Rejected(
        RejectionCode.IMPLAUSIBLE_VALUE,
        f"{analyte.value} value is above any human value ({ceiling:g} {unit}): check the "
        "unit and the decimal point",
    )


# The lowest count per microlitre an analyser reports, above none: platelets are counted to
# 1 x10^9/L (1000 /uL), so 250 /uL is no count measured but a unit mislabelled for 10^3/uL
# (0.25 x10^9/L: grade-4 thrombocytopenia, a dose held). Neutrophils have no such floor: an
# ANC of 250 /uL is a real, severe neutropenia.
LOWEST_COUNTS_PER_MICROLITRE: Final[Mapping[Analyte, float]] = MappingProxyType(
    {Analyte.PLATELETS: 1000.0}
)


def check_count_per_microlitre(
    analyte: Analyte, cells_per_microlitre: float, *, shown: bool = True
) -> Rejected | None:
    """Why a whole count per microlitre is no count measured (None: it may be one). The
    reason quotes the count only when it is a whole number under the floor (three digits
    at most: no birth date, phone or AHV number) and its text as written may be quoted
    (``shown``: ``000101``, a birth date as YYMMDD, is no count of 101 to quote, review
    128); a count with decimals is refused before (``lab_numbers``), and any other is
    described without its number."""
    lowest = LOWEST_COUNTS_PER_MICROLITRE.get(analyte)
    if lowest is None or not 0 < cells_per_microlitre < lowest:
        return None
    whole = cells_per_microlitre.is_integer() and shown
    count = f" {cells_per_microlitre:.0f}" if whole else ""
    return Rejected(
        RejectionCode.IMPLAUSIBLE_VALUE,
        f"{analyte.value}{count} per microlitre is below any "
        f"{analyte.value} count measured ({lowest:g} /uL): counts per microlitre are whole "
        "cells, check the unit",
    )


# Where a laboratory's lower and upper limits of normal (LLN, ULN) lie, in the canonical
# unit: each window takes every adult reference range in use (sexes, ages, ethnic benign
# neutropenia, high-sensitivity CRP) with room to spare, and leaves out the range read in
# another unit: x1000 (a count's range per microlitre, 150-400 next to 250000 /uL), x10
# (g/L for g/dL; CRP mg/dL for mg/L), x60 (ukat/L for U/L), x17 (umol/L for mg/dL), x88
# (creatinine in umol/L), x1.6 (haemoglobin in mmol/L), x9.5 (CRP nmol/L). A window holds
# at most one reading of a limit read in two units, or a slip is not told by its range
# (review 120: CRP's ULN window of 0.1-100 mg/L held <0.5 in mg/L and in mg/dL alike, and
# 32 mg/L sent as 3.2 mg/L with its mg/dL range was published). CRP's ULNs are 1 (hs-CRP),
# 3, 5, 6, 8 or 10 mg/L, 0.3 to 1.0 mg/dL, 47.6 to 95 nmol/L; only where two units'
# laboratories write the same limit (<1 mg/L, <1.0 mg/dL) is the range no help. A product
# decision, as the ceilings above; LLN and ULN grade toxicity (PROTOCOL section 5), so a
# range outside them is not used (the protocol's defaults are).
REFERENCE_LIMIT_WINDOWS: Final[
    Mapping[Analyte, tuple[tuple[float, float], tuple[float, float]]]
] = MappingProxyType(
    {  # analyte: ((lowest LLN, highest LLN), (lowest ULN, highest ULN))
        Analyte.CRP: ((0.0, 5.0), (0.95, 10.0)),  # mg/L
        Analyte.NEUTROPHILS: ((0.5, 5.0), (3.0, 20.0)),  # x10^9/L
        Analyte.PLATELETS: ((50.0, 300.0), (200.0, 1000.0)),  # x10^9/L
        Analyte.HAEMOGLOBIN: ((9.5, 15.0), (13.5, 21.0)),  # g/dL
        Analyte.ALT: ((0.0, 50.0), (10.0, 200.0)),  # U/L
        Analyte.AST: ((0.0, 50.0), (10.0, 200.0)),  # U/L
        Analyte.BILIRUBIN: ((0.0, 1.5), (0.3, 5.0)),  # mg/dL (total)
        Analyte.CREATININE: ((0.0, 1.5), (0.4, 3.0)),  # mg/dL
    }
)


def plausible_reference_range(analyte: Analyte, low: float | None, high: float | None) -> bool:
    """Whether each limit given (in the canonical unit) lies where a laboratory's may."""
    (lowest_lln, highest_lln), (lowest_uln, highest_uln) = REFERENCE_LIMIT_WINDOWS[analyte]
    if low is not None and not lowest_lln <= low <= highest_lln:
        return False
    return high is None or lowest_uln <= high <= highest_uln
