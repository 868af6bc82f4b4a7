"""A censored value: a limit the laboratory reported instead of a measurement.

Below an analyser's reporting limit a laboratory writes ``<0.1`` (neutrophils), above its
range ``>1000`` (ALT); HL7 sends it as an SN value (``<^0.1``, read as ``<0.1``), as text, or
as a number flagged off the instrument's scale (OBX-8 ``<`` below its absolute low, ``>``
above its absolute high: HL7 table 0078), FHIR as ``valueQuantity.comparator``. These are
often the results that matter most (grade-4 neutropenia whatever the true count), so they
are published with their limit as the value and the relation as ``comparator``
(``lab.results.v1``), never read as the number alone: ``<10`` read as 10 is no CRP response,
``<0.5`` neutrophils read as 0.5 is grade 3 instead of 4.

A value is refused (``censored-value``) where what it says cannot be one limit: flagged both
below and above the scale, or a comparator that contradicts its off-scale flag (``>5``
flagged ``<``). A limit no human value lies beyond, or one that says nothing, is refused as
implausible (``<0``, ``>0``; the analyte's plausibility floor and ceiling apply to the limit
itself), as is a flag the limit contradicts (``abnormal_flags.check_flag_fits_value``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from services.lab_ingestion.domain.abnormal_flags import is_off_scale
from services.lab_ingestion.domain.lab_numbers import show_value
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from shared.contracts.events.lab import Analyte, Comparator

# how a comparator is written before a lab number (HL7 SN.1, FHIR, text): the signs of
# PROTOCOL-style text too (``≤``, ``≥``)
COMPARATOR_SPELLINGS: Final = {
    "<": Comparator.BELOW,
    "<=": Comparator.AT_MOST,
    "\u2264": Comparator.AT_MOST,
    ">": Comparator.ABOVE,
    ">=": Comparator.AT_LEAST,
    "\u2265": Comparator.AT_LEAST,
}
# what each off-scale flag (HL7 table 0078) says of the value: below or above the scale
_OFF_SCALE: Final = {"<": Comparator.BELOW, ">": Comparator.ABOVE}


@dataclass(frozen=True)
class LabValue:
    """A lab number as read: the number, as written without its comparator (``text``), the
    comparator when the value is a limit, and the value as written (``written``: what a
    reason quotes, through ``show_value``)."""

    number: float
    text: str
    comparator: Comparator | None = None
    written: str = ""


def is_below(comparator: Comparator | None) -> bool:
    return comparator in (Comparator.BELOW, Comparator.AT_MOST)


def with_off_scale_flags(
    analyte: Analyte, value: LabValue, flags: Iterable[str | None]
) -> Comparator | Rejected | None:
    """The value's comparator, taking its off-scale flags into account: a plain number
    flagged ``<`` is below the scale (``<`` that number), one flagged ``>`` above it. A
    comparator and an off-scale flag must say the same side."""
    sides = {_OFF_SCALE[f.strip()] for f in flags if f is not None and is_off_scale(f)}
    if len(sides) > 1:
        return Rejected(
            RejectionCode.CENSORED_VALUE,
            f"{analyte.value} value {show_value(value.written)} is flagged both below ('<') and "
            "above ('>') the instrument's scale: send the measured value or one limit",
        )
    if not sides:
        return value.comparator
    (side,) = sides
    if value.comparator is None:
        return side
    if is_below(value.comparator) != is_below(side):
        return Rejected(
            RejectionCode.CENSORED_VALUE,
            f"{analyte.value} value {show_value(value.written)} contradicts its flag "
            f"{side.value!r} (off the other end of the instrument's scale): send the "
            "measured value or one limit",
        )
    return value.comparator


def check_limit(
    analyte: Analyte, value: LabValue, comparator: Comparator | None, canonical: float
) -> Rejected | None:
    """Why a censored value's limit is none (None: it is one, or the value is measured): no
    lab value lies below zero, so ``<0`` (or ``<=0``) names no limit a result can be under,
    and ``>0`` (or ``>=0``) says nothing of the value."""
    if comparator is not None and canonical <= 0:
        side = "below" if is_below(comparator) else "above"
        return Rejected(
            RejectionCode.IMPLAUSIBLE_VALUE,
            f"{analyte.value} value {show_value(value.written)} is a limit at or below zero: "
            f"it says nothing of where the {analyte.value} value lies ({side} it)",
        )
    return None
