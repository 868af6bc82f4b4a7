"""Reading a result's unit from HL7 OBX-6, a CWE (python-hl7 containers).

Its components read as units: the identifier, text and coding system and the alternate
ones (CWE-1 to 6: ``units``), and the original text, with HL7 v2.7's second alternate
identifier and text (CWE-9 to 11: ``texts``), of every repetition. CWE-7 and 8 are coding
system versions (``2.1``, ``v2``): never a reason to refuse, read only for a text written as
a unit that miscounted carets put there (``_misplaced``); nor are the OIDs after CWE-11
read. The original text was never read before review 259, so a unit
there that disagreed was passed over (``10*9/L^^UCUM^^^^^^%`` beside a neutrophil count
was read as 10^9/L): it is compared as the others are (``analytes.resolve_unit``), and a
unit written there alone (``^^^^^^^^mg/dL``) is read. ``texts`` are kept apart from
``units`` because a stored message's digest was made of ``units`` alone: its resend stays
a duplicate (``ObservationInput.unit_texts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import hl7

from services.lab_ingestion.adapters.hl7_escapes import UnreadableEscape
from services.lab_ingestion.adapters.hl7_fields import field_value, later_repetitions, repeats
from services.lab_ingestion.adapters.obx6_versions import misplaced_units, version_texts
from services.lab_ingestion.domain.unit_carets import (
    SplitUnit,
    first_split,
    is_power_base,
    rejoined,
)
from services.lab_ingestion.domain.unit_spellings import recognise_unit

UNITS = range(1, 7)  # CWE-1 to 6, as read since the start
TEXTS = range(9, 12)  # CWE-9 (original text), 10 and 11 (v2.7: second alternate)
VERSIONS = (7, 8)  # CWE-7, 8: coding system versions, a unit there only misplaced
_READ = (*UNITS, *TEXTS)
_LAST = TEXTS[-1]


class UnitReading(NamedTuple):
    """OBX-6 of a trial result as read: ``units`` (CWE-1 to 6 and their sub-components after
    the first), the caret split that is no listed unit (``unit_carets``), and ``texts``
    (CWE-9 to 11 and theirs), every repetition's; empty ones left out."""

    units: tuple[str, ...]
    split: SplitUnit | None
    texts: tuple[str, ...]


def units_of(obx: hl7.Segment, *, trial: bool = False) -> tuple[str, ...]:
    """OBX-6's components (identifier, text, coding system, and the alternate ones) that
    are not empty, of every repetition: OBX-6 does not repeat, and another unit there is
    one that may disagree. A trial result's are read strictly (``field_value``), and with
    the sub-components after the first (``mg/L&mg/dL``: no unit HL7 writes, and the second
    may disagree, as a component or repetition may); a unit its caret split (``x10^9/L``
    written unescaped) joined again (``unit_split``). Another test's are read as before
    (its digest's sake): never its original text."""
    if trial:
        return unit_reading(obx).units
    units = tuple(u for c in UNITS if (u := field_value(obx, 6, 1, c, hex_text=True)))
    if repeats(obx, 6):
        later = later_repetitions(obx, 6, len(UNITS))
        units += tuple(part for parts in later for part in parts if part)
    return units


def unit_split(obx: hl7.Segment) -> tuple[tuple[str, ...], SplitUnit | None]:
    """A trial result's OBX-6 components (``units_of``) and caret split (``unit_reading``)."""
    reading = unit_reading(obx)
    return reading.units, reading.split


def unit_reading(obx: hl7.Segment) -> UnitReading:
    """A trial result's OBX-6, read strictly (``field_value``; never CWE-7 or 8, so an
    escape there refuses nothing). A unit whose caret was written unescaped is read joined
    (``unit_carets.rejoined``: ``x10`` and ``9/L`` are ``x10^9/L``), each join moving the
    later components one back to their place (``10^9/L^^UCUM^^^^^^%``: ``%`` is the
    original text); the first bare power base and component after it that are no listed
    unit joined, else the first in a later repetition, which is not read joined, is the
    ``split`` (the result is then refused, ``unit_carets.split_unit_refusal``)."""
    components, split, origins = _first_repetition(obx)
    units = [c for c in components[: len(UNITS)] if c]
    texts = [c for c in components[TEXTS[0] - 1 : _LAST] if c]
    versions = components[VERSIONS[0] - 1 : VERSIONS[-1]]
    texts += [u for c in version_texts(versions) for u in misplaced_units(c)]
    unit_subs, text_subs = _subcomponents(obx, 1, origins)
    repetitions = len(obx[6]) if len(obx) > 6 else 0
    for repeat in range(2, repetitions + 1):
        parts = [_strict(obx, repeat, c) if c in _READ else "" for c in range(1, _LAST + 1)]
        units += [p for p in parts[: len(UNITS)] if p]
        texts += [p for p in parts[TEXTS[0] - 1 :] if p] + _misplaced(obx, repeat)
        if split is None and _caret_splits(obx, parts):  # refused by its cause
            split = first_split(parts[: len(UNITS)]) or first_split(parts[TEXTS[0] - 1 :])
        more_units, more_texts = _subcomponents(obx, repeat, {c: c for c in _READ})
        unit_subs += more_units
        text_subs += more_texts
    return UnitReading(tuple(units + unit_subs), split, tuple(texts + text_subs))


