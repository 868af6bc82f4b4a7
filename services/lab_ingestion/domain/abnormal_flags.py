"""Abnormal flags (HL7 table 0078, FHIR's ObservationInterpretation codes): what a result's
flag may say. A flag is a code, never free text: anything else a sender writes there (a
comment, a name, a hospital number) is not kept or published.

A result may carry several flags (OBX-8 repeats; a FHIR Observation has several
interpretation codings): the one published is the most severe (``SEVERITY``), never merely
the first: ``N~LL`` published ``N`` for a critical low platelet count, ``comment~HH``
nothing. N beside a flag of a value out of range is that flag (over-alerting is the safe
side, and the value itself, which grades, is stored as sent); a flag below the range beside
one above it (``L~H``, ``LL~HH``) leaves no safe one to publish, and the result is refused
(``check_flags_agree``).

A flag is checked against the value it flags, too: ``751-8 | 450 | 10*9/L | 1.8-7.7 | LL``
is an ANC of 450 /uL labelled 10^9/L (grade 4 published as 450 x10^9/L), told only by its
flag. A flag below the range on a value above the range's upper limit, or above it on a
value below its lower limit, is a unit slip (or another result's flag): refused
(``check_flag_fits_value``), compared in the canonical unit the value and range are read
in; without a range (or with one dropped) every laboratory's limits are
(``unit_slips.check_flag_fits_any_range``). N alone says the value lies within its range:
one below half its lower limit or above twice its upper limit (more than a laboratory's
borderline N explains) is a unit slip too (review 120: ``751-8 | 450 | 10*9/L | 1.8-7.7 |
N``, an ANC of 450 /uL, was published as 450 x10^9/L; ``1742-6 | 45 | ukat/L | <50 U/L | N``
as ALT 2700 U/L). Beside a flag out of range (``N~H``, ``N~A``) N says nothing checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from services.lab_ingestion.domain.lab_numbers import is_showable
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from shared.contracts.events.lab import Analyte, Comparator

# below / above the instrument's scale: the value is a limit, not a measurement
OFF_SCALE_FLAGS: Final = frozenset({"<", ">"})
# HL7 table 0078 (v2.3 to v2.9) and the v3 ObservationInterpretation codes labs send as flags
ABNORMAL_FLAGS: Final = OFF_SCALE_FLAGS | frozenset({
    "L", "H", "LL", "HH", "LU", "HU", "LX", "HX", "N", "A", "AA", "U", "D", "B", "W", "S",
    "R", "I", "MS", "VS", "SDD", "SYN-R", "SYN-S", "NS", "POS", "NEG", "IND", "DET", "ND",
    "E", "EX", "EXP", "NR", "RR", "QCF", "TOX", "CAR", "AC", "IE", "WR",
})  # fmt: skip
# The order in which a result's flags are published, most severe first: critical (panic)
# low or high, and a non-numeric result's very abnormal AA; significantly low or high (v3
# LU, HU); below or above the reference range (L, H), a threshold (LX, HX); abnormal (A).
# Then any other code (a change, a susceptibility, a QC failure: each says more than N), in
# the order given; normal (N) last: it is published only when nothing else is said.
SEVERITY: Final = ("LL", "HH", "AA", "LU", "HU", "L", "H", "LX", "HX", "A")
NORMAL: Final = "N"
# the flags that place the value below, or above, its reference range
LOW_FLAGS: Final = frozenset({"L", "LL", "LU"})
HIGH_FLAGS: Final = frozenset({"H", "HH", "HU"})
# how far outside its range a value flagged N may lie: half the lower limit, twice the upper
# (a laboratory flags a borderline value N, and a range's limits are rounded; a unit slip
# is x10 or more, haemoglobin's mmol/L x1.6 aside, told by its range)
NORMAL_MARGIN: Final = 2.0


def is_off_scale(flag: str) -> bool:
    return flag.strip() in OFF_SCALE_FLAGS


def published_flag(flag: str | None) -> str | None:
    """The flag as a table code (``h`` is ``H``), or None when it is none of them."""
    code = (flag or "").strip().upper()
    return code if code in ABNORMAL_FLAGS else None


def flag_codes(flags: Iterable[str | None]) -> tuple[str, ...]:
    """The table codes among ``flags`` (``published_flag``), each once, in the order given."""
    return tuple(dict.fromkeys(c for c in map(published_flag, flags) if c is not None))


def most_severe_flag(codes: Iterable[str]) -> str | None:
    """The flag published of a result's codes (``flag_codes``): the first in ``SEVERITY``
    order, else the first other code, else N; None when there is no code."""
    given = list(codes)
    for code in SEVERITY:
        if code in given:
            return code
    others = [c for c in given if c != NORMAL]
    return others[0] if others else (NORMAL if NORMAL in given else None)


def check_flags_agree(analyte: Analyte, codes: Iterable[str]) -> Rejected | None:
    """Why a result's flags contradict each other (None: they do not): one below its range
    beside one above it (``L~H``, ``LL~HH``, ``LU~H``). No flag is the safer to publish
    (each direction misleads on the other side), so neither is: the laboratory resends."""
    given = list(codes)
    low = [c for c in given if c in LOW_FLAGS]
    high = [c for c in given if c in HIGH_FLAGS]
    if not (low and high):
        return None
    return Rejected(
        RejectionCode.IMPLAUSIBLE_VALUE,
        f"{analyte.value} result is flagged both {low[0]!r} and {high[0]!r}: a value is below "
        "its reference range or above it, not both; send the result's one flag",
    )


def check_flag_fits_value(
    analyte: Analyte,
    codes: Iterable[str],
    value: float,
    low: float | None,
    high: float | None,
    *,
    unit: str,
    comparator: Comparator | None = None,
    as_written: str | None = None,
) -> Rejected | None:
    """Why a result's flag contradicts its own value and reference range (None: it does
    not): a flag below the range (``LOW_FLAGS``) on a value above the range's upper limit,
    or one above it (``HIGH_FLAGS``) on a value below its lower limit. ``value``, ``low`` and
    ``high`` are in the same (canonical) unit; the reason quotes lab numbers only, the value
    only when its text as sent (``as_written``) is one a reason may quote (``value_words``).

    A censored value (``comparator``) is a limit, checked as its number is (a low flag on
    ``<100`` x10^9/L with a range of 1.8-7.7 is a count per microlitre labelled per litre: no
    analyser's reporting limit lies beyond the normal range on the flag's side), and where
    the true value can never be on the flag's side: ``>5`` flagged low with a range of
    3-10, ``<7`` flagged high with one of 5-10. A value at a limit is no contradiction.
    N alone on a value far outside the range (``far_from_normal``) is one."""
    given = list(codes)
    for code in given:
        if code == NORMAL:
            where = far_from_normal(given, value, low, high, comparator)
        else:
            where = _contradiction(code, value, low, high, comparator)
        if where is None:
            continue
        return Rejected(
            RejectionCode.IMPLAUSIBLE_VALUE,
            f"{analyte.value}: the abnormal flag {code!r} contradicts the value"
            f"{value_words(value, unit, comparator, as_written)} {where} the reference range "
            f"{range_text(low, high)} {unit}: "
            "check the unit",
        )
    return None


def far_from_normal(
    codes: Iterable[str],
    value: float,
    low: float | None,
    high: float | None,
    comparator: Comparator | None = None,
) -> str | None:
    """Where ``value`` (a limit when ``comparator``) lies that a result's N flag says it
    cannot: below half ``low`` or above twice ``high`` (``NORMAL_MARGIN``), all of the true
    value when censored (``<0.1`` with a lower limit of 1.8). None: it may be normal, or N
    is not alone (a flag of ``SEVERITY`` beside it is the one published)."""
    given = list(codes)
    if NORMAL not in given or any(code in SEVERITY for code in given):
        return None
    at_most = comparator in (Comparator.BELOW, Comparator.AT_MOST)
    at_least = comparator in (Comparator.ABOVE, Comparator.AT_LEAST)
    if low is not None and low > 0 and not at_least:
        floor = low / NORMAL_MARGIN
        if value < floor or (comparator is Comparator.BELOW and value <= floor):
            return "far below"
    if high is not None and not at_most:
        ceiling = high * NORMAL_MARGIN
        if value > ceiling or (comparator is Comparator.ABOVE and value >= ceiling):
            return "far above"
    return None


def _contradiction(
    code: str, value: float, low: float | None, high: float | None, comparator: Comparator | None
) -> str | None:
    """Where ``value`` (a limit when ``comparator``) lies that its flag ``code`` says it
    cannot (None: it may lie where the flag says)."""
    if code in LOW_FLAGS:
        if high is not None and value > high:
            return "above"
        if comparator in (Comparator.ABOVE, Comparator.AT_LEAST):
            bound = low if low is not None else high
            at_least = comparator is Comparator.AT_LEAST
            if bound is not None and (value > bound if at_least else value >= bound):
                return "within or above"  # the true value is above the limit
    elif code in HIGH_FLAGS:
        if low is not None and value < low:
            return "below"
        if comparator in (Comparator.BELOW, Comparator.AT_MOST):
            bound = high if high is not None else low
            at_most = comparator is Comparator.AT_MOST
            if bound is not None and (value < bound if at_most else value <= bound):
                return "within or below"  # the true value is below the limit
    return None


def value_words(
    value: float, unit: str, comparator: Comparator | None, as_written: str | None
) -> str:
    """`` <100 10*9/L``: the value (in ``unit``) as a reason quotes it after "the value", or
    nothing when the text sent (``as_written``; None: a number the service read) is no lab
    number a reason may quote: a birth date, phone or AHV number read as a platelet count
    per microlitre (``01021958`` /uL is 1021.958 x10^9/L) is a human value, and is quoted
    in no reason, not even rounded."""
    if as_written is not None and not is_showable(as_written.strip()):
        return ""
    return f" {comparator.value if comparator else ''}{value:.6g} {unit}"


def range_text(low: float | None, high: float | None) -> str:
    """A reference range as a reason writes it: ``<5``, ``>0.5``, ``1.8-7.7``."""
    if low is None:
        return f"<{high:.6g}"
    if high is None:
        return f">{low:.6g}"
    return f"{low:.6g}-{high:.6g}"
