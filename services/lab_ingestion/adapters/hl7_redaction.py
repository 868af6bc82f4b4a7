"""Redacted copies of rejected HL7 v2 messages (PROTOCOL section 6), and the segment-text
helpers the codec shares with it.

A rejected message is kept for inspection and replay without the patient's identity: PID-3
is replaced by the keyed hash of the patient's identifier, the other identifying PID fields
are blanked, segments about other people (next of kin, guarantor, insured, merged patient)
are dropped, and every other copy of a removed name, identifier, birth date, phone or
address found elsewhere in the message (NTE text, OBR fields, OBX-5 comments) is replaced.
Works line by line on any text, parseable or not, and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping

_LINE_BREAKS = re.compile(r"(?:[\r\n][ \t]*)+")
MEDICAL_RECORD_NUMBER = "MR"  # HL7 table 0203 identifier type code (CX-5)


def normalise_separators(text: str) -> str:
    """Segments may end in \\r, \\n or \\r\\n (HL7 wants \\r); blanks before a segment's
    name are dropped, so that `` PID|...`` is read (and redacted) as a PID segment."""
    return _LINE_BREAKS.sub("\r", text).strip("\r \t\x00")


def choose_identifier(candidates: Iterable[tuple[str, str]]) -> str | None:
    """PID-3 (value, identifier type code) repetitions -> the patient's identifier: the
    first medical record number (type MR), else the first repetition with a value."""
    first = None
    for value, kind in candidates:
        if value:
            if kind == MEDICAL_RECORD_NUMBER:
                return value
            first = first or value
    return first


# PROTOCOL section 6 names PID-5/6/7/11/13/14/19. PID-2, PID-4, PID-18, PID-20 and PID-21
# hold identifiers too (v2.3 patient id, alternate ids, account, licence, mother's id);
# PID-9 is an alias name, PID-23 the birth place, PID-12 the county, PID-29 the death date.
_BLANKED_PID_FIELDS = (2, 4, 5, 6, 7, 9, 11, 12, 13, 14, 18, 19, 20, 21, 23, 29)
# Segments about the patient's relatives, guarantor, insurance or a merged record.
_DROPPED_SEGMENTS = frozenset({"NK1", "GT1", "IN1", "IN2", "IN3", "MRG"})
# Where the values whose copies are scrubbed from the rest of the message are read.
_NAME_FIELDS = {"PID": (5, 6, 9), "NK1": (2,), "GT1": (3,), "IN1": (16,), "MRG": (7,)}
_IDENTIFIER_FIELDS = {"PID": (2, 3, 4, 18, 19, 20, 21), "MRG": (1, 2, 3, 4, 5, 6)}
_DATE_FIELDS = {"PID": (7, 29)}
_ADDRESS_FIELDS = {"PID": (11,)}  # street, other designation, city, postal code
_PHONE_FIELDS = {"PID": (13, 14)}  # XTN-1 (v2.3 number), XTN-7 (local), XTN-12 (unformatted)
_REDACTED = "[redacted]"
_SEGMENT_PADDING = " \t\x00\x0b\x0c\x1c"


def redact(text: str, hash_identifier: Callable[[str], str]) -> str:
    """The message without identifying data: PID-3 replaced by ``HMAC:`` and the keyed hash
    of the patient's identifier; PID-2/4/5/6/7/9/11/12/13/14/18/19/20/21/23/29 blanked; NK1,
    GT1, IN1-3 and MRG segments dropped; every other occurrence of a removed value replaced
    (names case-insensitively as whole words, so ``LE`` does not hit ``LENA``)."""
    separators = _separators(text)
    field = separators[0]
    segments = [
        (line[:3].upper(), line.split(field))
        for line in (raw.lstrip(_SEGMENT_PADDING) for raw in normalise_separators(text).split("\r"))
    ]
    secrets: dict[str, str] = {}
    for name, fields in segments:
        if name == "PID" and len(fields) > 3 and fields[3]:
            candidates = list(_identifier_candidates(fields[3], separators))
            identifier = choose_identifier(candidates)
            hashed = f"HMAC:{hash_identifier(identifier)}" if identifier else ""
            if identifier:
                _add(secrets, identifier, 3, hashed)
            for value, _ in candidates:  # the patient's other identifiers
                _add(secrets, value, 3)
            fields[3] = hashed
        _collect_secrets(name, fields, separators, secrets)
    scrub = _scrubber(secrets, separators[3])
    out = []
    for name, fields in segments:
        if name in _DROPPED_SEGMENTS:
            continue
        if name == "PID":
            for index in _BLANKED_PID_FIELDS:
                if len(fields) > index:
                    fields[index] = ""
        first = 2 if name == "MSH" else 1  # MSH-1/MSH-2 are the separators themselves
        for index in range(first, len(fields)):
            if fields[index] and not (name == "PID" and index == 3):
                fields[index] = scrub(fields[index])
        out.append(field.join(fields))
    return "\r".join(out)


def _separators(text: str) -> tuple[str, str, str, str, str]:
    """Field, component, repetition, escape and sub-component separators declared in
    MSH-1/MSH-2, or the defaults when they are missing or unusable (letters, digits, blanks
    or repeated characters would split the segments where the parser does not)."""
    text = text.lstrip()
    declared = text[3:8] if text.startswith("MSH") else ""
    if (
        len(declared) == 5
        and len(set(declared)) == 5
        and not any(c.isalnum() or c.isspace() for c in declared)
    ):
        return declared[0], declared[1], declared[2], declared[3], declared[4]
    return "|", "^", "~", "\\", "&"


def _identifier_candidates(
    value: str, separators: tuple[str, str, str, str, str]
) -> Iterator[tuple[str, str]]:
    _, component, repetition, _, _ = separators
    for item in value.split(repetition):
        parts = item.split(component)
        yield parts[0].strip(), parts[4].strip() if len(parts) > 4 else ""


def _collect_secrets(
    name: str,
    fields: list[str],
    separators: tuple[str, str, str, str, str],
    secrets: dict[str, str],
) -> None:
    """Record the values this segment holds that must not appear anywhere else."""

    def values(table: Mapping[str, tuple[int, ...]], components: tuple[int, ...]) -> Iterator[str]:
        _, component, repetition, _, sub = separators
        for index in table.get(name, ()):
            if index < len(fields) and not (name == "PID" and index == 3):
                for item in fields[index].split(repetition):
                    parts = item.split(component)
                    for c in components:
                        if c < len(parts):
                            yield from (s.strip() for s in parts[c].split(sub))

    for value in values(_NAME_FIELDS, (0, 1, 2)):  # family, given, further given names
        for token in (value, *value.split()):
            _add(secrets, token, 2)
    for value in values(_IDENTIFIER_FIELDS, (0,)):
        _add(secrets, value, 3)
    for value in values(_DATE_FIELDS, (0,)):
        if len(value) >= 8:  # YYYYMMDD[HHMM...]: the value, and the date within it
            _add(secrets, value, 8)
            _add(secrets, value[:8], 8)
    for value in values(_ADDRESS_FIELDS, (0, 1, 2, 4)):
        _add(secrets, value, 2)
    for value in values(_PHONE_FIELDS, (0, 6, 11)):
        _add(secrets, value, 5)


def _add(
    secrets: dict[str, str], value: str, min_length: int, replacement: str = _REDACTED
) -> None:
    """A value to scrub: long enough not to hit unrelated text, never only punctuation."""
    if len(value) >= min_length and any(c.isalnum() for c in value):
        secrets.setdefault(value, replacement)


_KEPT_ESCAPES = r"(?:[FSTREHN]|[XCM][0-9A-Fa-f]*|\.[a-z]{2}[+-]?[0-9]*)"


def _scrubber(secrets: dict[str, str], escape: str) -> Callable[[str], str]:
    """Replace every occurrence of a secret. Values with a digit (identifiers, dates, phones,
    street addresses) are replaced wherever they occur; the rest (names, towns) as whole
    words; both ignoring case. Escape sequences (``\\T\\``, ``\\XC2B5\\``, ``\\.br\\``) are
    kept intact, so that a two-letter name never breaks one."""
    anywhere = sorted((s for s in secrets if len(s) >= 4 and any(c.isdigit() for c in s)),
                      key=len, reverse=True)  # fmt: skip
    words = sorted((s for s in secrets if s not in anywhere), key=len, reverse=True)
    if not anywhere and not words:
        return lambda value: value
    replacements: dict[str, str] = {}
    for secret, replacement in secrets.items():
        if replacement != _REDACTED or secret.lower() not in replacements:
            replacements[secret.lower()] = replacement
    esc = re.escape(escape)
    alternatives = [f"(?P<escape>{esc}{_KEPT_ESCAPES}{esc})"]
    if anywhere:
        alternatives.append("|".join(re.escape(s) for s in anywhere))
    if words:
        alternatives.append(r"(?<!\w)(?:" + "|".join(re.escape(s) for s in words) + r")(?!\w)")
    pattern = re.compile("|".join(alternatives), re.IGNORECASE)

    def replace(match: re.Match[str]) -> str:
        if match.group("escape"):
            return match.group(0)
        return replacements.get(match.group(0).lower(), _REDACTED)

    return lambda value: pattern.sub(replace, value)
