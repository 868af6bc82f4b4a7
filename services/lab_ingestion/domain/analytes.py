"""The trial's analytes' units (PROTOCOL section 6). Pure: no I/O.

OBX-6 style unit components are recognised by UCUM code or by a known local spelling
(``unit_spellings``) and converted linearly to the analyte's canonical unit. A unit that is
not listed for the analyte is rejected, never guessed. Which analyte a result is:
``analyte_codes``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.unit_factors import standard_form, unit_factor, unit_written
from services.lab_ingestion.domain.unit_shapes import quoted_unit
from services.lab_ingestion.domain.unit_spellings import capitals_readings, recognise_unit
from services.lab_ingestion.domain.unit_words import holds_unit_words, units_named
from shared.contracts.events.lab import CANONICAL_UNITS, Analyte


@dataclass(frozen=True)
class UnitParameters:
    """Conversion factors that are laboratory conventions, kept as protocol parameters."""

    crp_nmol_per_mg_l: float = 9.524

    def __post_init__(self) -> None:
        if not (math.isfinite(self.crp_nmol_per_mg_l) and self.crp_nmol_per_mg_l > 0):
            raise ValueError("crp_nmol_per_mg_l must be a positive, finite number")


DEFAULT_UNIT_PARAMETERS: Final = UnitParameters()

CRP_MG_L_PER_MG_DL: Final = 10.0
CELLS_PER_UL_PER_10_9_L: Final = 1000.0
HB_G_L_PER_G_DL: Final = 10.0
HB_G_DL_PER_MMOL_L: Final = 1.611
ENZYME_U_L_PER_UKAT_L: Final = 60.0
BILIRUBIN_UMOL_L_PER_MG_DL: Final = 17.1
CREATININE_UMOL_L_PER_MG_DL: Final = 88.4


@dataclass(frozen=True)
class UnitConversion:
    """How one recognised unit component converts to its analyte's canonical unit."""

    analyte: Analyte
    source_text: str
    source_unit: str
    multiplier: float
    divisor: float

    @property
    def canonical_unit(self) -> str:
        return CANONICAL_UNITS[self.analyte]

    def apply(self, value: float) -> float:
        """The value in the canonical unit, computed in decimal: 1.12 mg/dL is 11.2 mg/L,
        as if sent so (binary floats gave 11.200000000000001, another value than the same
        result sent in mg/L, which changes a threshold's comparison or a duplicate's)."""
        if self.multiplier == 1 and self.divisor == 1:
            return value
        exact = Decimal(repr(value)) * Decimal(repr(self.multiplier))
        return float(exact / Decimal(repr(self.divisor)))


def canonical_unit(analyte: Analyte) -> str:
    return CANONICAL_UNITS[analyte]


def accepted_units(
    analyte: Analyte, params: UnitParameters = DEFAULT_UNIT_PARAMETERS
) -> Mapping[str, tuple[float, float]]:
    """UCUM code -> (multiplier, divisor) to the canonical unit, for each accepted unit."""
    return _unit_tables(params)[analyte]


@functools.lru_cache(maxsize=8)  # built once per set of parameters, not once per result
def _unit_tables(params: UnitParameters) -> Mapping[Analyte, Mapping[str, tuple[float, float]]]:
    counts = {"10*9/L": (1.0, 1.0), "10*3/uL": (1.0, 1.0), "/uL": (1.0, CELLS_PER_UL_PER_10_9_L)}
    enzymes = {"U/L": (1.0, 1.0), "ukat/L": (ENZYME_U_L_PER_UKAT_L, 1.0)}
    tables: dict[Analyte, dict[str, tuple[float, float]]] = {
        Analyte.CRP: {
            "mg/L": (1.0, 1.0),
            "mg/dL": (CRP_MG_L_PER_MG_DL, 1.0),
            "nmol/L": (1.0, params.crp_nmol_per_mg_l),
        },
        Analyte.NEUTROPHILS: counts,
        Analyte.PLATELETS: counts,
        Analyte.HAEMOGLOBIN: {
            "g/dL": (1.0, 1.0),
            "g/L": (1.0, HB_G_L_PER_G_DL),
            "mmol/L": (HB_G_DL_PER_MMOL_L, 1.0),
        },
        Analyte.ALT: enzymes,
        Analyte.AST: enzymes,
        Analyte.BILIRUBIN: {"mg/dL": (1.0, 1.0), "umol/L": (1.0, BILIRUBIN_UMOL_L_PER_MG_DL)},
        Analyte.CREATININE: {"mg/dL": (1.0, 1.0), "umol/L": (1.0, CREATININE_UMOL_L_PER_MG_DL)},
    }
    return MappingProxyType({a: MappingProxyType(dict(t)) for a, t in tables.items()})


