"""python-hl7's unescaping, bounded.

HL7's formatting escapes repeat a character: ``\\.sp5\\`` is five line breaks, ``\\.in4\\``
an indent of four. python-hl7 expands any count, so 15 bytes (``\\.in50000000\\``) became
200 million characters; a larger count would exhaust memory before anything could answer.
No field this service reads needs more than a page of them.

HL7's highlighting escapes (``\\H\\`` start, ``\\N\\`` normal text) mark how a value is
shown and stand for no character; python-hl7 reads each as ``_``, so a critical count sent
in bold, ``\\H\\0.3\\N\\``, read ``_0.3_``. A trial result's value reads them as nothing
(``highlight_as_nothing``); every other field reads them as before (in PID-3, ``123\\H\\45``
read as 12345 could be another patient's number).
"""

from __future__ import annotations

import functools
import re
from types import MappingProxyType
from typing import Any, Final

from hl7.util import unescape

MAX_FORMATTING_REPEAT = 100
_REPEATING = (".sp", ".in", ".ti", ".sk")
_HIGHLIGHT_AS_NOTHING: Final = MappingProxyType({"H": "", "N": ""})


class UnreadableEscape(ValueError):
    """An escape the message cannot be read with: a formatting escape asking for more than
    MAX_FORMATTING_REPEAT repetitions, one that decodes to a NUL character, or, in a field
    read strictly (``check_defined_escapes``), one HL7 does not define."""


def bounded_unescape(container: Any, text: str, *, highlight_as_nothing: bool = False) -> str:
    """``hl7.util.unescape`` of ``text`` (in ``container``'s separators), refusing a
    formatting escape repeated more than MAX_FORMATTING_REPEAT times and a NUL.
    ``highlight_as_nothing``: ``\\H\\`` and ``\\N\\`` read as nothing, not ``_``."""
    for sequence in text.split(container.esc)[1::2]:  # inside escape characters
        if sequence[:3] in _REPEATING and _count(sequence[3:]) > MAX_FORMATTING_REPEAT:
            raise UnreadableEscape(
                f"an HL7 formatting escape ({sequence[:3]}) repeats more than "
                f"{MAX_FORMATTING_REPEAT} times"
            )
    app_map = dict(_HIGHLIGHT_AS_NOTHING) if highlight_as_nothing else None
    unescaped = str(unescape(container, text, app_map))
    if "\x00" in unescaped:  # the raw-byte check cannot see \X00\; PostgreSQL's text refuses it
        raise UnreadableEscape("an HL7 escape decodes to a NUL character (0x00): no field has one")
    return unescaped


# HL7 v2 (2.7) escapes python-hl7 reads as what they stand for: a separator or the escape
# character, highlighting, hex bytes, and formatting commands (a count's size is checked by
# bounded_unescape)
_DEFINED_ESCAPE = re.compile(
    r"[FSTREHN]|X(?:[0-9A-Fa-f]{2})+|\.(?:br|fi|nf|ce)|\.(?:sp|in|ti|sk)(?:[+-]?[0-9]+)?"
)


def check_defined_escapes(text: str, esc: str, where: str) -> None:
    """Raise UnreadableEscape unless every escape sequence in ``text`` is one HL7 defines and
    python-hl7 reads as something. python-hl7 drops any other (an empty one, one never
    closed, a hex one that is no hex, a character set switch, an escape HL7 does not define)
    and only logs it, and reads some formatting escapes as nothing (``\\.fi\\``,
    ``\\.nf\\``, a count of 0 or less: ``\\.in-2\\``), so the characters around it were
    joined or cut: ``1\\Q\\2.5`` and ``1\\.fi\\2.5`` read as 12.5, ``1\\2.5`` as 1. The
    reason names ``where`` (``OBX-5``) and what is wrong, never the text (a field may hold
    anything)."""
    parts = text.split(esc)
    if len(parts) % 2 == 0:
        raise UnreadableEscape(_unreadable(where, "an escape sequence never closed"))
    for sequence in parts[1::2]:
        if not sequence:
            raise UnreadableEscape(_unreadable(where, "an empty escape sequence"))
        if not _DEFINED_ESCAPE.fullmatch(sequence):
            raise UnreadableEscape(_unreadable(where, _KINDS.get(sequence[0], _UNDEFINED)))
        if _READS_AS_NOTHING.fullmatch(sequence):
            raise UnreadableEscape(_unreadable(where, "a formatting escape that reads as nothing"))


# formatting escapes python-hl7 reads as "": the characters on either side are joined
_READS_AS_NOTHING = re.compile(r"\.(?:fi|nf)|\.(?:sp|in|ti|sk)(?:-[0-9]+|\+?0+)")


_KINDS = {
    "X": "a hex escape that is no pairs of hex digits",
    "C": "a character set switch escape",
    "M": "a character set switch escape",
}
_UNDEFINED = "an escape sequence HL7 does not define"


def _unreadable(where: str, what: str) -> str:
    """The reason (it fits MSA-3's 80 characters)."""
    return f"{where} holds {what}: it cannot be read"


def _count(text: str) -> int:
    try:
        return abs(int(text))  # as python-hl7 reads it
    except ValueError:
        return 0  # python-hl7 raises on it: the caller's guard answers that


def decode_hex_runs(value: str, esc: str) -> str:
    """Runs of ``\\X..\\`` escapes decoded as UTF-8 (latin-1 if they are not UTF-8), the other
    escapes left for python-hl7; an escape character in the result is re-escaped."""

    def decode(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)  # another escape sequence
        try:
            data = bytes.fromhex("".join(h[1:] for h in match.group(0).split(esc)[1::2]))
        except ValueError:
            return match.group(0)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        return text.replace(esc, f"{esc}E{esc}")

    return _hex_runs(esc).sub(decode, value)


@functools.lru_cache(maxsize=8)  # the escape character is the sender's: a bounded cache
def _hex_runs(esc: str) -> re.Pattern[str]:
    e = re.escape(esc)
    return re.compile(rf"(?:{e}X([0-9A-Fa-f]*){e})+|{e}[^{e}]*{e}")
