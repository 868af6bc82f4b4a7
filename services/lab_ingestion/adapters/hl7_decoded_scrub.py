"""Copies of a secret spelled with escapes (``M\\XC3BC\\LLER`` for MÜLLER, a number in hex),
found in a kept HL7 copy's values as they read (``hl7_scrub_fields.scrub_fields``).

Each piece of a value (a repetition's component's sub-component) that holds escapes is read
(``decoded_text``); the readings are scrubbed a batch at a time, joined by a character none
of them holds; a piece where a copy is found is written again, its separators where they
were (review 199: a whole field read and escaped again ran OBX-3's components into one), and
of the piece only what was replaced is written anew: the rest keeps its escapes as written
(``\\H\\kritisch\\N\\``, ``\\.in2\\``, a tab ``\\X09\\``; review 207: the piece was escaped
again from its reading, highlighting became ``_``, formatting blanks or nothing, and a
character's hex its code point, ``\\X2265\\`` for ``≥``, which reads ``"e``).

Cost (review 207): a value whose pieces close every escape they open is read in one call,
its pieces' readings split at a joiner; no piece costs a scrub call of its own (one holding
``\\.br\\``, a line break, did: a 900 KB note of ``x\\.br\\~`` took 4.6 s instead of 0.4).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from services.lab_ingestion.adapters.hl7_pid3 import Separators, decoded_text, escaped_text
from services.lab_ingestion.adapters.scrub import REDACTED

Found = list[tuple[int, int, str]]  # (start, end, replacement) of each copy in a text
FindCopies = Callable[[str], Found | None]  # None: given up on, nothing of the text is kept
BATCH = 4096  # characters of readings scrubbed in one call
# joiners (``free_joiner``): C0 and C1 controls but blanks, then supplementary private use
_JOINERS = (range(0x01, 0x09), range(0x0E, 0x1C), range(0x7F, 0x85), range(0x86, 0xA0),
            range(0xF0000, 0x10FFFE))  # fmt: skip
_HEX = re.compile(r"X[0-9A-Fa-f]*")  # a hex escape's body, as ``decode_hex_runs`` runs them


@dataclass
class _Read:
    """A value holding escapes: its parts (pieces at even places, separators between) and
    each piece as it reads."""

    fields: list[str]
    index: int
    parts: list[str]
    readings: list[str]


def scrub_decoded(
    values: Sequence[tuple[list[str], int]],
    find: FindCopies,
    separators: Separators,
    *,
    batch: int = BATCH,
) -> None:
    """Each value's pieces that hold escapes, read, scrubbed (``find``: each copy a secret
    has there), and each piece where a copy is found written again (``_rewritten``); one the
    scrubber gives up on is replaced by ``REDACTED``. A value is searched as its pieces'
    readings joined by a character none holds (no letter or digit: a word ends there, as at
    either end of a piece searched alone), a few thousand characters of values a call."""
    escape = separators[3]
    parted = re.compile(f"([{re.escape(''.join(separators[1:3]) + separators[4])}])")
    written = [(fields, index) for fields, index in values if escape in fields[index]]
    if not written:
        return
    try:
        joiner = free_joiner([fields[index] for fields, index in written])
    except NoFreeJoiner:
        _give_up(written)
        return
    read: list[_Read] = []
    for fields, index in written:
        parts = parted.split(fields[index])
        readings = _readings(parts[0::2], separators, joiner)
        if readings != parts[0::2]:
            read.append(_Read(fields, index, parts, readings))
    if not read:
        return
    texts = [joiner.join(value.readings) for value in read]
    if any(t.count(joiner) != len(v.readings) - 1 for v, t in zip(read, texts, strict=True)):
        try:  # an escape spelled it: another, and the texts joined again
            joiner = free_joiner(texts)
        except NoFreeJoiner:
            _give_up([(value.fields, value.index) for value in read])
            return
        texts = [joiner.join(value.readings) for value in read]
    for value, found in zip(read, _found(texts, find, joiner, batch), strict=True):
        if found is None or found:
            _replace(value, found, separators)
            value.fields[value.index] = "".join(value.parts)


def _give_up(values: Sequence[tuple[list[str], int]]) -> None:
    """Each value ``REDACTED``: nothing of values the scrubber cannot search is kept."""
    for fields, index in values:
        fields[index] = REDACTED


def _replace(value: _Read, found: Found | None, separators: Separators) -> None:
    """Each piece holding escapes where a copy is found in the value's reading written again
    (``_rewritten``), or ``REDACTED`` where the value was given up on or a copy runs over
    a joiner into or out of the piece (a secret holding the joiner)."""
    escape = separators[3]
    start = 0
    for at in range(0, len(value.parts), 2):
        piece, reading = value.parts[at], value.readings[at // 2]
        end = start + len(reading)
        if escape in piece and reading != piece:
            mine = _within(found, start, end)
            if mine is None:
                value.parts[at] = REDACTED
            elif mine:
                value.parts[at] = _rewritten(piece, reading, mine, separators)
        start = end + 1


def _within(found: Found | None, start: int, end: int) -> Found | None:
    """The copies in the text between ``start`` and ``end``, relative to it; None when
    given up on or when one runs over either end (onto the joiner there)."""
    if found is None:
        return None
    mine = [
        (at - start, until - start, r) for at, until, r in found if at <= end and until >= start
    ]
    return None if any(at < 0 or until > end - start for at, until, _ in mine) else mine


def _readings(pieces: list[str], separators: Separators, joiner: str) -> list[str]:
    """Each piece as it reads (``as_it_reads``). Where every piece closes the escapes it
    opens, the sequences are the pieces' own: the value is read in one call, its pieces
    joined by ``joiner`` (which none holds), and the reading split there again."""
    escape = separators[3]
    if all(piece.count(escape) % 2 == 0 for piece in pieces):
        joined = joiner.join(pieces)
        decoded = decoded_text(joined, separators)
        if decoded != joined:  # read (a sequence it cannot read keeps it as written)
            readings = decoded.split(joiner)
            if len(readings) == len(pieces):  # (no escape spells the joiner)
                return readings
    known: dict[str, str] = {}  # a piece repeated is read once
    for piece in pieces:
        if escape in piece and piece not in known:
            known[piece] = as_it_reads(piece, separators)
    return [known.get(piece, piece) for piece in pieces]


def as_it_reads(value: str, separators: Separators) -> str:
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


class NoFreeJoiner(ValueError):
    """The texts hold every character ``free_joiner`` may join them with: the scrubber gives
    up on them (each ``REDACTED``), never a crash (review 224: ``next()`` without a default
    raised StopIteration, which a worker thread's future cannot carry, and the message was
    never answered)."""


def free_joiner(texts: Sequence[str]) -> str:
    """A character none of ``texts`` holds, no letter, digit or blank (a word ends there,
    and no phrase, date or phone runs over it), never one ``hl7_scrub_fields`` marks copies
    with (those are private use): a control character, so that ASCII text stays ASCII (a
    private use one made every text four bytes a character, searched at half the speed).
    Raises ``NoFreeJoiner`` when the texts hold them all."""
    free = next(
        (c for c in map(chr, itertools.chain.from_iterable(_JOINERS))
         if not any(c in text for text in texts)),
        None,
    )  # fmt: skip
    if free is None:
        raise NoFreeJoiner("the values hold every joining character")
    return free


def _found(texts: list[str], find: FindCopies, joiner: str, batch: int) -> Iterator[Found | None]:
    """The copies ``find`` finds in each text, a few thousand characters of them a call, each
    batch joined and padded by ``joiner`` (a text is never too short); a long text a batch of
    its own, so that one given up on takes no other with it."""
    group: list[str] = []
    size = 0
    for text in texts:
        if group and size + len(text) + 1 > batch:
            yield from _found_in(group, find, joiner)
            group, size = [], 0
        group.append(text)
        size += len(text) + 1
    if group:
        yield from _found_in(group, find, joiner)


def _found_in(group: list[str], find: FindCopies, joiner: str) -> Iterator[Found | None]:
    """The copies in each text of ``group``, found in one call (each relative to its text,
    one running over the joiner kept: ``_replace`` gives its pieces up); None for each when
    given up on."""
    found = find(f"{joiner}{joiner.join(group)}{joiner}")
    if found is None or not found:
        yield from (None if found is None else [] for _ in group)
        return
    start = 1
    for text in group:
        end = start + len(text)
        yield [
            (at - start, until - start, r) for at, until, r in found if at <= end and until >= start
        ]
        start = end + 1


def _rewritten(piece: str, reading: str, found: Found, separators: Separators) -> str:
    """``piece`` with each copy ``found`` in its reading replaced, escaped; what was not
    replaced is kept as written, sequence by sequence (``_units``): a sequence inside a copy
    goes with it, one partly inside is written again from what is left of its reading. The
    whole reading escaped again where the units do not read as the piece does, or the piece
    so written does not read as the reading with its copies replaced."""
    expected = _replaced(reading, found)
    units = _units(piece, separators)
    if "".join(text for _, text in units) != reading:
        return escaped_text(expected, separators)
    out: list[str] = []
    position, first = 0, 0  # (the first copy not ending before the unit: copies are sorted)
    for raw, text in units:
        start, end = position, position + len(text)
        position = end
        while first < len(found) and found[first][1] <= start:
            first += 1
        at = found[first][0] if first < len(found) else end
        if at >= end if end > start else at >= start:  # untouched (at a copy's edge too)
            out.append(raw)
            continue
        cursor, k = start, first
        while k < len(found) and found[k][0] < end:
            at, until, replacement = found[k]
            if at > cursor:
                out.append(escaped_text(reading[cursor:at], separators))
            if at >= start:  # the copy starts here: its replacement written once
                out.append(escaped_text(replacement, separators))
            cursor, k = max(cursor, min(until, end)), k + 1
        if cursor < end:
            out.append(escaped_text(reading[cursor:end], separators))
    written = "".join(out)
    # a kept hex run read with a new one beside it may read otherwise (Latin-1 bytes)
    return (
        written
        if decoded_text(written, separators) == expected
        else escaped_text(expected, separators)
    )


def _units(piece: str, separators: Separators) -> list[tuple[str, str]]:
    """A piece's text runs and escape sequences (a run of hex ones as one: its bytes are
    read together), each as written and as it reads."""
    escape = separators[3]
    parts = piece.split(escape)
    written: list[list[str]] = [[parts[0]]] if parts[0] else []  # each unit's raw parts
    hex_run = False  # whether the last unit is a run of hex sequences
    for index in range(1, len(parts), 2):
        closed = index + 1 < len(parts)
        sequence = f"{escape}{parts[index]}{escape}" if closed else f"{escape}{parts[index]}"
        is_hex = closed and _HEX.fullmatch(parts[index]) is not None
        if is_hex and hex_run:
            written[-1].append(sequence)  # read when whole
        else:
            written.append([sequence])
        hex_run = is_hex
        if closed and parts[index + 1]:
            written.append([parts[index + 1]])
            hex_run = False
    units = ["".join(unit) for unit in written]
    read = {raw: decoded_text(raw, separators) for raw in set(units) if escape in raw}
    return [(raw, read.get(raw, raw)) for raw in units]  # (each distinct sequence read once)


def _replaced(text: str, found: Found) -> str:
    pieces, position = [], 0
    for start, end, replacement in sorted(found):
        pieces += [text[position:start], replacement]
        position = end
    return "".join([*pieces, text[position:]])
