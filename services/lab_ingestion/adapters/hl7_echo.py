"""A field of an inbound message written again in HL7's default encoding characters, as the
ACK echoes it (MSA-2: MSH-10; MSH-5 and MSH-6: MSH-3 and MSH-4), so that the sender reads in
its ACK the very value it sent, whatever its MSH-1 and MSH-2."""

from __future__ import annotations

from services.lab_ingestion.adapters.hl7_ack import escape

_DEFAULT = "^~\\&"  # component, repetition, escape, sub-component (MSH-2's order)
# what an escape sequence of a separator names (HL7 v2.5.1 section 2.7.4): the sender's
# character, field separator first, then MSH-2's positions
_SEPARATOR_ESCAPES = ("F", "S", "R", "E", "T")


def in_default_encoding(text: str, field_separator: str, encoding: str) -> str:
    """``text`` (a field as written, in the sender's field separator and MSH-2 ``encoding``)
    with the sender's separators written as the defaults, and every escape sequence as
    written (only its escape character translated): ``\\XC3BC\\`` stays as it is, never
    decoded into one character per byte and written again. A sequence naming one of the
    sender's separators (``\\S\\``) is that character, which is data in the defaults unless
    it is one of them. A character that is data in the sender's encoding but a default
    separator (``^`` beside a component separator ``#``) is escaped. An escape character
    with no sequence closed after it, or one around a separator, is data (such a message is
    refused malformed, but its ACK still names it)."""
    sender = encoding[:4] + _DEFAULT[len(encoding[:4]) :]
    component, repetition, esc, subcomponent = sender[0], sender[1], sender[2], sender[3]
    separators = {component: "^", repetition: "~", subcomponent: "&"}
    named = dict(zip(_SEPARATOR_ESCAPES, (field_separator, *sender), strict=True))
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        end = text.find(esc, i + 1) if char == esc else -1
        if end != -1 and _keeps(sequence := text[i + 1 : end], {*separators, field_separator}):
            out.append(escape(named[sequence]) if sequence in named else f"\\{sequence}\\")
            i = end + 1
            continue
        out.append(separators.get(char) or escape(char))
        i += 1
    # trailing empty parts say nothing (HL7 v2.5.1 section 2.5.3), and were never echoed
    return "".join(out).rstrip("^~&")


def _keeps(sequence: str, splitting: set[str]) -> bool:
    """Whether an escape sequence is one, and can be written as it is in the defaults: not
    empty, split by none of the sender's separators (``splitting``: a reader splits the
    field at them first), and holding no character the defaults read as a separator, nor a
    line break."""
    return bool(sequence) and not any(c in sequence for c in {*splitting, *"|^~\\&\r\n"})
