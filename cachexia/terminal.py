"""What the operator commands print, made safe for a terminal.

Rejections, kept copies, message ids and sender names come from the network: anyone who
reaches the MLLP port can put ESC, BEL or a C1 control in an MSH-3 or a note, and
`cachexia rejection list` would hand them to the operator's terminal (set its title, clear
the screen, hide a line, disguise a link: review 132). Every control character but the line
feed and the tab, and the Unicode marks that reorder or hide text (bidirectional overrides and
isolates), are written as visible escapes instead (``\\x1b``, ``\\u202e``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TextIO

_C0 = [c for c in range(0x20) if chr(c) not in "\n\t"]
_C1_AND_DEL = [0x7F, *range(0x80, 0xA0)]
_REORDERING = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
_VISIBLE = {
    c: (f"\\x{c:02x}" if c <= 0xFF else f"\\u{c:04x}") for c in _C0 + _C1_AND_DEL + _REORDERING
}


def visible(text: str) -> str:
    """``text`` with each control character (but line feed and tab) and each reordering
    mark written as a visible escape."""
    return text.translate(_VISIBLE)


class TerminalSafe:
    """A text stream that writes through ``visible``; everything else is the stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(visible(text))

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


@contextlib.contextmanager
def terminal_safe_output() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` written through ``visible`` while inside."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = TerminalSafe(out), TerminalSafe(err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
