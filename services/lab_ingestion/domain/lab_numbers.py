"""How a laboratory writes a number, and where its reading cannot be told (PROTOCOL
section 6). Pure: no I/O.

A dot or a comma before exactly three digits may be a decimal mark or a thousands
separator: laboratories in German-speaking countries write fifteen hundred ``1.500``,
English-speaking ones ``1,500``, and either may write one and a half to thousandths. Read
the wrong way, the value is a thousand times off, and the values that carry a separator are
the extreme ones: ALT ``1.500`` U/L read as 1.5 is a normal result for a grade-4 one.

- A comma so placed is never read (``read_decimal``), but after a lone 0 or more than three
  digits, which no thousands group is (``0,150`` is 0.15, as ``0.150`` is).
- A dot so placed is read as a decimal point only where the thousands reading is no human
  value, above the analyte's plausibility ceiling (``plausibility``): CRP ``1.500`` mg/L can
  only be 1.5 (1500 mg/L is no CRP), creatinine ``1.200`` mg/dL only 1.2; where both
  readings are human values (ALT ``1.500`` U/L, platelets ``2.100`` x10^3/uL: no analyser
  reports a count to thousandths, and 2,100 is a count), it cannot be told
  (``thousands_dot_is_ambiguous``).
- An apostrophe (``'`` or U+2019) is the Swiss thousands separator (``95'000``,
  ``1'234.5``): read so only where it cannot be anything else, each one followed by a group
  of exactly three digits and no decimal mark before it (``12'34``, ``1'2345``, ``1.234'5``
  are refused as before: ``without_thousands_apostrophes``).
- A space (or a no-break space, U+00A0, U+202F) is the French thousands separator
  (``142 000`` /mm3): read as the apostrophe is, one kind of space throughout a number
  (``1 5``, ``12 34``, ``1,5 000`` are refused as before; review 152).
- Counts per microlitre have no decimals at all: ``1.5`` /uL is a unit mislabelled for
  10^3/uL, read as cells it is grade-4 neutropenia; and a platelet count there none below an
  analyser's resolution (``plausibility``).

Each is a value that may be a thousand times off (``check_thousandfold_slip``): refused,
never stored, for it would reach the dose and toxicity rules as if measured.
"""

from __future__ import annotations

import re
from typing import Final

from services.lab_ingestion.domain.analytes import UnitConversion
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.plausibility import check_count_per_microlitre, is_plausible
from shared.contracts.events.lab import Analyte

# HL7's NM: a sign, digits and a decimal point, digits after it optional (``12.`` is 12);
# a decimal comma needs digits after it (``12,`` may end a list)
NUMBER: Final = r"[+-]?(?:[0-9]+(?:\.[0-9]*|,[0-9]+)?|\.[0-9]+)"
# 1.500, 25.000, +250.000: a number grouped in thousands with a dot. A group never starts
# with 0 (0.583 is a decimal), and one dot means one to three digits before it.
THOUSANDS_DOT: Final = re.compile(r"\+?[1-9][0-9]{0,2}\.[0-9]{3}")
# 1,500, +25,000: the same with a comma (0,150 and 1234,567 are decimals, as with a dot)
THOUSANDS_COMMA: Final = re.compile(r"[+-]?[1-9][0-9]{0,2},[0-9]{3}")
# any decimal separator before a digit: no count per microlitre has one (a thousands dot
# or comma, or a unit mislabelled /uL for 10^3/uL)
DECIMALS: Final = re.compile(r"[.,][0-9]")
# 95'000, 1'234'567, 1\u2019234.5: digits grouped in thousands with an apostrophe (ASCII or
# U+2019, the Swiss thousands separator), as a whole number: a group never starts with 0, no
# digit, decimal mark or apostrophe before it, exactly three digits after each apostrophe
_APOSTROPHES: Final = "'\u2019"
_THOUSANDS_APOSTROPHE: Final = re.compile(
    f"(?<![0-9.,{_APOSTROPHES}])[1-9][0-9]{{0,2}}(?:[{_APOSTROPHES}][0-9]{{3}})+(?![0-9])"
)
# 142 000, 1\u00a0800, 150\u202f000: digits grouped in thousands with a space (U+0020, or
# the no-break spaces U+00A0 and U+202F French typesetting puts there), read as the Swiss
# apostrophe is; one kind of space throughout, none after a digit before the first group
_SPACES: Final = " \u00a0\u202f"
_APOSTROPHE_SET: Final = frozenset(_APOSTROPHES)
_THOUSANDS_SPACE: Final = re.compile(
    f"(?<![0-9.,{_APOSTROPHES}])(?<![0-9][{_SPACES}])"
    f"[1-9][0-9]{{0,2}}([{_SPACES}])[0-9]{{3}}(?:\\1[0-9]{{3}})*(?![0-9])"
)
_SEPARATORS: Final = frozenset(_APOSTROPHES + _SPACES)  # a set: one C-level scan per value
MAX_SIGNIFICANT_DIGITS: Final = 15  # what a binary float (the events' number) keeps exactly
# one lab number, maybe censored (<5, >= 200, 1,5, 1.500): a reason quotes nothing else
# (digits and signs in another shape may be a misplaced birth date, phone or AHV number)
_SHOWABLE_VALUE: Final = re.compile(
    r"(?:<=|>=|<|>|=|\u2264|\u2265)?\s?[+-]?[0-9]{1,6}(?:[.,][0-9]{1,6})?"
)
# at most five digits in all: a birth date has six (140258, 580214, 021458: DDMMYY, YYMMDD,
# MMDDYY, which kept copies scrub as birth dates; 14.0258 or 140.258 with a dot put in) or
# eight (19580214), a phone number ten and an AHV number thirteen (review 128: platelets
# 140258 /uL were quoted as 140.258 10*9/L, the birth date with a dot)
_SHOWABLE_DIGITS: Final = 5


