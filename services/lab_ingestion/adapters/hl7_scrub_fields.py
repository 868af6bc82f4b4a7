"""Copies of a redacted HL7 message's removed values, replaced in its remaining fields.

``hl7_redaction`` collects the secrets (names, numbers, dates, phones, addresses) and the
fields to search; this replaces each copy as a whole word in any case, through
``scrub.Scrubber`` (bounded time), a few thousand characters of fields at a time, and then
in each field holding escape sequences as it reads, so that a copy spelled with other
escapes is found too. ``masked_flags`` keeps only the codes of the abnormal flags (OBX-8).

First, the content of every escape sequence that is not one HL7 defines with a well-formed
body is masked (``hl7_escape_masks.masked_escapes``: a site's own ``\\Z..\\``...).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from services.lab_ingestion.adapters.hl7_decoded_scrub import (
    Found,
    NoFreeJoiner,
    free_joiner,
    scrub_decoded,
)
from services.lab_ingestion.adapters.hl7_escape_masks import DEFINED_ESCAPES, masked_escapes
from services.lab_ingestion.adapters.hl7_pid3 import Separators
from services.lab_ingestion.adapters.phone_numbers import phone_spans
from services.lab_ingestion.adapters.scrub import (
    MIN_DIGITS_ONLY,
    REDACTED,
    Scrubber,
)
from services.lab_ingestion.adapters.text_positions import FOLDED_LETTERS, strictly_inside
from services.lab_ingestion.domain.abnormal_flags import published_flag

Secrets = dict[str, tuple[str, str]]  # lower case -> (value, replacement)
_BATCH = 4096  # characters of fields scrubbed in one call
# a secret a hex escape's digits may spell as written (a birth date, a number, a phone)
_HEX_SECRET = re.compile(f"[0-9a-f]{{{MIN_DIGITS_ONLY},}}")


def scrub_fields(
    text: str,
    secrets: Secrets,
    scrubbed: list[tuple[list[str], int]],
    separators: Separators,
    *,
    run_in: bool = False,
    words_apart: Sequence[tuple[list[str], int]] = (),
    phones: Collection[str] = (),
) -> None:
    """Mask what escapes HL7 does not define hold (``masked_escapes``), then replace every
    copy of a secret in the ``scrubbed`` values (HL7 escapes kept whole), and of each of
    ``phones`` (digits) written in groups (``phone_spans``), then in each value that holds
    escapes, as it reads (``hl7_decoded_scrub``). ``run_in``:
    ids, where a copy run into other letters or digits is found too, and where what a
    redaction wrote (``[redacted]``, a masked number's hash) is never cut;
    ``words_apart``: more values (ids: a sender's name), scrubbed as ``scrubbed`` but where a
    name's word counts only where no letter runs on (one scrubber built for both)."""
    spelled_in_hex = [key for key in secrets if _HEX_SECRET.fullmatch(key)]
    for fields, index in (*scrubbed, *words_apart):
        fields[index] = masked_escapes(fields[index], separators, spelled_in_hex)
    escape = separators[3]
    kept = f"{re.escape(escape)}{DEFINED_ESCAPES}{re.escape(escape)}"
    if run_in:  # a number masked in an id (``#``, maybe escaped, and 12 hex digits)
        sign = f"(?:#|{re.escape(escape)}[FSTRE]{re.escape(escape)})"
        kept = f"{sign}[0-9a-f]{{12}}|HMAC:[0-9a-f]{{64}}|{re.escape(REDACTED)}|{kept}"
    protected = re.compile(kept)
    markers = _markers(text, [REDACTED, *(replacement for _, replacement in secrets.values())])
    scrubber = Scrubber(
        {value: markers.get(replacement, "") for value, replacement in secrets.values()},
        min_length=2,
        protected=protected,
        fill=True,
        run_in=run_in,
    )
    if (scrubber or phones) and "" in markers.values():
        for fields, index in (*scrubbed, *words_apart):  # adversarial: no character left
            fields[index] = REDACTED  # to mark copies with
    elif scrubber or phones:
        runs = re.compile("|".join(f"{re.escape(marker)}+" for marker in markers.values()))
        replacements = {marker: replacement for replacement, marker in markers.items()}
        # the message's own separators never part a phone's groups (an escape is never cut)
        numbers = functools.partial(
            _phones_outside, protected=protected, phones=phones, excluded="".join(separators)
        )
        for values, by in ((scrubbed, scrubber), (words_apart, scrubber.words_apart())):
            copies = functools.partial(
                _copies, scrubber=by, runs=runs, replacements=replacements, phones=numbers
            )
            _scrub_in_batches(list(values), functools.partial(_replaced, copies=copies))
            scrub_decoded(values, copies, separators)


def _phones_outside(
    text: str, *, protected: re.Pattern[str], phones: Collection[str], excluded: str
) -> list[tuple[int, int]]:
    """``phone_spans``, but those that would cut an escape sequence kept whole (a phone
    is found run into letters, so also after an escape's code letter: ``\\X0311234567\\``
    is masked whole beforehand when its digits hold the number, ``masked_escapes``)."""
    spans = phone_spans(text, phones, excluded)
    if not spans:
        return spans
    inside = strictly_inside(protected, text)
    return [(start, end) for start, end in spans if not inside(start) and not inside(end)]


def masked_flags(value: str, separators: Separators) -> str:
    """OBX-8 (abnormal flags) with every repetition, component and sub-component that is no
    flag code as written (``published_flag``: HL7 table 0078) replaced by ``REDACTED``: free
    text there may name anyone (``Meier Anna``), and so may an escape sequence (``\\Meier\\``
    reads as nothing). Codes, blanks and HL7's null ``""`` are kept as written: a copy whose
    flags are all codes still replays."""
    _, component, repetition, _, sub = separators

    def kept(piece: str) -> str:
        code = not piece.strip() or piece == '""' or published_flag(piece) is not None
        return piece if code else REDACTED

    return repetition.join(
        component.join(sub.join(map(kept, part.split(sub))) for part in item.split(component))
        for item in value.split(repetition)
    )


def _markers(text: str, replacements: Iterable[str]) -> dict[str, str]:
    """A character the message does not hold for each replacement (none when there are
    too few such characters left)."""
    used = set(text)
    free = (c for c in map(chr, range(0xE000, 0xF900)) if c not in used)  # private use
    return {replacement: next(free, "") for replacement in dict.fromkeys(replacements)}


def _copies(
    text: str,
    *,
    scrubber: Scrubber,
    runs: re.Pattern[str],
    replacements: Mapping[str, str],
    phones: Callable[[str], list[tuple[int, int]]],
) -> Found | None:
    """Where each copy of a secret is in the text, with what replaces it (None: given up
    on, nothing is kept). ``Scrubber`` searches the folded text (same length), where it
    writes the replacement's marker over each character of each copy it finds, and so is
    each phone ``phones`` finds marked, where no copy of a secret that its hash replaces
    is; the marked runs are the copies."""
    marked = scrubber(text.translate(FOLDED_LETTERS))
    if marked == REDACTED or len(marked) != len(text):  # given up on: nothing is kept
        return None
    spans = phones(text)
    if spans:
        marker = next(m for m, replacement in replacements.items() if replacement == REDACTED)
        characters = list(marked)
        for start, end in spans:
            if all(c == marker or c not in replacements for c in characters[start:end]):
                characters[start:end] = marker * (end - start)
        marked = "".join(characters)
    return [(run.start(), run.end(), replacements[run.group()[0]]) for run in runs.finditer(marked)]


def _replaced(text: str, *, copies: Callable[[str], Found | None]) -> str:
    """The text with every copy of a secret (``_copies``) replaced, its other characters
    kept; ``REDACTED`` when given up on."""
    found = copies(text)
    if found is None:
        return REDACTED
    pieces: list[str] = []
    position = 0
    for start, end, replacement in found:
        pieces += (text[position:start], replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _scrub_in_batches(values: list[tuple[list[str], int]], scrub: Callable[[str], str]) -> None:
    """Scrub the values a few thousand characters at a time: one call per value would cost
    values x secrets. A long value is a batch of its own, so that a batch the scrubber gives
    up on (replaced whole) takes no unrelated field with it."""
    batch: list[tuple[list[str], int]] = []
    size = 0
    for fields, index in values:
        length = len(fields[index]) + 1
        if batch and size + length > _BATCH:
            _scrub_batch(batch, scrub)
            batch, size = [], 0
        batch.append((fields, index))
        size += length
    if batch:
        _scrub_batch(batch, scrub)


def _scrub_batch(batch: list[tuple[list[str], int]], scrub: Callable[[str], str]) -> None:
    """The values joined by a character none holds, no letter, digit or white space
    (``free_joiner``), so that no copy, nor a phrase's white space, spans two values (review 213:
    joined by a line break, ``Bad`` ending one value and ``Homburg`` beginning the next would
    have been one copy); padded, so that the text is never too short."""
    values = [fields[index] for fields, index in batch]
    try:
        mark = free_joiner(values)
        out = scrub(f"{mark}{mark.join(values)}{mark}").split(mark)[1:-1]
    except NoFreeJoiner:  # values holding every joiner cannot be searched: given up on
        out = []
    if len(out) != len(batch):  # given up on: nothing of the batch is kept
        out = [REDACTED] * len(batch)
    for (fields, index), value in zip(batch, out, strict=True):
        fields[index] = value
