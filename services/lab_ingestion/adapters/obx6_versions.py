"""What OBX-6's coding system versions (CWE-7 and 8) hold that is read as a unit.

They are version ids (``2.1``, ``v2``, ``HL7 2.5``), never a unit nor a reason to refuse,
except a text a sender's miscounted carets put there that names a unit (``mg/dL^^^^^^mg/L``,
``mg/dl (Serum)``, ``Milligramm pro Deziliter``, ``IE/l (Serum)``, ``(%)``): it is compared
as the same text in CWE-2 or 9 is (reviews 259, 264, 268, 272, 273), so that a unit that
disagrees is never passed over. A coding system's name and version (``Units 2.1``, ``UCUM
(Unified Code for Units of Measure)``, ``UN/ECE Rec 20``, ``ISO/IEC 80000``, ``Local
units``; reviews 269, 273: these refused the result) names none.
A unit an unescaped caret split across the two (``10^9/L (cells)``) is read as one text
when so joined it names a unit this service knows; else each half is looked at alone
(``10`` then ``v2``, or ``10`` then ``mg/dL (Serum)``: review 272, the pair joined hid the
second's unit, or refused a version id).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.lab_ingestion.adapters.obx6_version_parts import (
    compared,
    names_unit,
    no_version,
    parts,
    percent_unit,
    written_as_unit,
)
from services.lab_ingestion.domain.unit_carets import is_power_base
from services.lab_ingestion.domain.unit_factors import standard_form
from services.lab_ingestion.domain.unit_shapes import names_a_unit
from services.lab_ingestion.domain.unit_spellings import recognise_unit
from services.lab_ingestion.domain.unit_words import units_named


def version_texts(versions: Sequence[str]) -> list[str]:
    """CWE-7 and 8 as texts to look at: one text when a power base in CWE-7 and what follows
    it in CWE-8 are, joined, a listed unit (``x10^9/L``, ``10^9/L (cells)``,
    ``x10^9 Zellen/L``: review 269, its ``9/L (cells)`` alone was told as another unit and
    the platelet count refused); else each."""
    seventh, eighth = versions
    if eighth.strip() and is_power_base(seventh):
        joined = f"{seventh.strip()}^{eighth.strip()}"
        # the unit the join itself makes (its power of ten), never one named further on
        # (review 276: ``10`` then ``Local units`` joined by the ``U`` of "units")
        if any("^" in u and _listed_unit(u) for u in units_named(joined) or ()):
            return [joined]
    return [seventh, eighth]


def misplaced_unit(text: str) -> bool:
    """Whether a version place's text is read as a unit (``misplaced_units``)."""
    return bool(misplaced_units(text))


def misplaced_units(text: str) -> list[str]:
    """What of a version place's text is compared as a unit ([]: nothing). Nothing of a text
    without a percent sign that is not two characters or more with a letter (``2.1``,
    ``*``), nor of one whose parts (``obx6_version_parts``) name no unit: version ids
    (``v2``, ``Rev. M1``, ``Q1/2024``), labels (``Units 2.1``, ``ISO/IEC 80000``,
    ``unità di misura``, ``UCUM-Einheiten``, ``Swiss units``; review 279: a word outside a
    fixed list refused every result), ``N/A``. Else the text itself where it is written as
    a unit (``names_a_unit``: ``mg/L``, ``10*9/L``) or names units read whole
    (``unit_words.units_named``: ``mg/dl (Serum)``, ``Milligramm pro Deziliter``); the
    text itself too where a part's words name a unit that cannot be read whole
    (``milligrams per litre of serum``, ``10 hoch 12 pro Liter``: review 272, passed
    over); else each part naming a unit, apart from what sets it apart (``mg/dL`` of
    ``lab:mg/dL``, ``mg/dL`` in single quotes, ``<mg/dL>``, ``IE/l`` of ``IE/l (Serum)``:
    review 279), a percent's word as ``%`` (``Labor: pourcentage``). And ``%`` (per mille
    ``10*-3``) for a percent sign in any form that no reading holds (``UCUM:%``, ``HL7 %``,
    a full-width ``%``, ``10*9/L im Serum %``; reviews 273, 276, 278: a neutrophil
    percentage was published as a count)."""
    stripped = text.strip()
    signs = [u for c in stripped if (u := percent_unit(c))]
    worded = len(stripped) > 1 and any(c.isalpha() for c in stripped)
    if not (signs or worded) or no_version(stripped):
        return []
    naming = [p for p in parts(stripped) if names_unit(p)]
    if not naming:
        return []
    named = units_named(stripped)
    if names_a_unit(stripped) or named:
        found = [stripped]
        read = {"%"} if names_a_unit(stripped) or any("%" in u for u in named or ()) else set()
    elif named is None and not all(written_as_unit(p) for p in naming):
        found, read = [stripped], {"%"}  # unit words that cannot be read whole: refused
    else:
        found = [compared(p) for p in naming]
        read = {u for u in ("%", "10*-3", "10*-4") if any(u in f for f in found)}
    found += [u for u in dict.fromkeys(signs) if u not in read and u not in found]
    return found


def _listed_unit(unit: str) -> bool:
    """Whether ``unit`` is a listed spelling (``unit_spellings``), as written or in its
    standard form (``x10^9/L``; never a bare power of ten, ``x10^20``, whose factor alone
    is known: review 276)."""
    return bool(recognise_unit(unit) or recognise_unit(standard_form(unit)))
