"""Copies of removed personal values inside free text, replaced in bounded time.

A redaction removes names, identifiers, birth dates, phones and addresses from their own
fields; each removed value is also a secret whose copies elsewhere (a note, a narrative, an
NTE segment) must go. Secrets are matched as whole words (no letter or digit right before or
after), ignoring case: a name "Rubin" does not hit "Bilirubin", a postal code does not hit a
value or a timestamp. Numbers of fewer than six digits are everyday values (house numbers,
postal codes, results) and are not searched for; their own fields are blanked all the same.

Every redactor searches a birth date in the same spellings (``date_spellings``), and a
street line also by its words (``street_words``). A date written ``YYYYMMDD`` or
``YYYY-MM-DD`` is also found as the date of a timestamp (``195103170800``,
``1951-03-17T08:00``): a birth date put in a time field.

Text is compared as it reads: case folded (``STRAUSS`` is ``Strauß``), compatibility forms
folded (full-width letters), and a letter written with a combining accent (``u`` and U+0308)
the same as the accented letter (``ü``); an accent is never dropped (``Muller`` is not
``Müller``).

Each secret is found with ``str.find`` (linear in the text), one of several words with any
run of white space between them by a pattern of its own (``phrases``: linear too), never
with one regular expression of all of them, which backtracks quadratically on adversarial
input. A string
that would need more work than ``MAX_CANDIDATES`` occurrences to check is replaced whole:
the time stays bounded and nothing personal is kept.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping

from services.lab_ingestion.adapters.phrases import canonical, occurrences, phrase_pattern
from services.lab_ingestion.adapters.text_positions import (
    Origin,
    folded_text,
    holds_letter_or_digit,
    strictly_inside,
)
from services.lab_ingestion.adapters.word_dates import Date, date_spans

REDACTED = "[redacted]"
MIN_LENGTH = 3
MIN_DIGITS_ONLY = 6
MAX_SECRETS = 320  # a patient's few dozen spellings and words, and many other people's
MAX_CANDIDATES = 20_000

Span = tuple[int, int, str]
Span2 = tuple[int, int]


class Scrubber:
    """Replaces every whole-word copy of a secret (``secret -> replacement``) in a string."""

    def __init__(
        self,
        replacements: Mapping[str, str],
        *,
        min_length: int = MIN_LENGTH,
        protected: re.Pattern[str] | None = None,
        fill: bool = False,
        run_in: bool = False,
        words_run_in: bool = True,
        numbers: Collection[str] = (),
    ) -> None:
        """``protected``: spans (HL7 escape sequences) a match may hold whole but never cut.
        ``fill``: each replacement is one character, written over every character of the
        copy (whose length may differ from the secret's: ``ß`` for ``SS``). ``run_in``: a
        copy is found run into letters or digits too (``ROE19510317``), for ids only
        (``run_in_secrets``): in free text that would cut words and units;
        ``words_run_in=False``: a secret with a letter in it (a name's word) is found in an
        id where no letter runs on only (``JOHN2`` but not ``STJOHNS``: a sender's name,
        whose everyday words hold names). ``numbers``:
        secrets (a phone's digits) also found run into letters, never into digits
        (``Tel0311234567``): letters never extend a number."""
        kept: dict[str, str] = {}
        for secret, replacement in replacements.items():
            value = secret.strip()
            if _worth_searching(value, min_length):
                kept.setdefault(value, replacement)
        needles: dict[str, tuple[str, int]] = {}  # a phrase of several words as one
        for value, replacement in kept.items():
            needle = canonical(folded_text(value)[0])
            needles.setdefault(needle, (replacement, _kind(value, numbers)))
        self._secrets = sorted(
            ((needle, replacement, kind, phrase_pattern(needle))
             for needle, (replacement, kind) in needles.items()),
            key=lambda item: len(item[0]), reverse=True,
        )  # fmt: skip
        # a birth date (as YYYYMMDD among the secrets) is also found with its month in words
        self._dates: dict[Date, str] = {}
        for value, replacement in kept.items():
            if len(value) == 8 and _DATE.fullmatch(value):
                date = (int(value[:4]), int(value[4:6]), int(value[6:]))
                self._dates.setdefault(date, replacement)
        self._too_many = len(self._secrets) > MAX_SECRETS
        self._protected = protected  # spans never touched (HL7 escape sequences)
        self._fill = fill
        self._run_in = run_in
        self._words_run_in = words_run_in
        self._min_length = min_length

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def words_apart(self) -> Scrubber:
        """This scrubber with ``words_run_in=False`` (its secrets prepared once for both)."""
        apart = copy.copy(self)
        apart._words_run_in = False
        return apart

    def __call__(self, text: str) -> str:
        if not self._secrets or len(text) < self._min_length:
            return text
        if self._too_many:
            return REDACTED
        spans = self._spans(text)
        if spans is None:
            return REDACTED
        return _replaced(text, spans)

    def _spans(self, text: str) -> list[Span] | None:
        folded, origin = folded_text(text)
        taken = bytearray(len(text))  # characters already replaced
        inside: Callable[[int], bool] | None = None  # found only when a copy may be
        spans: list[Span] = []
        budget = MAX_CANDIDATES
        for found, found_end, replacement, kind in self._candidates(folded):
            budget -= 1
            if budget < 0:
                return None
            span = _original_span(folded, origin, found, found_end)
            if span is None:
                continue
            start, end = span
            # a copy may hold a whole escape sequence (M\XFC\LLER), never cut one
            if inside is None:  # most texts hold no copy
                inside = strictly_inside(self._protected, text)
            cuts = inside(start) or inside(end)
            if not cuts and self._found(text, start, end, kind) and not any(taken[start:end]):
                spans.append((start, end, self._replacement(replacement, end - start)))
                taken[start:end] = b"\x01" * (end - start)
        return spans

    def _candidates(self, folded: str) -> Iterator[tuple[int, int, str, int]]:
        """Where in the folded text a copy may be: (start, end, replacement, ``_kind``). A
        birth date with its month in words first (``word_dates``), so that a word of one
        that is also a name ("Mai") leaves none of the date; then each secret, longest
        first."""
        for start, end, date in date_spans(folded, self._dates):
            yield start, end, self._dates[date], _WORD_DATE
        for needle, replacement, kind, phrase in self._secrets:
            for start, end in occurrences(needle, phrase, folded):  # (``phrases``)
                yield start, end, replacement, kind

    def _found(self, text: str, start: int, end: int, kind: int) -> bool:
        """Whether a copy at ``text[start:end]`` counts: a whole word; in an id run into
        anything (a date with a short part, in six digits or in words, not into digits:
        ``_runs_in``);
        one of ``numbers``, also run into letters; a date, also as a timestamp's (``_dated``)."""
        if kind == _WORD_DATE:
            return (_digits_bounded if self._run_in else _whole_word)(text, start, end)
        return (
            (self._run_in and _runs_in(kind, text, start, end, words=self._words_run_in))
            or _whole_word(text, start, end)
            or (kind == _NUMBER and _digits_bounded(text, start, end))
            or (kind == _TIMESTAMP_DATE and _dated(text, start, end))
        )

    def _replacement(self, replacement: str, length: int) -> str:
        return replacement * length if self._fill else replacement


def _worth_searching(value: str, min_length: int) -> bool:
    if len(value) < min_length or not holds_letter_or_digit(value):
        return False
    return not (value.isdigit() and len(value) < MIN_DIGITS_ONLY)


def _original_span(folded: str, origin: Origin | None, start: int, end: int) -> Span2 | None:
    """Where a copy found at ``folded[start:end]`` stands in the text; None when it begins
    or ends inside a character (the first ``s`` of ``ß``) or before an accent of its last
    letter (``Jose`` in ``José``)."""
    if end < len(folded) and unicodedata.combining(folded[end]):
        return None
    if origin is None:
        return start, end
    if start > 0 and origin[start - 1] == origin[start]:
        return None
    if end < len(folded) and origin[end] == origin[end - 1]:
        return None
    return origin[start], origin[end - 1] + 1


# a date as written in a timestamp's date part: YYYYMMDD (HL7) or YYYY-MM-DD (ISO 8601)
_DATE = re.compile(
    r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"|(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])",
    re.ASCII,
)
_TIME_AFTER_DATE = re.compile(r"\d|T\d", re.ASCII)
# a date with a one-digit day or month, or a two-digit year (D.M.YYYY, DD.MM.YY, D.M.YY)
_SHORT_DATE_SPELLING = re.compile(r"\d\d?\.\d\d?\.\d\d(?:\d\d)?", re.ASCII)
_LONG_DATE_SPELLING = re.compile(r"\d\d\.\d\d\.\d{4}")  # DD.MM.YYYY

# what a secret is, for where its copies are found (``_kind``)
_TEXT, _NUMBER, _TIMESTAMP_DATE, _SHORT_DATE, _WORD_DATE, _SIX_DIGITS, _LETTERS = range(7)


def _kind(value: str, numbers: Collection[str]) -> int:
    """A date a timestamp may begin with (``_DATE``), a date of ``_SHORT_DATE_SPELLING``
    that is not DD.MM.YYYY, one of ``numbers`` (ASCII digits only), six other digits (a
    six-digit date spelling), text with a letter (a name's word), or any other text."""
    if _DATE.fullmatch(value):
        return _TIMESTAMP_DATE
    if _SHORT_DATE_SPELLING.fullmatch(value) and not _LONG_DATE_SPELLING.fullmatch(value):
        return _SHORT_DATE
    if not (value.isascii() and value.isdigit()):
        return _LETTERS if any(c.isalpha() for c in value) else _TEXT
    if value in numbers:
        return _NUMBER
    return _SIX_DIGITS if len(value) == MIN_DIGITS_ONLY else _TEXT


def _runs_in(kind: int, text: str, start: int, end: int, *, words: bool) -> bool:
    """Whether a copy run into an id counts: a date with a short part where no digit or
    its own separator and a digit runs on (``_date_bounded``); six digits (DDMMYY, YYMMDD,
    MMDDYY) where no digit runs on (``LIS140258``, ``X-140258``), never inside a longer
    run of digits: a time of day in a timestamp-built order number (``20261120140258``:
    14:02:58) reads as a DDMMYY date one time in five, some patient's birth date often
    enough, and an id so cut would not replay (review 128). A name's word (``_LETTERS``)
    anywhere, or where no letter runs on unless ``words`` (a sender's name). Anything else
    anywhere: an eight-digit date inside digits too (``X195103170``, an id built of a
    number and the birth date, ``4711819510317``), as a valid eight-digit date of the
    patient's is a hundred times rarer by chance than six digits, and ids are built of
    birth dates so; a copy so cut is answered "resend", never kept to replay
    (``unprocessable``)."""
    if kind == _LETTERS and not words:
        return not (start > 0 and text[start - 1].isalpha()) and not (
            end < len(text) and text[end].isalpha()
        )
    if kind == _SHORT_DATE:
        return _date_bounded(text, start, end)
    if kind == _SIX_DIGITS:
        return _digits_bounded(text, start, end)
    return True


def _digits_bounded(text: str, start: int, end: int) -> bool:
    """No digit runs on across either end: a number run into letters (``Tel0311234567``,
    ``MRN4711815``) is the number, run into digits it is another."""
    return not (start > 0 and text[start - 1].isdigit()) and not (
        end < len(text) and text[end].isdigit()
    )


def _date_bounded(text: str, start: int, end: int) -> bool:
    """A date with a short part run into an id: run into letters or other separators
    (``DOE4.2.1958``, ``MSG-4.2.58-01``), never into digits, nor into its own separator
    and a digit, where it is part of another date or number (``14.2.1958`` holds
    ``4.2.1958``, ``1.4.2.58``)."""
    if not _digits_bounded(text, start, end):
        return False
    separator = text[start + 1 : end].lstrip("0123456789")[:1]
    before = start > 1 and text[start - 1] == separator and text[start - 2].isdigit()
    after = end + 1 < len(text) and text[end] == separator and text[end + 1].isdigit()
    return not before and not after


def _dated(text: str, start: int, end: int) -> bool:
    """A date that begins a word and runs on into a time of day (``195103170800``,
    ``1951-03-17T08:00``): the date of a timestamp."""
    begins = start == 0 or not text[start - 1].isalnum()
    return begins and _TIME_AFTER_DATE.match(text, end) is not None


def _whole_word(text: str, start: int, end: int) -> bool:
    """No letter or digit runs on across either end (an end that is punctuation itself,
    as in "-AA", needs no boundary there)."""
    runs_in = start > 0 and text[start].isalnum() and text[start - 1].isalnum()
    runs_out = end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
    return not runs_in and not runs_out


def _replaced(text: str, spans: list[Span]) -> str:
    if not spans:
        return text
    parts: list[str] = []
    position = 0
    for start, end, replacement in sorted(spans):
        parts.append(text[position:start])
        parts.append(replacement)
        position = end
    parts.append(text[position:])
    return "".join(parts)
