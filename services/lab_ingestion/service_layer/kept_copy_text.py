"""A kept HL7 copy read as text, before it is parsed (``replay``): the message id a
rejection is known by (its copy's MSH-10, never more than the copy shows), and the copy as
this service read HL7's highlighting in a trial result's value before (as ``_``)."""

from __future__ import annotations

import re

from shared.contracts.events.lab import Channel
from shared.jsonlog import REDACTED

_HIGHLIGHTING = frozenset({"H", "N"})  # HL7's highlighting escapes: start, normal text
# the channels whose kept copies are HL7 text, read back as the message was (``replay``)
REPLAYABLE_CHANNELS = frozenset({Channel.MLLP.value, Channel.HL7_HTTP.value})


def rejection_control_id(channel: Channel, copy: str, sent: str) -> str:
    """The control id a rejection keeps: an HL7 message's ``kept_message_id`` (``[redacted]``
    when its copy holds no MSH line: one kept as segment names only, or not kept, can no
    more vouch for the id than for the rest), another input's id as parsed (``sent``: its
    hospital numbers masked, as its copy's are)."""
    if channel.value in REPLAYABLE_CHANNELS:
        return kept_message_id(copy, REDACTED)
    return sent


def kept_message_id(copy: str, sent: str) -> str:
    """The id a rejected HL7 message is known by: its kept copy's MSH-10 as written there
    (its hospital numbers masked, a copied name, birth date or visit number scrubbed; escape
    sequences as sent); ``sent`` (the id as parsed) when the copy has none (it was not kept).
    """
    header = next((line for line in copy.split("\r") if line[:3].upper() == "MSH"), "")
    fields = header.split(header[3]) if len(header) > 3 else []  # MSH-1 is the separator
    kept = fields[9].strip() if len(fields) > 9 else ""
    return kept or sent


def highlighting_as_read_before(copy: str) -> str | None:
    """The copy with each HL7 highlighting escape in an OBX-5 (``\\H\\``, ``\\N\\``)
    written as the ``_`` python-hl7 reads it as: read now, the copy reads as it did before a
    trial result's value read highlighting as nothing (every other field, and another test's
    value, reads ``_`` for it still). None when no OBX-5 holds one, or when ``_`` is one of
    the copy's separators (it cannot be written there as text)."""
    lines = copy.split("\r")
    header = next((line for line in lines if line[:3] == "MSH"), "")
    if len(header) < 4:
        return None
    field = header[3]
    end = header.find(field, 4)
    encoding = header[4 : end if end != -1 else None]  # MSH-2: a missing one is its default
    component, repetition, escape, sub = (
        encoding[i] if i < len(encoding) else "^~\\&"[i] for i in range(4)
    )
    if "_" in (field, component, repetition, escape, sub):
        return None
    parts = re.compile(f"([{re.escape(component + repetition + sub)}])")
    rewritten = []
    for line in lines:
        fields = line.split(field)
        if fields[0] == "OBX" and len(fields) > 5 and escape in fields[5]:
            values = parts.split(fields[5])  # an escape sequence never spans a separator
            fields[5] = "".join(_highlighting_as_text(value, escape) for value in values)
        rewritten.append(field.join(fields))
    before = "\r".join(rewritten)
    return before if before != copy else None


def _highlighting_as_text(value: str, escape: str) -> str:
    """One value with each closed ``\\H\\`` and ``\\N\\`` escape written as ``_``."""
    pieces = value.split(escape)  # text, then each sequence and the text after it
    written, index = [pieces[0]], 1
    while index < len(pieces):
        if index + 1 < len(pieces):  # a closed sequence, then the text after it
            sequence = pieces[index]
            shown = "_" if sequence in _HIGHLIGHTING else f"{escape}{sequence}{escape}"
            written += (shown, pieces[index + 1])
            index += 2
        else:  # never closed: as written
            written.append(f"{escape}{pieces[index]}")
            index += 1
    return "".join(written)