def resolve_unit(
    analyte: Analyte,
    unit_components: Sequence[str],
    params: UnitParameters = DEFAULT_UNIT_PARAMETERS,
) -> UnitConversion | Rejected:
    """The first component that is an accepted unit for ``analyte`` decides the conversion,
    unless another component names a unit with another factor (``mg/dL^mg/L``, or a FHIR
    code and unit that disagree), or a known unit this analyte is never reported in
    (creatinine ``mg/L^mg/dL``), or a unit this service does not convert (``10*9/L^%``,
    ``g/L^g/100mL``: ``unit_shapes``): then the unit is a guess, and it is rejected. The
    same unit written another way (``K/ul``, ``g/100mL`` beside g/dL) is no other. Words
    naming a unit are that unit, in English, German, French or Italian
    (``g/L^grams per deciliter``, ``mg/L^Milligramm pro Deziliter``: refused;
    ``mg/L^milligram per liter``: read), a unit's symbol after a word is compared
    (``mg/L^CRP (mg/dL)``: refused), a local code spelling a unit too (``MGDL^mg/L``:
    refused), and a unit's words that cannot be read whole are refused (``unit_words``);
    only text naming no unit (a description without a unit's words or symbol,
    ``Neutrophils``, ``hs-CRP``; a coding system, ``UCUM``, ``L``) is passed over."""
    if isinstance(unit_components, str):
        unit_components = (unit_components,)
    given = [component.strip() for component in unit_components if component.strip()]
    if not given:
        return Rejected(RejectionCode.MISSING_UNIT, f"no unit given for {analyte.value}")
    accepted = accepted_units(analyte, params)
    recognised = [(t, ucum) for t in given if (ucum := _analyte_unit(t, accepted)) is not None]
    conversions = [
        UnitConversion(analyte, text, ucum, *accepted[ucum])
        for text, ucum in recognised
        if ucum in accepted
    ]
    foreign = len(conversions) < len(recognised)  # a known unit, not one of this analyte's
    if len({c.apply(1.0) for c in conversions}) > 1 or (conversions and foreign):
        return _disagreement(analyte, given, "")
    others = [u for t in given if conversions and (u := _another_unit(t, conversions[0], accepted))]
    if others:
        coded = _quote([conversions[0].source_text])
        if others[0] == UNREAD_WORDS:
            return Rejected(
                RejectionCode.UNCONVERTIBLE_UNIT,
                f"unit {_quote(given)} holds words about a unit that cannot be read as one "
                f"unit beside {coded} for {analyte.value}: which unit the value is in cannot "
                "be told; send one unit, its words naming that unit or none",
            )
        return _disagreement(analyte, given, f" ({coded} beside {others[0]})")
    if conversions:
        return conversions[0]
    return Rejected(
        RejectionCode.UNCONVERTIBLE_UNIT,
        f"unit {_quote(given)} cannot be converted to "
        f"{canonical_unit(analyte)} for {analyte.value}",
    )