def read_decimal(number: str) -> float | None:
    """A regex-checked number (``NUMBER``) with ``.`` or a lone decimal comma; None if the
    comma is ambiguous: ``1,500`` may be one and a half or fifteen hundred, so three digits
    after a comma are not read as decimals where what is before it may lead a number
    grouped in thousands (``THOUSANDS_COMMA``); ``0,150`` can only be 0.15 (review 155)."""
    if "," in number:
        if THOUSANDS_COMMA.fullmatch(number):
            return None
        number = number.replace(",", ".")
    return float(number)


def without_thousands_apostrophes(text: str) -> str:
    """``text`` with the apostrophes or spaces of a number grouped in thousands with them
    taken out (``95'000`` is ``95000``, ``<1\u2019000`` is ``<1000``, the French ``142 000``
    ``142000``, ``150\u00a0000-400\u00a0000`` ``150000-400000``); any other apostrophe or
    space is left, and the value it is in refused as before (``12'34``, ``1'2345``, ``1 5``,
    ``12 34``: no group of three). A text with neither is returned as it is, unsearched."""
    if _SEPARATORS.isdisjoint(text):
        return text
    if not _APOSTROPHE_SET.isdisjoint(text):
        text = _THOUSANDS_APOSTROPHE.sub(lambda m: re.sub(f"[{_APOSTROPHES}]", "", m[0]), text)
    return _THOUSANDS_SPACE.sub(lambda m: m[0].replace(m[1], ""), text)


def thousands_dot_is_ambiguous(number: str, conversion: UnitConversion) -> bool:
    """Whether ``number``, in the unit ``conversion`` reads, may as well be a thousands-dot
    number: it has that shape, and read so it converts to a value a patient may have."""
    if not THOUSANDS_DOT.fullmatch(number):
        return False
    thousands = float(number.replace(".", ""))
    return is_plausible(conversion.analyte, conversion.apply(thousands))


def check_thousandfold_slip(
    analyte: Analyte, number: str, value: float, conversion: UnitConversion
) -> Rejected | None:
    """Why a plain decimal ``number`` (read as ``value``, in ``conversion``'s unit) may be
    a thousand times off (None: it cannot be)."""
    if conversion.source_unit == "/uL":
        shown = is_showable(number.strip())
        return _fractional_count(analyte, number) or check_count_per_microlitre(
            analyte, value, shown=shown
        )
    if thousands_dot_is_ambiguous(number, conversion):
        return Rejected(
            RejectionCode.NON_NUMERIC_VALUE,
            f"{analyte.value} value {show_value(number)} is ambiguous: the dot may be a "
            f"thousands separator, and either reading is a possible {analyte.value} value",
        )
    return None


def _fractional_count(analyte: Analyte, number: str) -> Rejected | None:
    """Why a count per microlitre written with decimals is no count (None: it has none).
    Cells are counted whole: ``250.000`` is 250 thousand written with a thousands dot, or
    250 with decimals; ``1.5`` is a unit mislabelled (1.5 x10^3/uL, grade 1), read as 1.5
    cells it is 0.0015 x10^9/L, grade-4 neutropenia and a dose held."""
    if THOUSANDS_DOT.fullmatch(number):
        return Rejected(
            RejectionCode.NON_NUMERIC_VALUE,
            f"{analyte.value} value {show_value(number)} per microlitre is "
            "ambiguous: a count has no decimals, the dot may be a thousands separator",
        )
    if DECIMALS.search(number):
        return Rejected(
            RejectionCode.IMPLAUSIBLE_VALUE,
            f"{analyte.value} value {show_value(number)} per microlitre has decimals: a count "
            "per microlitre has none, check the unit",
        )
    return None


def significant_digits(number: str) -> int:
    """Digits from the first non-zero one on, but for zeros ending the decimals: they say
    nothing about the number's exactness (``0.0012`` has 2, ``1.500`` 2, ``150`` 3;
    ``12.500000000000000000`` 3, a number a float keeps exactly, where
    ``0.30000000000000004`` has 17)."""
    if "." in number or "," in number:
        number = number.rstrip("0")
    return len("".join(c for c in number if c.isdigit()).lstrip("0"))


def is_showable(value: str) -> bool:
    """Whether a reason may quote the value as written (or a number read from it): one lab
    number (a comparator and sign allowed) of at most five digits in all (``<5``, ``12.5``,
    ``0.45``, ``1.500``, ``7700``), never the shape of a birth date (six digits at least:
    ``140258`` is 14.02.58), phone or AHV number. A lab number of six digits or more
    (``250000`` /uL, ``250.000``) is not quoted either: its digits cannot be told from a
    birth date's, and the reason says why the value is refused without them."""
    return bool(_SHOWABLE_VALUE.fullmatch(value)) and (
        sum(c.isdigit() for c in value) <= _SHOWABLE_DIGITS
    )


def show_value(value: str) -> str:
    """The value itself if it is showable (``is_showable``); otherwise only its length."""
    if is_showable(value):
        return repr(value)
    return f"(text of {len(value)} characters)"
