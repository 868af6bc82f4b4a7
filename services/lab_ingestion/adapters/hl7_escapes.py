"""python-hl7's unescaping, bounded.

HL7's formatting escapes repeat a character: ``\\.sp5\\`` is five line breaks, ``\\.in4\\``
an indent of four. python-hl7 expands any count, so 15 bytes (``\\.in50000000\\``) became
200 million characters; a larger count would exhaust memory before anything could answer.
No field this service reads needs more than a page of them.

python-hl7's own ``unescape`` reads a value a character at a time and, for every empty
escape sequence (``\\\\``), calls a deprecated ``logger.warn`` (a warning each time, even with
its logger off): a megabyte of backslashes in a note took 1.2 s (review 132). ``_unescape``
reads the same, sequence by sequence.

HL7's highlighting escapes (``\\H\\`` start, ``\\N\\`` normal text) mark how a value is
shown and stand for no character; python-hl7 reads each as ``_``, so a critical count sent
in bold, ``\\H\\0.3\\N\\``, read ``_0.3_``. A trial result's value reads them as nothing
(``highlight_as_nothing``); every other field reads them as before (in PID-3, ``123\\H\\45``
read as 12345 could be another patient's number).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

MAX_FORMATTING_REPEAT = 100
# python-hl7 repeats what these stand for as often as their count says (``\\.br5\\`` is five
# line breaks): every formatting escape but .fi and .nf (nothing)
_REPEATING = (".sp", ".in", ".ti", ".sk", ".br", ".ce")
_HIGHLIGHT_AS_NOTHING: Final = MappingProxyType({"H": "", "N": ""})


class UnreadableEscape(ValueError):
    """An escape the message cannot be read with: a formatting escape asking for more than
    MAX_FORMATTING_REPEAT repetitions, one that decodes to a NUL character, or, in a field
    read strictly (``check_defined_escapes``), one HL7 does not define."""


def bounded_unescape(container: Any, text: str, *, highlight_as_nothing: bool = False) -> str:
    """``hl7.util.unescape`` of ``text`` (in ``container``'s separators), refusing a
    formatting escape repeated more than MAX_FORMATTING_REPEAT times and a NUL.
    ``highlight_as_nothing``: ``\\H\\`` and ``\\N\\`` read as nothing, not ``_``."""
    for sequence in dict.fromkeys(text.split(container.esc)[1::2]):  # each once, in order
        if sequence[:3] in _REPEATING and _count(sequence[3:]) > MAX_FORMATTING_REPEAT:
            raise UnreadableEscape(
                f"an HL7 formatting escape ({sequence[:3]}) repeats more than "
                f"{MAX_FORMATTING_REPEAT} times"
            )
    app_map = dict(_HIGHLIGHT_AS_NOTHING) if highlight_as_nothing else None
    unescaped = _unescape(container, str(text), app_map)
    if "\x00" in unescaped:  # the raw-byte check cannot see \X00\; PostgreSQL's text refuses it
        raise UnreadableEscape("an HL7 escape decodes to a NUL character (0x00): no field has one")
    return unescaped


def _unescape(container: Any, text: str, app_map: Mapping[str, str] | None) -> str:
    """What ``hl7.util.unescape(container, text, app_map)`` returns, or the ValueError it
    raises (a formatting escape's count that is no number), in time linear in the text: the
    text between escape characters is kept, each closed sequence replaced by what it stands
    for (``_sequence``), one never closed dropped."""
    esc = container.esc
    if not text or esc not in text:
        return text
    parts = text.split(esc)
    if len(parts) % 2 == 0:
        parts.pop()  # a sequence never closed (python-hl7 drops it)
    known = _known(tuple(container.separators), esc)
    read = {body: _sequence(body, known, app_map) for body in set(parts[1::2])}
    parts[1::2] = [read[body] for body in parts[1::2]]
    return "".join(parts)


@functools.lru_cache(maxsize=8)  # the separators are the sender's: a bounded cache
def _known(separators: tuple[str, ...], esc: str) -> Mapping[str, str]:
    """python-hl7's ``DEFAULT_MAP``: what each escape it knows stands for."""
    field, repetition, component, sub = separators[1:5]
    return MappingProxyType(
        {"H": "_", "N": "_", "F": field, "R": repetition, "S": component, "T": sub, "E": esc}
        | {".br": "\r", ".sp": "\r", ".fi": "", ".nf": "", ".in": "    ", ".ti": "    "}
        | {".sk": " ", ".ce": "\r"}
    )


def _sequence(body: str, known: Mapping[str, str], app_map: Mapping[str, str] | None) -> str:
    """An escape sequence's body read as python-hl7 reads it (its branches in its order):
    the application's map, then the escapes it knows, a formatting escape with a count,
    a hex one (pairs of digits, up to the first pair that is none); nothing for any other
    (an empty one, a character set switch, one it does not know)."""
    if not body:
        return ""
    if app_map and body in app_map:
        return app_map[body]
    if body in known:
        return known[body]
    head = body[:3]
    if body[0] == "." and ((app_map and head in app_map) or head in known):
        character = app_map[head] if app_map and head in app_map else known[head]
        count = _signed_count(body[3:])
        if count is None:  # python-hl7's own error, said as what it is (``\.in:\``)
            raise UnreadableEscape(
                f"an HL7 formatting escape ({head}) has a count that is no number"
            )
        return character * count
    if body[0] != "X":
        return ""
    digits, read = body[1:], []
    for offset in range(0, len(digits), 2):
        try:
            read.append(chr(int(digits[offset : offset + 2], 16)))
        except ValueError:  # no hex digits (or a sign): python-hl7 keeps what it read
            break
    return "".join(read)


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
    """A formatting escape's count as python-hl7 reads it, without its sign; 0 for no number
    (python-hl7 raises on it: the caller answers)."""
    count = _signed_count(text)
    return 0 if count is None else abs(count)


def _signed_count(text: str) -> int | None:
    """``int(text)`` (python-hl7's reading), None where it is no number; a count of more
    digits than Python reads (4,300) as what its digits say, one of more than three
    significant digits as one over ``MAX_FORMATTING_REPEAT`` (review 213: ``\\.sp999...\\``
    was refused as "a count that is no number")."""
    try:
        return int(text)
    except ValueError:
        digits = _DIGITS.fullmatch(text)
        if digits is None:
            return None
        sign = -1 if digits.group(1) == "-" else 1
        significant = digits.group(2).lstrip("0")
        return sign * (MAX_FORMATTING_REPEAT + 1 if len(significant) > 3 else int(significant or 0))


_DIGITS = re.compile(r"\s*([+-]?)([0-9]+)\s*", re.ASCII)  # a count however long


def decode_hex_runs(value: str, esc: str) -> str:
    """Runs of ``\\X..\\`` escapes decoded as UTF-8 (latin-1 if they are not UTF-8), the other
    escapes left for python-hl7; an escape character in the result is re-escaped. Read by
    a split, each distinct run decoded once: a call per sequence made a megabyte of
    ``\\X`` cost 0.5 s (review 132)."""
    if f"{esc}X" not in value:
        return value
    # text, then (a hex run | other sequences): each None where that one did not match
    parts: list[str | None] = _hex_runs(esc).split(value)
    decoded = {run: _decoded_run(run, esc) for run in set(parts[1::3]) if run is not None}
    parts[1::3] = [run and decoded[run] for run in parts[1::3]]
    return "".join(filter(None, parts))


def _decoded_run(run: str, esc: str) -> str:
    """A run of hex escapes as UTF-8 text (else latin-1), as written if its digits are no
    pairs."""
    try:
        data = bytes.fromhex("".join(h[1:] for h in run.split(esc)[1::2]))
    except ValueError:
        return run
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.replace(esc, f"{esc}E{esc}")


@functools.lru_cache(maxsize=8)  # the escape character is the sender's: a bounded cache
def _hex_runs(esc: str) -> re.Pattern[str]:
    """A run of hex escapes (group 1) or of other sequences (group 2): escape characters
    paired left to right, as python-hl7 pairs them (every sequence starts a match)."""
    e = re.escape(esc)
    others = rf"(?:{e}(?!X[0-9A-Fa-f]*{e})[^{e}]*+{e})++"
    return re.compile(rf"((?:{e}X[0-9A-Fa-f]*{e})+)|({others})")
