"""Where a secret's copies are in a text the scrubber searches (``scrub.Scrubber``): a secret
of one word by ``str.find``; one of several words (a place ``Bad Homburg``, a street line
``Gartenweg 12``, a name ``DOE JOHN``) with any run of white space between its words, as
text is written and read: two blanks, a tab, a line break (``Bad\\nHomburg`` in JSON), a
no-break space, HL7's formatted-text line break or indent as they read (``Bad\\.br\\Homburg``
reads ``Bad`` CR ``Homburg``). Review 213: only one blank or a hyphen was searched for, and a
note's ``Bad\\.br\\Homburg`` or ``Bad  Homburg`` kept the patient's city.

A phrase is one pattern of its own, its words literal and parted by ``\\s++`` (possessive:
no backtracking), so it is found in time linear in the text, as ``str.find`` finds a word;
never one pattern of all secrets (alternation backtracks on adversarial text). What counts
as white space is ``str.isspace``'s (Unicode White_Space and the ASCII separators
``\\x1c``-``\\x1f``): never a letter, digit or HL7 separator, nor the characters callers
join values with (controls that are no white space: ``hl7_decoded_scrub.free_joiner``), so
that no phrase runs from one value into the next.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

MAX_PHRASE_WORDS = 12  # a place, a street line, a name; longer is searched as written


def canonical(folded: str) -> str:
    """A secret as searched: each run of white space one blank (``bad  homburg`` is
    ``bad homburg``: one secret, one search), unless it is more than ``MAX_PHRASE_WORDS``
    words; a run at either end is kept as one blank, never dropped (a cedilla, U+00B8, folds to
    a blank and a combining cedilla: dropping the blank searched for half a character, and
    U+00B8 00 was never found)."""
    if not _WHITE_SPACE.search(folded) or len(folded.split()) > MAX_PHRASE_WORDS:
        return folded
    return _WHITE_SPACE_RUN.sub(" ", folded)


def phrase_pattern(needle: str) -> re.Pattern[str] | None:
    """The pattern of a secret of several words (a ``canonical`` one), any run of white space
    between its words; None for a secret of one word, or of more than ``MAX_PHRASE_WORDS``
    (searched with ``str.find`` as written: a try of each copy of its first word costs its
    words, and a name of 150,000 words made a note's search quadratic)."""
    if " " not in needle or needle.count(" ") >= MAX_PHRASE_WORDS:
        return None
    return _pattern(needle)


@functools.lru_cache(maxsize=4096)  # a patient's places and lines, met again in each batch
def _pattern(needle: str) -> re.Pattern[str]:
    """Its words literal, any run of white space between them; a blank at either end one
    white-space character, as written (it is part of a folded character: U+00B8)."""
    words = needle.split(" ")
    lead, trail = words[0] == "", words[-1] == ""
    inner = r"\s++".join(map(re.escape, words[lead : len(words) - trail]))
    return re.compile(("\\s" if lead else "") + inner + ("\\s" if trail else ""))


def occurrences(
    needle: str, phrase: re.Pattern[str] | None, text: str
) -> Iterator[tuple[int, int]]:
    """Where each copy of ``needle`` begins and ends in ``text`` (overlapping ones too), with
    ``phrase`` (``phrase_pattern``) when it is several words."""
    if phrase is None:
        found = text.find(needle)
        while found != -1:
            yield found, found + len(needle)
            found = text.find(needle, found + 1)
        return
    match = phrase.search(text)
    while match is not None:
        yield match.start(), match.end()
        match = phrase.search(text, match.start() + 1)


_WHITE_SPACE = re.compile(r"\s")
_WHITE_SPACE_RUN = re.compile(r"\s+")
