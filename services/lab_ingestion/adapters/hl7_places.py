"""The patient's places in a kept HL7 copy: scrubbed from every field, as every other secret
is, but from those a message's sender, identity and replay depend on (``PLACES_KEPT``).

A place (a city, a postal code without digits and letters, a street's name or words, the
county PID-12, the birth place PID-23, a next of kin's, guarantor's or insured's city:
``hl7_secrets``) is often the name of the hospital or laboratory too, of its codes and order
numbers (``LIS|BERN``, ``LABOR BASEL``): cut there, the copy no longer names its sender and
does not replay (reviews 190 and 192). Those fields are listed, and kept as written; a place
anywhere else is scrubbed, as a whole phrase, in any case, as written and as it reads
(``scrub_fields``). Review 199: the places were searched for in a list of free-text fields
only, and a city or street written anywhere else (PV2-12, DG1-4, OBR-18/19/39, TQ1-11,
SPM-10, a coded element's text...) was kept. Review 207: every coded element kept its codes
(components 1, 3, 4 and 6), and plain text written in a coded field no replay reads
(``Patient verzogen nach Thun`` in ORC-16, OBR-12/31, PV2-3, DG1-3) was kept whole; only
OBX-3 and OBX-6 keep their codes now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from services.lab_ingestion.adapters.hl7_pid3 import Separators
from services.lab_ingestion.adapters.hl7_scrub_fields import Secrets, scrub_fields

Kept = Literal["whole", "codes"]
WHOLE: Kept = "whole"  # the field kept as written
# a coded element (CE, CWE, CNE): each repetition's codes and coding systems (components 1,
# 3, 4 and 6: ``CODE_COMPONENTS``) kept, its texts (2, 5, 9) and anything else scrubbed
CODES: Kept = "codes"
CODE_COMPONENTS = (0, 2, 3, 5)  # 0-based
# OBX-3's second alternate identifier and coding system (CWE-10, 12, HL7 v2.7) too: read
# as its codes (``hl7_obx.codes_of``), in the result key and the digest; its text (CWE-11)
# is scrubbed as the others are. OBX-6's CWE-10 and 11 are read as texts (``hl7_units``)
_OBX3_CODE_COMPONENTS = (*CODE_COMPONENTS, 9, 11)
EVERY_FIELD = -1  # a segment's every field


def _codes(*indexes: int) -> dict[int, Kept]:
    return dict.fromkeys(indexes, CODES)


def _whole(*indexes: int) -> dict[int, Kept]:
    return dict.fromkeys(indexes, WHOLE)


# Where a place is kept in a kept HL7 copy (field numbers, v2.5.1): what a replay reads back
# (the parser, the result key, the content digest), or names the sender. Everywhere else it
# is scrubbed, in every component: review 207, a coded element kept its "codes" wherever
# one was (ORC-16, OBR-12/31, PV2-3, DG1-3...), and senders write plain text there
# (``Patient verzogen nach Thun``), kept whole as the element's code.
PLACES_KEPT: Mapping[str, Mapping[int, Kept]] = {
    # the whole header: the sender (MSH-3/4, what a rejection is listed under and its
    # replay checked against the allow-list), the message id MSH-10, type, version
    "MSH": {EVERY_FIELD: WHOLE},
    # the patient's numbers, hashed (the rest of PID is blanked)
    "PID": _whole(2, 3),
    # order control (what cancels an order), placer and filler order numbers (the result
    # key when OBR has none); placer group number and transaction time (an id and a time)
    "ORC": _whole(1, 2, 3, 4, 9),
    # placer and filler order numbers (the result key), observation and end times, report
    # time, result status
    "OBR": _whole(2, 3, 7, 8, 22, 25),
    # value type, sub-id (the result key), abnormal flags (codes only: ``masked_flags``),
    # status, observation and analysis times; the test (OBX-3: its codes and coding
    # systems make the result key and the digest, its texts are read for no trial result)
    # and the unit (OBX-6, in the digest: a place in its text is scrubbed all the same, and
    # such a copy is refused on replay as changed). The value and range are scrubbed: a
    # number holds no place, and a text there is written by people.
    "OBX": _whole(2, 4, 8, 11, 14, 19) | _codes(3, 6),
    # the specimen's ids and collection time (SPM-17, read against the result's)
    "SPM": _whole(2, 3, 17),
}


def kept_as_written(name: str, index: int) -> Kept | None:
    """How a segment's field keeps a place (None: it is scrubbed whole)."""
    table = PLACES_KEPT.get(name, {})
    return table.get(index, table.get(EVERY_FIELD))


def scrub_places(
    text: str, places: Secrets, kept: list[tuple[str, list[str]]], separators: Separators
) -> None:
    """Replace every copy of a place in the kept segments but where ``PLACES_KEPT`` keeps
    it (as ``scrub_fields`` does: whole phrases, any case, as written and as it reads)."""
    if not places:
        return
    _, component, repetition, _, _ = separators
    values: list[tuple[list[str], int]] = []
    coded: list[tuple[list[str], int, list[list[str]]]] = []
    for name, fields in kept:
        for index in range(1, len(fields)):
            how = kept_as_written(name, index)
            if not fields[index] or how == WHOLE:
                continue
            if how is None:
                values.append((fields, index))
                continue
            items = [item.split(component) for item in fields[index].split(repetition)]
            coded.append((fields, index, items))
            codes = _OBX3_CODE_COMPONENTS if (name, index) == ("OBX", 3) else CODE_COMPONENTS
            values += [
                (parts, c) for parts in items for c in range(len(parts))
                if c not in codes and parts[c]
            ]  # fmt: skip
    if not values:
        return
    scrub_fields(text, places, values, separators)
    for fields, index, items in coded:
        fields[index] = repetition.join(component.join(parts) for parts in items)
