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

from services.lab_ingestion.adapters.hl7_escape_masks import DEFINED_ESCAPES, masked_escapes
from services.lab_ingestion.adapters.hl7_pid3 import Separators, decoded_text, escaped_text
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
    escapes, as it reads (``_scrub_decoded``). ``run_in``:
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
            scrub = functools.partial(
                _replaced, scrubber=by, runs=runs, replacements=replacements, phones=numbers
            )
            _scrub_in_batches(list(values), scrub)
            _scrub_decoded(list(values), scrub, separators)


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


def _scrub_decoded(
    values: list[tuple[list[str], int]], scrub: Callable[[str], str], separators: Separators
) -> None:
    """A copy spelled with other escapes (``M\\XC3BC\\LLER`` for MÜLLER, a number written
    in hex) is found in each piece of a value (a repetition's component's sub-component)
    that holds escapes, as it reads; a piece where one is found is written again, escaped,
    and the value's separators are kept where they were (review 199: a whole field read
    and escaped again ran OBX-3's components into one, ``1988-5\\S\\CRP [redacted]\\S\\LN``,
    and the copy did not replay). Few pieces hold escapes: scrubbed a batch at a time
    (``_scrub_in_batches``), but one whose reading holds a line break (``\\.br\\``, the
    batches' own separator) on its own."""
    escape = separators[3]
    parted = re.compile(f"([{re.escape(''.join(separators[1:3]) + separators[4])}])")
    split: list[tuple[list[str], int, list[str]]] = []
    read: list[tuple[list[str], int, str]] = []  # (a value's parts, a piece's place, as read)
    for fields, index in values:
        if escape not in fields[index]:
            continue
        parts = parted.split(fields[index])  # pieces at even places, separators between
        split.append((fields, index, parts))
        for at in range(0, len(parts), 2):
            piece = parts[at]
            if escape in piece and (reading := _as_it_reads(piece, separators)) != piece:
                read.append((parts, at, reading))
    if not read:
        return
    cleaned = [[reading] for _, _, reading in read]
    _scrub_in_batches([(piece, 0) for piece in cleaned if "\r" not in piece[0]], scrub)
    for piece in cleaned:
        if "\r" in piece[0]:
            piece[0] = scrub(piece[0])
    for (parts, at, reading), (done,) in zip(read, cleaned, strict=True):
        if done != reading:
            parts[at] = REDACTED if done == REDACTED else escaped_text(done, separators)
    for fields, index, parts in split:
        fields[index] = "".join(parts)


def _as_it_reads(value: str, separators: Separators) -> str:
    """``decoded_text``; where python-hl7 cannot read the value (``\\X00\\``, a NUL, or a
    formatting count over the limit beside a number in hex), as it reads without each
    sequence it cannot read on its own, so that what the others spell is searched all the
    same. The value as written when it still cannot be read."""
    decoded = decoded_text(value, separators)
    if decoded != value:  # read: each sequence was replaced by what it stands for
        return decoded
    escape = separators[3]
    parts = value.split(escape)
    readable = [parts[0]]
    for index in range(1, len(parts) - 1, 2):  # the closed sequences (python-hl7 drops the rest)
        sequence = f"{escape}{parts[index]}{escape}"
        if decoded_text(sequence, separators) != sequence:
            readable.append(sequence)
        readable.append(parts[index + 1])
    return decoded_text("".join(readable), separators)


def _markers(text: str, replacements: Iterable[str]) -> dict[str, str]:
    """A character the message does not hold for each replacement (none when there are
    too few such characters left)."""
    used = set(text)
    free = (c for c in map(chr, range(0xE000, 0xF900)) if c not in used)  # private use
    return {replacement: next(free, "") for replacement in dict.fromkeys(replacements)}


def _replaced(
    text: str,
    *,
    scrubber: Scrubber,
    runs: re.Pattern[str],
    replacements: Mapping[str, str],
    phones: Callable[[str], list[tuple[int, int]]],
) -> str:
    """The text with every copy of a secret replaced. ``Scrubber`` searches the folded text
    (same length), where it writes the replacement's marker over each character of each copy
    it finds, and so is each phone ``phones`` finds marked, where no copy of a secret that
    its hash replaces is; the marked runs are then replaced in the original text, whose
    other characters are kept."""
    marked = scrubber(text.translate(FOLDED_LETTERS))
    if marked == REDACTED or len(marked) != len(text):  # given up on: nothing is kept
        return REDACTED
    spans = phones(text)
    if spans:
        marker = next(m for m, replacement in replacements.items() if replacement == REDACTED)
        characters = list(marked)
        for start, end in spans:
            if all(c == marker or c not in replacements for c in characters[start:end]):
                characters[start:end] = marker * (end - start)
        marked = "".join(characters)
    pieces: list[str] = []
    position = 0
    for run in runs.finditer(marked):
        pieces += (text[position : run.start()], replacements[run.group()[0]])
        position = run.end()
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
    """The values joined by \\r, which no secret holds and which is no letter or digit, so
    that a match never spans two values; padded, so that the text is never too short."""
    joined = "\r".join(fields[index] for fields, index in batch)
    out = scrub(f"\r{joined}\r").split("\r")[1:-1]
    if len(out) != len(batch):  # given up on: nothing of the batch is kept
        out = [REDACTED] * len(batch)
    for (fields, index), value in zip(batch, out, strict=True):
        fields[index] = value
