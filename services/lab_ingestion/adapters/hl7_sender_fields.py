"""MSH-3 and MSH-4 (who sent a message) in the redacted copy of a rejected HL7 message.

An HD's namespace id and the id's type are what anyone who reaches the port wrote: they are
scrubbed much as the message's ids are, a removed value's copy as a whole word, a patient's
number or a birth date's spelling run into other letters or digits too (``LISMRN4711``,
``LIS19580214``: review 108, review 125), but a name's word only where no letter runs on
(``JOHN2``, ``DOE-LAB``; ``hl7_redaction``): a hospital's name holds everyday names run in
(``KANTONSSPITAL`` holds Anton, ``STJOHNS`` John, ``INSELSPITAL`` Els), and a sender so cut
is no longer the sender the allow-list names (its copy would not replay, its rejection
would name no sender one could add: review 128). A universal id (HD.2) that is an OID
(``is_oid``) is kept as written: it is the sender's name, not the patient's (a sender named
by it alone is known, allow-listed and replayed by it), and an arc of it may be any number
(113883, HL7's root, is in every HL7 OID). Every sender's name is scrubbed so, as the
allow-list is not known where the copy is made: a listed sender whose name holds its
patient's number, name or birth date is kept masked, and such a copy does not replay: the
lab is answered "resend" (``unprocessable``); the rejection still names a listed sender as
configured.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from services.lab_ingestion.adapters.hl7_pid3 import Separators
from services.lab_ingestion.domain.authority_names import is_oid

SENDER_FIELDS = (2, 3)  # MSH-3 and MSH-4 (MSH-1 is the separator): who sent the message
# a sender field split into its parts (``_split``), put together again once scrubbed
SplitSender = tuple[list[str], int, list[str]]


def sender_parts(
    fields: list[str], index: int, separators: Separators, senders: list[SplitSender]
) -> tuple[list[tuple[list[str], int]], list[tuple[list[str], int]]]:
    """What of MSH-3 or MSH-4 (an HD) is scrubbed as a whole word, and what also run in (as
    an id is): the whole field for both, unless it holds an OID. A universal id that is an
    OID is then kept as written; an OID anywhere else is scrubbed as a whole word only (its
    arcs are digits, a date's digits may be inside one). Such a field is scrubbed part by
    part, and put together again from ``senders`` (``join_senders``)."""
    parts, universal, oids = _split(fields[index], separators)
    if not oids:
        return [(fields, index)], [(fields, index)]
    senders.append((fields, index, parts))
    values = [at for at, part in enumerate(parts) if part and at % 2 == 0]  # separators: odd
    return (
        [(parts, at) for at in values if at not in universal],
        [(parts, at) for at in values if at not in oids],
    )


def join_senders(senders: list[SplitSender]) -> None:
    """Each sender field split by ``sender_parts``, put together again."""
    for fields, index, parts in senders:
        fields[index] = "".join(parts)


def masked_sender(value: str, separators: Separators, masked: Callable[[str], str]) -> str:
    """An HD with a patient's number masked in each part but an OID universal id."""
    parts, universal, _ = _split(value, separators)
    for at, part in enumerate(parts):
        if part and at % 2 == 0 and at not in universal:
            parts[at] = masked(part)
    return "".join(parts)


def _split(value: str, separators: Separators) -> tuple[list[str], set[int], set[int]]:
    """The HD's parts and separators (at odd places), where an OID universal id is, and
    where any OID is."""
    _, component, repetition, _, _ = separators
    parts = re.split(f"({re.escape(component)}|{re.escape(repetition)})", value)
    position, universal, oids = 0, set(), set()
    for at, part in enumerate(parts):
        if part == repetition:
            position = 0
        elif part == component:
            position += 1
        elif is_oid(part.strip()):
            oids.add(at)
            if position == 1:
                universal.add(at)
    return parts, universal, oids
