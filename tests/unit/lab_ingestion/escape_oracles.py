"""The escape handling of a redacted copy as it was before review 132, kept as the oracle
the linear-time versions are compared with: python-hl7's own ``unescape`` (a character at
a time, a deprecated warning per empty sequence), the hex runs read by one call per
sequence, and escapes masked sequence by sequence in a Python loop."""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection
from typing import Any

from hl7.util import unescape

from services.lab_ingestion.adapters.hl7_escapes import MAX_FORMATTING_REPEAT, UnreadableEscape
from services.lab_ingestion.adapters.hl7_pid3 import Separators
from services.lab_ingestion.adapters.scrub import REDACTED
from services.lab_ingestion.adapters.text_positions import fold_character

_REPEATING = (".sp", ".in", ".ti", ".sk")
_DEFINED_ESCAPE = re.compile(
    r"(?:[FSTREPHN]|X(?:[0-9A-Fa-f]{2})+|C[0-9A-Fa-f]{4}|M[0-9A-Fa-f]{4}(?:[0-9A-Fa-f]{2})?"
    r"|\.(?:br|fi|nf|ce)|\.(?:sp|in|ti|sk)(?:[+-]?[0-9]{1,3})?)"
)
_ESCAPE_CODE = re.compile(r"[A-Za-z.]")


def _count(text: str) -> int:
    try:
        return abs(int(text))
    except ValueError:
        return 0


def old_bounded_unescape(container: Any, text: str, *, highlight_as_nothing: bool = False) -> str:
    for sequence in text.split(container.esc)[1::2]:
        if sequence[:3] in _REPEATING and _count(sequence[3:]) > MAX_FORMATTING_REPEAT:
            raise UnreadableEscape(
                f"an HL7 formatting escape ({sequence[:3]}) repeats more than "
                f"{MAX_FORMATTING_REPEAT} times"
            )
    app_map = {"H": "", "N": ""} if highlight_as_nothing else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its logger.warn
        unescaped = str(unescape(container, text, app_map))
    if "\x00" in unescaped:
        raise UnreadableEscape("an HL7 escape decodes to a NUL character (0x00): no field has one")
    return unescaped


def old_decode_hex_runs(value: str, esc: str) -> str:
    def decode(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)
        try:
            data = bytes.fromhex("".join(h[1:] for h in match.group(0).split(esc)[1::2]))
        except ValueError:
            return match.group(0)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        return text.replace(esc, f"{esc}E{esc}")

    e = re.escape(esc)
    return re.sub(rf"(?:{e}X([0-9A-Fa-f]*){e})+|{e}[^{e}]*{e}", decode, value)


def old_masked_escapes(value: str, separators: Separators, in_hex: Collection[str] = ()) -> str:
    _, component, repetition, escape, sub = separators
    if escape not in value:
        return value
    between = "|".join(re.escape(s) for s in (component, repetition, sub))
    pieces = re.split(f"({between})", value)
    for at in range(0, len(pieces), 2):
        parts = pieces[at].split(escape)
        never_closed = len(parts) % 2 == 0
        for index in range(1, len(parts), 2):
            body = parts[index]
            if (
                (never_closed and index == len(parts) - 1)
                or not _DEFINED_ESCAPE.fullmatch(body)
                or (body[:1] in ("X", "C", "M") and any(s in body.lower() for s in in_hex))
            ):
                code = body[:1] if _ESCAPE_CODE.fullmatch(body[:1]) else ""
                parts[index] = body if body == code else code + REDACTED
        pieces[at] = escape.join(parts)
    return "".join(pieces)


def old_folded(text: str) -> tuple[str, list[int] | None]:
    """``text_positions.folded_text``: a Python step per character."""
    if text.isascii():
        return text.lower(), None
    pieces: list[str] = []
    origin: list[int] = []
    for index, character in enumerate(text):
        folded = fold_character(character)
        pieces.append(folded)
        origin += [index] * len(folded)
    return "".join(pieces), origin
