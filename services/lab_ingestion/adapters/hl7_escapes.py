"""python-hl7's unescaping, bounded.

HL7's formatting escapes repeat a character: ``\\.sp5\\`` is five line breaks, ``\\.in4\\``
an indent of four. python-hl7 expands any count, so 15 bytes (``\\.in50000000\\``) became
200 million characters; a larger count would exhaust memory before anything could answer.
No field this service reads needs more than a page of them.
"""

from __future__ import annotations

from typing import Any

from hl7.util import unescape

MAX_FORMATTING_REPEAT = 100
_REPEATING = (".sp", ".in", ".ti", ".sk")


class OversizedEscape(ValueError):
    """A formatting escape asks for more than MAX_FORMATTING_REPEAT repetitions."""


def bounded_unescape(container: Any, text: str) -> str:
    """``hl7.util.unescape`` of ``text`` (in ``container``'s separators), refusing a
    formatting escape repeated more than MAX_FORMATTING_REPEAT times."""
    for sequence in text.split(container.esc)[1::2]:  # inside escape characters
        if sequence[:3] in _REPEATING and _count(sequence[3:]) > MAX_FORMATTING_REPEAT:
            raise OversizedEscape(
                f"an HL7 formatting escape ({sequence[:3]}) repeats more than "
                f"{MAX_FORMATTING_REPEAT} times"
            )
    return str(unescape(container, text))


def _count(text: str) -> int:
    try:
        return abs(int(text))  # as python-hl7 reads it
    except ValueError:
        return 0  # python-hl7 raises on it: the caller's guard answers that
