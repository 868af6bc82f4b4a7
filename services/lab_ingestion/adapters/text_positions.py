"""Where things are in a text the scrubber searches (``scrub.Scrubber``): the text folded as
it reads and where each folded character comes from, and which positions are inside a span
never to be cut (an HL7 escape sequence). Each in time linear in the text and a few C
loops, not a Python step per character or span (review 132: a megabyte of ``é`` or of
escape sequences cost 0.25-0.3 s more than plain text).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Mapping

# Searched as their usual letter: capital I with dot (whose lower case is two characters),
# dotless i, long s, sigma (lower case would make a final one); the text keeps them.
FOLDED_LETTERS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s",
                                "\u03c2": "\u03c3", "\u03a3": "\u03c3"})  # fmt: skip


# a character str.isalnum() accepts: the regular expression engine tests the same Unicode
# properties (every code point is checked in tests/unit/lab_ingestion/test_text_positions.py)
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def holds_letter_or_digit(value: str) -> bool:
    """Whether ``value`` holds a letter or digit (a character ``str.isalnum`` accepts): one
    search in C, about three times faster than a Python test of each character (every
    secret of every message is tested)."""
    return _LETTER_OR_DIGIT.search(value) is not None


@functools.lru_cache(maxsize=4096)
def fold_character(character: str) -> str:
    """One character as it reads: case folded, compatibility forms folded and decomposed
    (``ü`` is ``u`` and U+0308, as written decomposed), dotted and dotless i, long s and final
    sigma as their plain letters."""
    plain = character.translate(FOLDED_LETTERS)
    folded = unicodedata.normalize("NFKD", plain).casefold().translate(FOLDED_LETTERS)
    return unicodedata.normalize("NFKD", folded)


def strictly_inside(protected: re.Pattern[str] | None, text: str) -> Callable[[int], bool]:
    """Whether a position of ``text`` is strictly inside a span ``protected`` finds (as
    ``finditer`` finds them), so that a replacement there would cut it. Found by a split
    and the lengths of its parts, and a position looked up by bisection: a Python step per
    span made a megabyte of escape sequences cost 0.3 s (review 132)."""
    if protected is None:
        return lambda _: False
    stride = protected.groups + 2  # text, the whole span, the pattern's own groups
    parts = re.compile(f"({protected.pattern})", protected.flags).split(text)
    texts = list(map(len, parts[0::stride]))  # (the pattern's own groups may be None)
    pairs = zip(texts, map(len, parts[1::stride]), strict=False)  # the last text alone
    ends = list(
        itertools.accumulate(itertools.chain(itertools.chain.from_iterable(pairs), texts[-1:]))
    )

    def inside(position: int) -> bool:
        part = bisect.bisect_right(ends, position)  # spans are the odd parts
        return part % 2 == 1 and part < len(ends) and position > ends[part - 1]

    return inside


def folded_text(text: str) -> tuple[str, Origin | None]:
    """The text as searched (``fold_character``), and for each of its characters the index
    of the text's character it comes from (None: the same index, as in ASCII text). Each
    distinct character is folded once and the text translated, and where a folded character
    comes from is worked out only when asked (a Python step per character made a megabyte
    of ``é`` cost 0.25 s; review 132)."""
    if text.isascii():
        return text.lower(), None
    folds = {character: fold_character(character) for character in set(text)}
    folded = text.translate({ord(character): fold for character, fold in folds.items()})
    if all(len(fold) == 1 for fold in folds.values()):
        return folded, None
    return folded, Origin(text, folds)


class Origin:
    """For each character of a folded text, the index of the text's character it comes
    from: the ends of each character's folding, summed when first asked for."""

    def __init__(self, text: str, folds: Mapping[str, str]) -> None:
        self._text = text
        self._folds = folds
        self._ends: list[int] | None = None

    def __getitem__(self, position: int) -> int:
        if self._ends is None:
            self._ends = list(
                itertools.accumulate(map(len, map(self._folds.__getitem__, self._text)))
            )
        if not 0 <= position < self._ends[-1]:
            raise IndexError(position)
        return bisect.bisect_right(self._ends, position)
