"""The free text of a kept HL7 copy, where the patient's places are scrubbed (and nowhere
else): a birth place, a county, an address's city or street name (``hl7_secrets``).

A patient often lives in, or was born in, the city the hospital or laboratory is named
after: the sender's name (``LIS|BERN``, ``LABOR BASEL``), its codes and order numbers name
it too, and a copy so cut does not replay (reviews 190 and 192). So a place is scrubbed in
what people write: a note, a result's value, OBR's danger code, clinical information,
filler fields and reason for study, ORC's order control reason, a specimen's description;
and the text components of coded elements (a test's name in OBR-4 and OBX-3, an
observation method, a specimen's reject reason), never their codes or coding systems, so
that a replay reads the same test (review 192: a birth place in ``CRP^CRP Bern^L`` was
kept).
"""

from __future__ import annotations

from services.lab_ingestion.adapters.hl7_pid3 import Separators
from services.lab_ingestion.adapters.hl7_scrub_fields import Secrets, scrub_fields

# whole fields: NTE-3, OBX-5, OBR-12/13 (danger code, clinical information), OBR-20/21
# (filler fields), OBR-31 (reason for study), ORC-16 (order control reason), SPM-14
FREE_TEXT_FIELDS = {"NTE": (3,), "OBX": (5,), "OBR": (12, 13, 20, 21, 31), "ORC": (16,),
                    "SPM": (14,)}  # fmt: skip
# coded elements (CE/CWE), of which the text components only: OBR-4 (universal service id),
# OBX-3 (observation id), OBX-17 (observation method), SPM-21 (specimen reject reason)
CODED_TEXT_FIELDS = {"OBR": (4,), "OBX": (3, 17), "SPM": (21,)}
# CWE-2 text, CWE-5 alternate text, CWE-9 original text (0-based)
_TEXT_COMPONENTS = (1, 4, 8)


def scrub_places(
    text: str, places: Secrets, kept: list[tuple[str, list[str]]], separators: Separators
) -> None:
    """Replace every copy of a place in the free text of the kept segments (as
    ``scrub_fields`` does: whole phrases, any case, as written and as it reads)."""
    if not places:
        return
    _, component, repetition, _, _ = separators
    values: list[tuple[list[str], int]] = [
        (fields, index)
        for name, fields in kept
        for index in FREE_TEXT_FIELDS.get(name, ())
        if index < len(fields) and fields[index]
    ]
    coded: list[tuple[list[str], int, list[list[str]]]] = []
    for name, fields in kept:
        for index in CODED_TEXT_FIELDS.get(name, ()):
            if index < len(fields) and fields[index]:
                items = [item.split(component) for item in fields[index].split(repetition)]
                coded.append((fields, index, items))
                values += [
                    (parts, c) for parts in items for c in _TEXT_COMPONENTS
                    if c < len(parts) and parts[c]
                ]  # fmt: skip
    if not values:
        return
    scrub_fields(text, places, values, separators)
    for fields, index, items in coded:
        fields[index] = repetition.join(component.join(parts) for parts in items)
