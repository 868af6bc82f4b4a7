"""Whether a unit field's text is written as a unit or as words about one. Pure: no I/O.

OBX-6 (and a FHIR quantity's code and display) carries, beside the unit, its description
and coding system. A unit this service does not list (``%``, ``ng/mL``, ``g/100mL``,
``10*12/L``) is still a unit: passed over as if it were a description, the unit beside it
was used alone, and a neutrophil percentage was published as a count. So a text is told a
unit by its shape, a description by its words (``milligrams per liter``, ``UCUM``, ``L``,
``99LAB``), and a unit beside another is compared (``analytes.resolve_unit``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

# a unit's words: a metric prefix (or none) and a base unit, compared without case; the
# x and E of 10E9 written x10E9
# and the units of enzyme activity (U, IU and its Romance UI) bare only: prefixed, they
# spell surnames (Cui, Gui, Mui, Niu, Mu, Du, Fu) a reason must never quote
UNIT_WORDS: Final = frozenset(
    prefix + base
    for prefix in ("", "t", "g", "k", "d", "c", "m", "u", "mc", "\u00b5", "\u03bc", "n", "p", "f")
    for base in ("g", "mol", "l", "kat", "eq", "gm", "m")
) | {"x", "e", "u", "iu", "ui"}

# HL7 table 0396 names of coding systems written in OBX-6's third and sixth components
# (``L`` is HL7's local system there, not a litre), ``99zzz`` a site's own, and an OID
_CODING_SYSTEMS: Final = frozenset({"ucum", "l", "ln", "loinc", "iso+", "ans+", "ansi", "local"})
_SITE_SYSTEM: Final = re.compile(r"99[A-Za-z0-9]{1,8}|HL7\d{4}|\d+(?:\.\d+)+", re.IGNORECASE)
# a UCUM-like expression: operators (a division, a power, a percentage) between terms
_OPERATORS: Final = frozenset("/*^%")
_EXPRESSION: Final = re.compile(r"[^\W_]*(?:[/*^%.\[\]{}()+\-\u00b9\u00b2\u00b3][^\W_]*)+")
# one term without an operator: a unit's word and a power (mm3, m2, mg, U)
_TERM: Final = re.compile(r"([^\W\d_]+)([0-9\u00b9\u00b2\u00b3]?)")
_LETTERS: Final = re.compile(r"[^\W\d_]+")
_SUPERSCRIPTS: Final = str.maketrans(
    "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "0123456789"
)
_POWER_OF_TEN: Final = re.compile(r"10([\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+)")


def names_a_unit(text: str) -> bool:
    """Whether ``text`` is written as a unit (``%``, ``ng/mL``, ``10*12/L``, ``x 10^12/L``,
    ``mm3``) rather than as words about one or a coding system's name (``percent``,
    ``milligrams per liter``, ``10^9 cells/L``, ``UCUM``, ``L``, ``99LAB``)."""
    stripped = text.strip()
    if not stripped or _is_coding_system(stripped):
        return False
    compact = "".join(stripped.split())
    words = _LETTERS.findall(compact)
    if compact != stripped and any(w.casefold() not in UNIT_WORDS for w in words):
        return False  # words with spaces between them: a description
    if any(c in _OPERATORS for c in compact):
        return _EXPRESSION.fullmatch(compact) is not None
    term = _TERM.fullmatch(compact)
    return term is not None and term[1].casefold() in UNIT_WORDS


def powers_written_out(text: str) -> str:
    """A power of ten written in superscript digits as UCUM's caret writes it (``10⁹/L`` is
    ``10^9/L``), so that a display so written is compared as the unit it is."""
    return _POWER_OF_TEN.sub(lambda m: "10^" + m[1].translate(_SUPERSCRIPTS), text)


def _is_coding_system(text: str) -> bool:
    return text.casefold() in _CODING_SYSTEMS or _SITE_SYSTEM.fullmatch(text) is not None


def quoted_unit(components: Sequence[str], *, listed: Callable[[str], bool]) -> str:
    """The unit as a rejection's reason may show it: quoted (bounded) when each component
    is a spelling the service lists (``listed``: ``K/uL``, ``Thousand/uL``, its own words),
    or every word of it is a unit's (mg, Mmol, nkat, L) and it holds at most a power's few
    digits (%, 10*9, g/100mL); otherwise only its length (a sender's free text there may be a
    misplaced name, number or birth date, ``mg/dL^12/03/1961``, and a reason is stored and
    published)."""
    text = "^".join(components)
    if len(text) > _MAX_UNIT_TEXT or not all(listed(c) or _unit_words_only(c) for c in components):
        return f"(text of {len(text)} characters, not a known unit)"
    return repr(text)


def _unit_words_only(component: str) -> bool:
    words = _LETTERS.findall(component)
    digits = sum(c.isdigit() for c in component)
    bound = _MAX_UNIT_DIGITS if words else _MAX_BARE_UNIT_DIGITS
    return digits <= bound and all(w.casefold() in UNIT_WORDS for w in words)


_MAX_UNIT_TEXT: Final = 40
_MAX_BARE_UNIT_DIGITS = 3  # 10*9 written without its /L: more may be a date or a number
_MAX_UNIT_DIGITS = 4  # 10^12/L, g/100mL: more beside a unit's words may be a date's
