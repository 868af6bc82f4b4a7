"""What an escape sequence HL7 does not define holds, masked in a redacted copy's values.

The content of every escape sequence that is not one HL7 defines with a well-formed body is
masked: a site's own ``\\Z..\\``, a ``\\C`` or ``\\M`` that is no hex, anything else between
escape characters. Its code letter runs into the value (``\\ZMRN4711\\``), so no copy there
is a whole word, and python-hl7 reads such a sequence as nothing, so no copy is found as it
reads either; what a site defines a local escape to hold cannot be known to be harmless.

One regular expression reads a value: the text and the sequences kept as written are
matched in runs, and only a sequence to mask costs a call (a call per sequence made a
megabyte of ``\\\\`` cost 0.6 s; review 132).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection

from services.lab_ingestion.adapters.hl7_pid3 import Separators
from services.lab_ingestion.adapters.scrub import REDACTED

# The escape sequences HL7 defines, with a well-formed body (v2.5.1 section 2.7; \P\,
# truncation, from v2.7): separators and the escape character, highlighting, the formatting
# commands, those that take one with a count of at most three digits (more is refused when
# a value is read: ``hl7_escapes.MAX_FORMATTING_REPEAT``), and hex bytes in pairs, the
# character set switches \Cxxyy\ and \Mxxyy\ or \Mxxyyzz\ (hex): those a secret's digits may
# spell (``_CODED``). Kept as written, and never broken by a replacement; any other
# sequence's content is masked.
_PLAIN = r"[FSTREPHN]|\.(?:br|fi|nf|ce)|\.(?:sp|in|ti|sk)(?:[+-]?[0-9]{1,3})?"
_CODED = r"X(?:[0-9A-Fa-f]{2})+|C[0-9A-Fa-f]{4}|M[0-9A-Fa-f]{4}(?:[0-9A-Fa-f]{2})?"
DEFINED_ESCAPES = f"(?:{_PLAIN}|{_CODED})"


def masked_escapes(value: str, separators: Separators, in_hex: Collection[str] = ()) -> str:
    """``value`` with the content of every escape sequence that is not one HL7 defines with a
    well-formed body (``DEFINED_ESCAPES``) replaced by ``REDACTED``, after its code letter
    (``\\ZMRN4711\\`` as ``\\Z[redacted]\\``, ``\\X0\\`` as ``\\X[redacted]\\``),
    of one never closed, whatever it is, and of a hex one whose digits hold a secret of
    ``in_hex`` as written (``\\X19510317\\``: lower case, hex digits only). Sequences are
    read within each component and subcomponent, as the parser reads them: the separators
    stay where they were, so the copy reads as the message did (python-hl7 reads a sequence
    it does not define as nothing). A sequence that is only its code letter (``\\Z\\``,
    ``\\\\``) holds nothing and is kept."""
    escape = separators[3]
    if escape not in value:
        return value
    pattern, kept_only = _sequences(separators, _spelled(in_hex))
    if kept_only.fullmatch(value):
        return value
    # text, then (a run of kept sequences | a masked one's escape and code letter, and its
    # closing escape character): each None where that alternative did not match
    parts: list[str | None] = pattern.split(value)
    opened = {start: start + REDACTED for start in set(parts[2::4]) if start}
    parts[2::4] = [start and opened[start] for start in parts[2::4]]
    return "".join(filter(None, parts))


def _spelled(in_hex: Collection[str]) -> str:
    """A pattern matching any secret of ``in_hex`` in a sequence's body, in any case."""
    return "|".join(re.escape(secret) for secret in sorted(in_hex, key=len, reverse=True))


@functools.lru_cache(maxsize=16)  # the separators are the sender's: a bounded cache
def _sequences(separators: Separators, spelled: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A pattern matching either a run of sequences kept as written (group 1) or a sequence
    to mask (its escape character and code letter, group 2, and its closing escape
    character, group 3, around the body's rest); and one matching a value with none to mask.
    Kept: a defined sequence (a hex one or character set switch only when it holds none of
    the secrets ``spelled``, a pattern, in any case), one that is only its code letter (or
    nothing), closed or not. Escape characters are paired left to right within each
    component and subcomponent, as python-hl7 pairs them: a separator ends a sequence never
    closed. Every escape character a sequence opens with starts a match, so a split by the
    pattern pairs them so too, and masks without a call per sequence (a call each made a
    megabyte of ``\\Z1\\`` cost 0.2 s)."""
    _, component, repetition, escape, sub = separators
    e = re.escape(escape)
    between = "".join(re.escape(s) for s in (component, repetition, sub))
    stops = e + between
    coded = f"(?!(?i:[^{stops}]*?(?:{spelled})))(?:{_CODED})" if spelled else _CODED
    closed = rf"{e}(?=[^{stops}]*+{e})(?:{_PLAIN}|{coded}|[A-Za-z.]?){e}"
    bare = rf"{e}[A-Za-z.]?(?![^{between}])"  # never closed, its code letter at most
    masked = rf"({e}[A-Za-z.]?)[^{stops}]++({e})?"  # tried after the kept ones
    kept_only = re.compile(rf"(?:[^{e}]++|{closed}|{bare})*+")
    return re.compile(rf"((?:{closed}|{bare})++)|{masked}"), kept_only
