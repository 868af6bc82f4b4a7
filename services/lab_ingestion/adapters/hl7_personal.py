"""The patient's personal values an HL7 message names besides PID-3, read only to be masked
in its ids (``matching.PersonalValues``): some laboratory systems build MSH-10 or an order
number from the patient's name, birth date, account or visit number (``DOE-19580214``,
``VISIT998877-1``), and both are stored and published. The values are the ones a rejected
message's redaction removes from the patient's segments (``hl7_redaction``): PID-5, -6 and -9
names (each part of a double name too), the PID-7 birth date in each spelling of
``scrub.date_spellings``, and the other patient numbers (PID-2, -4, -18, -19, -20, -21 and the
PV1-19/-50 visit numbers). Read as the message id and order numbers are read (unescaped)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import islice
from typing import Any

import hl7

from services.lab_ingestion.adapters.hl7_fields import NULL, field_value
from services.lab_ingestion.adapters.scrub import date_spellings
from services.lab_ingestion.domain.matching import PersonalValues
from services.lab_ingestion.domain.model import MAX_PATIENT_NUMBERS

# patient name, mother's maiden name, alias: family, given and further given names
_NAME_FIELDS = (5, 6, 9)
_NAME_COMPONENTS = (1, 2, 3)
# external and alternate patient id, account number, SSN/AHV, driver's licence, mother's
# identifier; PV1-19 visit number and PV1-50 alternate visit id
_PATIENT_NUMBERS = (2, 4, 18, 19, 20, 21)
_VISIT_NUMBERS = (19, 50)
_BIRTH_DATE = (7,)
_FIRST = (1,)
_NAME_PARTS = re.compile(r"[\s-]+")  # "MÜLLER-MEIER" is "MÜLLER" and "MEIER" too
_DAY = re.compile(r"[0-9]{8}", re.ASCII)  # YYYYMMDD, of a date or a timestamp


def personal_values(pid: hl7.Segment | None, visits: Sequence[hl7.Segment]) -> PersonalValues:
    """The names, birth date and other numbers of the message's PID and PV1 segments."""
    numbers = [value for pv1 in visits for value in _values(pv1, _VISIT_NUMBERS, _FIRST)]
    if pid is None:
        return PersonalValues(tuple(numbers))
    fields = list(pid)  # (python-hl7's indexing builds containers: its lists are iterated)
    numbers += _values(pid, _PATIENT_NUMBERS, _FIRST, fields)
    birth = next(iter(_values(pid, _BIRTH_DATE, _FIRST, fields)), "")[:8]
    if _DAY.fullmatch(birth):
        numbers += date_spellings(birth[:4], birth[4:6], birth[6:])
    names = [
        part
        for value in _values(pid, _NAME_FIELDS, _NAME_COMPONENTS, fields)
        for part in ((value,) if value.isalpha() else (value, *_NAME_PARTS.split(value)))
    ]
    return PersonalValues(tuple(numbers), tuple(names))


def _values(
    segment: hl7.Segment,
    indexes: tuple[int, ...],
    components: tuple[int, ...],
    fields: list[Any] | None = None,
) -> list[str]:
    """The non-empty components of each repetition of these fields, as ``field_value`` reads
    them (at most MAX_PATIENT_NUMBERS repetitions a field: a patient has a few names and
    numbers, and each value read is searched for in every id of the message). This runs for
    every message: python-hl7's lists are iterated (its indexing builds containers), and
    only a value with an escape sequence is read by ``field_value``."""
    fields = list(segment) if fields is None else fields
    values = []
    for index in indexes:
        if index >= len(fields):
            continue
        for repeat, node in enumerate(islice(fields[index], MAX_PATIENT_NUMBERS), start=1):
            written = (node,) if isinstance(node, str) else tuple(node)
            for component in components:
                text = _first_text(written[component - 1]) if component <= len(written) else ""
                if segment.esc in text:
                    values += _unescaped(segment, (index, repeat, component), text)
                elif text.strip() != NULL:  # HL7's explicit null "" is no value
                    values.append(text.strip())
    return [value for value in values if value]


def _unescaped(segment: hl7.Segment, where: tuple[int, int, int], text: str) -> list[str]:
    """A value with escape sequences as it reads (``\\X..\\`` as UTF-8, as PID-3 is read
    and hashed), and as the message id and order numbers read it (a byte a character); as
    written when it cannot be read (a field the service does not otherwise read never
    rejects a message)."""
    index, repeat, component = where
    try:
        return [
            field_value(segment, index, repeat, component, hex_text=True),
            field_value(segment, index, repeat, component),
        ]
    except Exception:  # python-hl7 raises assorted errors on broken escapes
        return [text.strip()]


def _first_text(node: Any) -> str:
    """A component's first sub-component as written (what ``field_value`` reads)."""
    while not isinstance(node, str):
        node = next(iter(node), "")
    return node
