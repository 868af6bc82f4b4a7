"""PID-3 as a redacted HL7 message keeps it (``hl7_redaction``): each patient number as
its keyed hash with its type and the showable parts of its assigning authority."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import hl7

from services.lab_ingestion.adapters.hl7_escapes import bounded_unescape, decode_hex_runs
from services.lab_ingestion.adapters.text_positions import FOLDED_LETTERS
from services.lab_ingestion.domain.authority_names import showable_authority
from services.lab_ingestion.domain.number_types import patient_number_type

Separators = tuple[str, str, str, str, str]  # field, component, repetition, escape, sub

# the PID fields holding the patient's numbers, in the order the parser reads them: PID-3,
# then PID-2 (the external id of v2.3 and v2.4) as more of PID-3's repetitions; a kept copy
# keeps both as it keeps PID-3 (hashed), so that its replay reads the patient as the
# message named them
PATIENT_NUMBER_FIELDS = (3, 2)
# PID-4, the alternate patient id (v2.3-2.5.1): read apart, never as the patient's number
# (review 190), and blanked in a kept copy as PID's other fields are
ALTERNATE_ID_FIELD = 4


@dataclass
class KeptNumber:
    """A PID-3 repetition of a patient number type as the redacted message keeps it: the
    number (PHI, never written) as ``HMAC:`` and its keyed hash, its authority's showable
    subcomponents (scrubbed like any field before they are written) and its type."""

    value: str
    hashed: str
    authority: list[str]
    kind: str

    def joined(self, separators: Separators) -> str:
        _, component, _, _, sub = separators
        authority = sub.join(self.authority).rstrip(sub)
        return component.join([self.hashed, "", "", authority, self.kind]).rstrip(component)


def patient_numbers(
    value: str, separators: Separators, hash_identifier: Callable[[str], str]
) -> tuple[list[KeptNumber], list[str]]:
    """PID-3's repetitions as kept: each patient number (a repetition of a patient number
    type) replaced by ``HMAC:`` and its keyed hash, with its assigning authority (CX-4,
    organisation names and ids only) and its type as the parser reads it (CX-5: MR, PI, ...,
    "" for a local code, which is never kept verbatim), so that whoever inspects a rejection
    can tell which number of which authority the message named; a repetition naming an
    authority or a patient number type without a number is kept empty (it says the number
    is missing).
    Other numbers (national, account, visit) are dropped (the second list). Every copy of a
    number elsewhere in the message gives way to its hash, or is scrubbed.
    A number written with sub-components (``MRN4711&5``: an unescaped ``&``, which the
    parser refuses) is hashed whole, as written, never as its first part (the hash a
    replay of the copy would match another patient by); its parts are dropped numbers
    (scrubbed wherever they are written)."""
    _, component, repetition, _, sub = separators
    kept, dropped = [], []
    for item in value.split(repetition):
        parts = [*item.split(component), "", "", "", ""]
        written = [decoded_text(part, separators).strip() for part in parts[0].split(sub)]
        number = written[0]  # as parse_oru reads it
        if len(written) > 1:
            number = sub.join(written) if any(written) else ""
            dropped += [part for part in written if part]
        number = "" if number == '""' else number
        kind = patient_number_type(decoded_text(parts[4].split(sub)[0], separators))
        authority = _showable_authority(parts[3], separators)
        if kind is None:
            dropped.append(number)
        elif number or any(authority) or kind:
            hashed = f"HMAC:{hash_identifier(number)}" if number else ""
            kept.append(KeptNumber(number, hashed, authority, kind))
    return kept, dropped


def drop_personal_parts(
    authority: list[str], escape: str, secrets: Mapping[str, tuple[str, str]]
) -> None:
    """Empty each CX-4 subcomponent that holds, anywhere in it, a value removed from the
    message (a name, another number, a birth date) of three characters or more, or an
    escape sequence (which could spell one: ``\\X534D495448\\``): an authority is shown
    only as the sender wrote an organisation's name."""
    for index, part in enumerate(authority):
        folded = part.translate(FOLDED_LETTERS).lower()
        if escape in part or any(len(key) >= 3 and key in folded for key in secrets):
            authority[index] = ""


def _showable_authority(authority: str, separators: Separators) -> list[str]:
    """CX-4's subcomponents (namespace, universal id, its type), each kept only when it is
    an organisation's name or id: a patient's number or a date misplaced in it is dropped."""
    return [
        part if showable_authority(decoded_text(part, separators)) else ""
        for part in authority.split(separators[4])
    ]


def decoded_text(text: str, separators: Separators, *, highlight_as_nothing: bool = False) -> str:
    """Text as it reads, and a PID-3 value as the parser reads it (so that its hash is the
    one it is matched by): ``\\X..\\`` runs as UTF-8 (as the parser reads a result's text
    and PID-3), the other escapes as python-hl7 reads them; as written if unreadable.
    ``highlight_as_nothing``: ``\\H\\`` and ``\\N\\`` read as nothing (``bounded_unescape``)."""
    if separators[3] not in text:
        return text
    try:
        hex_read = decode_hex_runs(text, separators[3])
        return bounded_unescape(
            _escaping(separators), hex_read, highlight_as_nothing=highlight_as_nothing
        )
    except Exception:  # python-hl7 raises assorted errors on broken escapes
        return text


def escaped_text(text: str, separators: Separators) -> str:
    """Text written as a field value in ``separators``: separators and the escape character
    as python-hl7's escaping writes them (``\\F\\``, ``\\S\\``...), a line break as
    ``\\.br\\``, and any other character outside printable ASCII as the hex of its UTF-8
    bytes (``\\X09\\`` for a tab, ``\\XE289A5\\`` for ``≥``), as ``decoded_text`` reads
    them (review 207: python-hl7 writes a character's code point unpadded, ``\\X 9\\``,
    ``\\X2265\\``, which reads as ``"e``). Each distinct character escaped once and the
    text translated (python-hl7 reads a character at a time: 0.4 s for a megabyte of ``é``;
    review 132)."""
    if not text:
        return text
    container = _escaping(separators)
    esc = str(container.esc)
    marks = container.separators
    codes = {marks[1]: "F", marks[2]: "R", marks[3]: "S", marks[4]: "T", esc: "E", "\r": ".br"}
    table = {
        ord(character): f"{esc}{codes[character]}{esc}"
        if character in codes
        else f"{esc}X{character.encode('utf-8', 'surrogatepass').hex().upper()}{esc}"
        for character in set(text)
        if character in codes or not 0x20 <= ord(character) <= 0x7E
    }
    return text.translate(table)


@functools.lru_cache(maxsize=8)  # separators are the sender's: never an unbounded cache
def _escaping(separators: Separators) -> hl7.Message:
    """A message declaring ``separators``: what python-hl7 unescapes a value against."""
    return hl7.parse("MSH" + "".join(separators[:2]) + separators[2] + "".join(separators[3:]))