def _first_repetition(obx: hl7.Segment) -> tuple[list[str], SplitUnit | None, dict[int, int]]:
    """OBX-6's first repetition by CWE position (index 0 is CWE-1; CWE-7 and 8 as read
    leniently, at their place once a caret split is joined: never a unit's second half), a
    unit its caret split joined; and the CWE position each component written (1-based) of
    those read stands at. Components after CWE-6 are read leniently only to find the
    power bases, then strictly where they are read (``_strict``)."""
    node = obx[6][0] if len(obx) > 6 and len(obx[6]) else ""
    width = 1 if isinstance(node, str) else len(node)
    written = [_strict(obx, 1, c) for c in UNITS]
    written += [_lenient(obx, 1, c) for c in range(7, width + 1)]
    bases = [c for i, c in enumerate(written, start=1) if i in _READ]
    if not (_caret_splits(obx, bases) or _unit_split_in_a_version_place(obx, written)):
        origins = {c: c for c in _READ if c <= width}
        for c in TEXTS:
            if c <= width:
                written[c - 1] = _strict(obx, 1, c)
        return _by_position(written, origins), None, origins
    joined, split = rejoined(written)
    origins, at = {}, 1
    for position, text in enumerate(joined, start=1):
        ends = at + (2 if text != written[at - 1] else 1)  # a join: two written, one read
        if position in _READ:
            for c in range(at, ends):
                origins[c] = position
                if c > len(UNITS):
                    _strict(obx, 1, c)  # raises as a unit's reading would
        at = ends
    return _by_position(joined, {p: p for p in origins.values()}), split, origins


def _by_position(components: Sequence[str], kept: dict[int, int]) -> list[str]:
    """``components`` up to CWE-11, those at no position read empty; CWE-7 and 8 as read
    leniently (only a unit's shape there is looked at: ``misplaced_unit``)."""
    wanted = {*kept.values(), *VERSIONS}
    return [
        components[i - 1] if i in wanted and i <= len(components) else ""
        for i in range(1, _LAST + 1)
    ]


def _subcomponents(
    obx: hl7.Segment, repeat: int, origins: dict[int, int]
) -> tuple[list[str], list[str]]:
    """The sub-components after the first of a repetition's components read (``origins``:
    written component to CWE position), strictly: a unit's (CWE-1 to 6), and a text's; and
    of CWE-7 and 8, leniently, a text there written as a unit (``misplaced_units``: the
    ``mg/dL`` of ``2.1&mg/dL`` was never read, where CWE-9's is: task 280)."""
    node = obx[6][repeat - 1] if len(obx) > 6 and len(obx[6]) >= repeat else ""
    units: list[str] = []
    texts: list[str] = []
    for component, value in enumerate([] if isinstance(node, str) else node, start=1):
        if isinstance(value, str):
            continue
        if component in VERSIONS and component not in origins:
            for sub in range(2, len(value) + 1):
                texts += misplaced_units(_lenient(obx, repeat, component, sub))
            continue
        if component not in origins:
            continue
        found = units if origins[component] in UNITS else texts
        for sub in range(2, len(value) + 1):
            text = field_value(
                obx, 6, repeat, component, hex_text=True, subcomponent=sub, strict=True
            )
            if text:
                found.append(text)
    return units, texts


def _misplaced(obx: hl7.Segment, repeat: int) -> list[str]:
    """A text in CWE-7 or 8 (coding system versions) written as a unit (``names_a_unit``:
    a version id, ``2.1`` or ``v2``, never is), read leniently: a sender's miscounted carets
    put it there (``mg/dL^^^^^^mg/L``), and a unit that disagrees is never passed over; one
    that agrees changes nothing, and a version id refuses nothing."""
    versions = [_lenient(obx, repeat, c) for c in VERSIONS]
    return [u for text in version_texts(versions) for u in misplaced_units(text)]


def _lenient(obx: hl7.Segment, repeat: int, component: int, subcomponent: int = 1) -> str:
    """A component read only to be looked at (a version id, an OID after CWE-11, a power
    base's place): an escape python-hl7 cannot read there is no text, never a reason to
    refuse the message (review 264: ``\\.in+x\\`` in CWE-7 answered AR)."""
    try:
        return field_value(obx, 6, repeat, component, hex_text=True, subcomponent=subcomponent)
    except UnreadableEscape:
        return ""


def _strict(obx: hl7.Segment, repeat: int, component: int) -> str:
    return field_value(obx, 6, repeat, component, hex_text=True, strict=True)


def _unit_split_in_a_version_place(obx: hl7.Segment, written: Sequence[str]) -> bool:
    """Whether miscounted carets put a unit whose caret was written unescaped into a version
    place: a power base in CWE-7 or 8 and the component after it joined a listed unit
    (``10*9/L^^UCUM^^^^x10^9/L``; review 268: read apart, its ``9/L`` was told as a unit
    disagreeing with ``10*9/L`` and the platelet count refused). A version id (``10`` then
    ``2``) joins no listed unit and is read as before."""
    if len(obx.separators) > 3 and obx.separators[3] != "^":
        return False
    return any(
        is_power_base(written[c - 1])
        and recognise_unit(f"{written[c - 1].strip()}^{written[c].strip()}") is not None
        for c in VERSIONS
        if c < len(written) and written[c].strip()
    )


def _caret_splits(obx: hl7.Segment, read: Sequence[str]) -> bool:
    """Whether a caret (the component separator) may have split a unit in OBX-6: a bare
    power base among its components. Cheap: a look at each of a few short texts, for the
    usual OBX-6 (``mg/L``, ``10*9/L^^UCUM``) a failed match at their first character."""
    if len(obx.separators) > 3 and obx.separators[3] != "^":
        return False  # another separator: no caret of a unit's splits OBX-6
    return any(is_power_base(c) for c in read)