def _analyte_unit(text: str, accepted: Mapping[str, tuple[float, float]]) -> str | None:
    """The UCUM code ``text`` stands for (``recognise_unit``). A unit written in capitals
    throughout whose exact reading is one the analyte is never reported in is read in
    another case when that is one of the analyte's, and only one: UK laboratory systems
    write units in capitals, and haemoglobin's ``G/L`` is gram per litre (never giga, a
    count); the platelets' and neutrophils' ``G/L`` is giga per litre, read exactly, and
    their ``g/l`` (its case says gram) is refused (review 152)."""
    ucum = recognise_unit(text)
    if ucum is None or ucum in accepted:
        return ucum
    readings = capitals_readings(text) & accepted.keys()
    return next(iter(readings)) if len(readings) == 1 else ucum


# how ``_another_unit`` names a unit's words that cannot be read whole (``PLT units``,
# ``milligrams per litre of serum``)
UNREAD_WORDS: Final = "(unreadable unit words)"


def _another_unit(
    text: str, conversion: UnitConversion, accepted: Mapping[str, tuple[float, float]]
) -> str | None:
    """How a reason names the unit an unlisted component is written as, when it is a unit
    other than ``conversion``'s (None when it is that unit, or no unit at all). The unit
    written (``unit_factors.unit_written``: all of the text, or its first word before words
    about it, ``% (percent)``) and the unit its words name (``unit_words``: ``grams per
    deciliter`` is g/dL, ``percent`` %) are compared in their standard form: as a listed
    spelling by its factor for the analyte (``K/ul``, ``micromol/L``), else by dimension
    and factor (``g/100mL`` is g/dL, ``1000/uL`` is 10*3/uL). A unit-shaped text whose
    factor cannot be told (``Thou/UL``, ``mEq/L``), and a unit's words that cannot be read
    whole (``milligrams per litre of serum``), are another unit: read as the coded one it
    could be a percentage or a tenfold slip published as a count, while refused the
    laboratory is told and resends (an AE costs a resend, a misread value a patient)."""
    if recognise_unit(text):
        return None  # listed: ``resolve_unit`` compares it
    named = units_named(text)
    if named is None:
        return UNREAD_WORDS
    written = unit_written(text)
    for unit in named:
        if not _same_unit(unit, conversion, accepted):
            if unit == written:  # ``%``, ``mg/dL (born 12/03/1961)``, ``mg per dL``
                return _quote([unit])
            # ``Milligramm pro Deziliter``; a symbol after a word, ``CRP (mg/dL)``; ``MGDL``
            what = "words" if holds_unit_words(text) else "text"
            return f"{what} naming {_quote([recognise_unit(unit) or unit])}"
    return None


def _same_unit(
    written: str, conversion: UnitConversion, accepted: Mapping[str, tuple[float, float]]
) -> bool:
    standard = standard_form(written)
    listed = recognise_unit(written) or recognise_unit(standard)
    if listed is not None:
        return accepted.get(listed) == (conversion.multiplier, conversion.divisor)
    factor = unit_factor(standard)
    return factor is not None and factor == unit_factor(conversion.source_unit)


def _disagreement(analyte: Analyte, given: Sequence[str], which: str) -> Rejected:
    return Rejected(
        RejectionCode.UNCONVERTIBLE_UNIT,
        f"unit {_quote(given)} names units that disagree for {analyte.value}{which}: send one unit",
    )


def to_canonical(
    analyte: Analyte,
    value: float,
    unit_components: Sequence[str],
    params: UnitParameters = DEFAULT_UNIT_PARAMETERS,
) -> tuple[float, str] | Rejected:
    """``value`` in the analyte's canonical unit, with that unit's canonical string."""
    conversion = resolve_unit(analyte, unit_components, params)
    if isinstance(conversion, Rejected):
        return conversion
    converted = conversion.apply(value)
    if not math.isfinite(converted):
        return Rejected(
            RejectionCode.NON_NUMERIC_VALUE, f"{analyte.value} value is not a finite number"
        )
    return converted, conversion.canonical_unit


def _quote(components: Sequence[str]) -> str:
    return quoted_unit(components, listed=lambda c: recognise_unit(c) is not None)
