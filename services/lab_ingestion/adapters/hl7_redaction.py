"""Redacted copies of rejected HL7 v2 messages (PROTOCOL section 6), and the segment-text
helpers the codec shares with it.

A rejected message is kept for inspection and replay without the patient's identity: PID-3
is replaced by the keyed hash of the patient's identifier, every other PID field but its set
id and a few one-letter codes is blanked (a visit number in PV1 too), segments about other
people (next of kin, guarantor, insured, merged patient) are dropped, Z-segments (a site's
own, which may hold anything) keep only their names, free text in an
abnormal flag (OBX-8: what is no table-0078 code) is masked, and every other copy of a
removed name, identifier, birth date, phone or address found elsewhere in the message (NTE
text, OBR fields, OBX-5 comments) is replaced, as a whole word in any case, by
``scrub.Scrubber`` in bounded time (numbers of fewer than six digits are not searched for: a
postal code 8000 must not hit a result 8000 or a timestamp). Works line by line on any text,
parseable or not, and never raises. The separators are read as python-hl7 reads them (MSH-2
may be short); a message whose separators are unusable keeps only its segment names. A
segment's name is read after leading blanks and format characters (a no-break space); a line
that is no segment (text after a raw line break inside a field) is the rest of the person
segment before it, else ``[redacted]``; a document in OBX-5 (ED, RP) keeps only its codes,
and base64 text anywhere but where a trial result or a message is read from is replaced
(``hl7_kept_lines``). A
patient's number run into the message id or an order number (``ORD4711815``) is masked as
the accepted path masks it, and so is every other identifying number the message
holds (PID-18 to 21, PV1-19/50, MRG, NK1, GT1 and IN1-2 numbers that hold a digit, every
phone: review 185, an SSN run into MSH-10 was kept). What an escape sequence HL7 does
not define holds (a site's ``\\Z..\\``, a ``\\C`` that is no hex, one never closed) is
masked, its code letter kept (``\\Z[redacted]\\``: ``hl7_scrub_fields.masked_escapes``), and
so is a hex escape whose digits spell a birth date or number as written (``\\X19510317\\``).

Also searched for: a birth date (written as HL7's ``YYYYMMDD`` or as ``1958-02-14``,
``14.02.1958``, ``1958/02/14``...: ``secret_spellings.written_dates``) in every spelling
``secret_spellings.date_spellings`` lists (``DD.MM.YYYY``, ``D.M.YYYY``, ``DD.MM.YY``, ``DDMMYYYY``,
``DDMMYY``, ``YYMMDD``...), a phone
(one number, or XTN-6 and -7 put together) as its digits, in text grouped in any way and
after any country code (``phone_numbers``: ``031 999 88 77``, ``+41 (0)31 999-88-77``;
seven digits or more), a number written in groups also as its digits (``756.1234.5678.97``
as ``7561234567897``), a patient number as it is hashed (``ZZMRN 123987`` as
``ZZMRN123987``), each part of a double name (``MÜLLER-MEIER``) and the words of the
patient's street line (``secret_spellings.street_words``; another person's address is searched as
whole lines only, since every word searched for may wipe a note's ordinary word: "5 INSURED
WAY"). A birth date is also found as the date of a timestamp (``195103170800``). In ids
(MSH-10, ORC-2/3, OBR-2/3, SPM-2/3, OBX-4) a name's word of three letters or more and a
birth date's spellings are found run into other letters or digits too
(``ZWYSSIGMANN19510317`` -> ``[redacted]``), an eight-digit one even inside a longer digit
run (``X195103170`` -> ``X[redacted]0``; a short or six-digit one never: it may be part of
another date or number there); in the sender's name (MSH-3/4 but an OID:
``hl7_sender_fields``) too, but a name's word only where no letter runs on (``JOHN2`` is
cut, ``STJOHNS`` is not: everyday hospital names hold names). Limits: elsewhere a birth
date run into another number or word (``A19510317``) is not found; a number but a phone
written with a blank in a note but not in PID-3 is not found; other spellings (``4 March
1961``) are not found. Where the scrubber gives up (more than ``scrub.MAX_SECRETS``
secrets, or too many candidate copies in a few KB of fields), those fields are replaced
whole: nothing personal is kept, at the cost of the clinical text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping

from services.lab_ingestion.adapters.hl7_kept_lines import (
    kept_lines,
    mask_documents,
    segment_text,
)
from services.lab_ingestion.adapters.hl7_pid3 import (
    PATIENT_NUMBER_FIELDS,
    Separators,
    drop_personal_parts,
)
from services.lab_ingestion.adapters.hl7_places import scrub_places
from services.lab_ingestion.adapters.hl7_scrub_fields import masked_flags, scrub_fields
from services.lab_ingestion.adapters.hl7_secrets import secrets_and_numbers
from services.lab_ingestion.adapters.hl7_sender_fields import (
    SENDER_FIELDS,
    SplitSender,
    join_senders,
    masked_sender,
    sender_parts,
)
from services.lab_ingestion.adapters.scrub import (
    REDACTED,
)
from services.lab_ingestion.domain.local_codes import NO_MAPPINGS, LocalKey
from services.lab_ingestion.domain.matching import numbers_masked

_LINE_BREAKS = re.compile(r"(?:[\r\n][ \t]*)+")


def normalise_separators(text: str) -> str:
    """Segments may end in \\r, \\n or \\r\\n (HL7 wants \\r); blanks before a segment's
    name are dropped, so that `` PID|...`` is read (and redacted) as a PID segment; so is a
    byte-order mark before MSH (a sender writing one had every message answered AR)."""
    return _LINE_BREAKS.sub("\r", text).strip("\r \t\x00\ufeff")


# PROTOCOL section 6 names PID-5/6/7/11/13/14/19; PID-2, 4, 9, 12, 18, 20, 21, 23 and 29
# hold identifiers, an alias, the county, birth place and death date. A redacted PID keeps
# only its set id (PID-1, digits), PID-3 (hashed) and these one-letter codes: the sex and
# the multiple-birth and death indicators. Every other field is blanked, so that a value
# shifted by a missing separator (an address in PID-10, a next of kin run into PID) is too.
_KEPT_PID_CODES = {8: frozenset("FMOUANX"), 24: frozenset("YN"), 30: frozenset("YN")}
# PV1-19 and PV1-50: the visit number and the alternate visit id (identifiers of the patient)
_BLANKED_FIELDS = {"PV1": (19, 50)}
# Segments about the patient's relatives, guarantor, insurance or a merged record.
_DROPPED_SEGMENTS = frozenset({"NK1", "GT1", "IN1", "IN2", "IN3", "MRG"})
MAX_WITHHELD_LINES = 200  # of a message whose separators are unreadable
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
# MSH-10 (the message id), ORC-2/3 and OBR-2/3 (placer and filler order numbers, which make
# the result keys) and SPM-2/3 (the specimen's ids, often an accession number: review 119,
# a name and birth date run into SPM-2 were kept): ids some systems build from the
# patient's number
_ID_FIELDS = {"MSH": (9,), "ORC": (2, 3), "OBR": (2, 3), "SPM": (2, 3)}
# and OBX-4 (the sub-id, in the result key): where a name's word or a birth date is found
# run into other letters or digits too (``ZWYSSIGMANN19510317``), not only as a whole word
_RUN_IN_FIELDS = {**_ID_FIELDS, "OBX": (4,)}


def redact(
    text: str, hash_identifier: Callable[[str], str], mapped: Mapping[LocalKey, str] = NO_MAPPINGS
) -> str:
    """The message without identifying data: PID-3 replaced by ``HMAC:`` and the keyed hash
    of the patient's identifier; every other PID field blanked but PID-1 and the codes of
    PID-8/24/30; PV1-19/50 (visit numbers) blanked; NK1, GT1, IN1-3 and MRG segments
    dropped; Z-segments (a site's own: anything, a national number or another name of the
    patient's, none of it read by the platform) kept as their names only; a patient's
    number inside the message id or an order number (``ORD4711815``) masked as the accepted
    path masks it; OBX-8 kept only as codes (``masked_flags``); every
    other occurrence of a removed value replaced case-insensitively as a whole word (``LE`` does
    not hit ``LENA``, ``8000`` not ``18000``), a copy of the hashed identifier by its hash.
    A message whose separators cannot be read as the parser reads them, or that has no MSH
    segment, keeps nothing but its segment names. ``mapped``: the sender's local code
    mappings (a result they name is a trial result, whose read fields are kept whole)."""
    lines = [segment_text(raw) for raw in normalise_separators(text).split("\r")]
    separators = _separators(lines)
    if separators is None or not any(line[:3].upper() == "MSH" for line in lines):
        # unusable separators, or no header to read them from: no parser reads it, and its
        # text may be anything (compressed or base64 HL7 holds the whole patient)
        return _withheld_lines(lines)
    field = separators[0]
    segments = [(line[:3].upper(), line.split(field)) for line in kept_lines(lines, field)]
    secrets, numbers, named, run_in, phones, places = secrets_and_numbers(
        segments, separators, hash_identifier
    )
    _mask_numbers_in_ids(
        segments, numbers_masked(named, hash_identifier, _hash_sign(separators)), separators
    )
    kept = [
        (name, fields[:1] if name.startswith("Z") else fields)  # a site's own: name only
        for name, fields in segments
        if name not in _DROPPED_SEGMENTS
    ]
    for _, _, kept_numbers in numbers:
        for number in kept_numbers:
            drop_personal_parts(number.authority, separators[3], secrets)
    senders: list[SplitSender] = []  # MSH-3/4 scrubbed part by part (an OID kept whole)
    # and MSH-3/4's values (its parts but an OID), run-in scrubbed as ids are (LIS19580214)
    # but a name's word where no letter runs on only (STJOHNS holds John)
    sender_values: list[tuple[list[str], int]] = []
    # (fields, index) of every value to scrub: the kept fields, and each kept authority's
    # subcomponents (a short name misplaced in CX-4 as a word of its own)
    scrubbed: list[tuple[list[str], int]] = [
        (number.authority, index)
        for _, _, kept_numbers in numbers
        for number in kept_numbers
        for index, part in enumerate(number.authority)
        if part
    ]
    for name, fields in kept:
        if name == "PID":
            _blank_pid(fields)
        for index in _BLANKED_FIELDS.get(name, ()):
            if index < len(fields):
                fields[index] = ""
        if name == "OBX" and len(fields) > 8:  # abnormal flags: only codes
            fields[8] = masked_flags(fields[8], separators)
        mask_documents(name, fields, separators, mapped)
        scrubbed.extend(_to_scrub(name, fields, separators, senders, sender_values))
    scrub_fields(text, secrets, scrubbed, separators, phones=phones)
    scrub_places(text, places, kept, separators)  # but where the copy is read back
    ids = [
        (fields, index)
        for name, fields in kept
        for index in _RUN_IN_FIELDS.get(name, ())
        if index < len(fields) and fields[index]
    ]
    sender_ids = [(fields, index) for fields, index in sender_values if fields[index]]
    # ROE19510317 as [redacted]; in a sender's name a name's word only where no letter runs on
    scrub_fields(text, run_in, ids, separators, run_in=True, words_apart=sender_ids)
    join_senders(senders)
    for fields, index, kept_numbers in numbers:
        fields[index] = separators[2].join(number.joined(separators) for number in kept_numbers)
    return "\r".join(field.join(fields) for _, fields in kept)


def _to_scrub(
    name: str,
    fields: list[str],
    separators: Separators,
    senders: list[SplitSender],
    sender_values: list[tuple[list[str], int]],
) -> Iterator[tuple[list[str], int]]:
    """The values of a kept segment to scrub: its fields but PID-3 (hashed) and MSH-1/MSH-2
    (the separators themselves), MSH-3/MSH-4 as ``sender_parts`` (also put in
    ``sender_values``, to be scrubbed as ids are)."""
    first = 2 if name == "MSH" else 1 if _SEGMENT_ID.fullmatch(fields[0]) else 0
    for index in range(first, len(fields)):
        if not fields[index] or (name == "PID" and index in PATIENT_NUMBER_FIELDS):
            continue
        if name == "MSH" and index in SENDER_FIELDS:
            whole_words, run_in = sender_parts(fields, index, separators, senders)
            sender_values.extend(run_in)
            yield from whole_words
        else:
            yield fields, index


def _blank_pid(fields: list[str]) -> None:
    """PID with every field blanked but its set id, PID-3 and the codes it may keep."""
    for index in range(1, len(fields)):
        value = fields[index]
        kept = (index == 1 and value.isascii() and value.isdigit()) or (
            index in PATIENT_NUMBER_FIELDS
        )
        if not kept and value not in _KEPT_PID_CODES.get(index, ()):
            fields[index] = ""


def _hash_sign(separators: Separators) -> str:
    """``#`` as a field may hold it: escaped when it is one of the message's separators."""
    field, component, repetition, escape, sub = separators
    codes = {field: "F", component: "S", repetition: "R", escape: "E", sub: "T"}
    return f"{escape}{codes['#']}{escape}" if "#" in codes else "#"


def _withheld_lines(lines: list[str]) -> str:
    """At most MAX_WITHHELD_LINES lines, each its segment name at most: a frame of short
    lines must not be kept larger than it came (a megabyte of them was 5.5 MB)."""
    kept = [_withheld(line) for line in lines[:MAX_WITHHELD_LINES]]
    if len(lines) > MAX_WITHHELD_LINES:
        kept.append(f"[{len(lines) - MAX_WITHHELD_LINES} more lines]")
    return "\r".join(kept)


def _withheld(line: str) -> str:
    """A line of a message whose separators are unreadable: its segment name at most."""
    return f"{line[:3]} {REDACTED}" if _SEGMENT_ID.fullmatch(line[:3]) else REDACTED


def _mask_numbers_in_ids(
    segments: list[tuple[str, list[str]]], masked: Callable[[str], str], separators: Separators
) -> None:
    """Every PID-3, 2 or 4 number (and every other identifying number and phone:
    ``hl7_secrets``) inside MSH-10 or an order number, masked as ``parse_oru`` masks
    the message id and result keys of an accepted message (the rejection keeps MSH-10 as
    its control id): a number run into other characters is no whole word to scrub. So in
    MSH-3/4 (review 108: an unknown sender ``LISMRN4711`` was kept, and with it the
    rejection's source and its ``lab.rejected.v1`` event), an OID universal id aside: every
    sender's, as the allow-list is not known here (an allowed sender whose name holds its
    patient's number, run in, is kept masked, and such a copy does not replay: the lab
    resends; review 110)."""
    for name, fields in segments:
        for index in _ID_FIELDS.get(name, ()):
            if index < len(fields) and fields[index]:
                fields[index] = masked(fields[index])
        if name == "MSH":
            for index in SENDER_FIELDS:
                if index < len(fields) and fields[index]:
                    fields[index] = masked_sender(fields[index], separators, masked)


def _separators(lines: list[str]) -> Separators | None:
    """Field, component, repetition, escape and sub-component separators as python-hl7
    reads them from the first MSH segment: MSH-1, then MSH-2 up to the next field
    separator, a missing encoding character taking its default (``MSH#^~\\#...`` is read
    with ``&``). The defaults without an MSH segment (no parser reads the text); None when
    the separators are unusable (letters, digits, blanks or repeated characters would
    split the segments where the parser does not)."""
    header = next((line for line in lines if line[:3].upper() == "MSH"), None)
    if header is None or len(header) < 4:
        return "|", "^", "~", "\\", "&"
    field = header[3]
    end = header.find(field, 4)
    encoding = header[4 : end if end != -1 else None]
    defaults = "^~\\&"
    found = [encoding[i] if i < len(encoding) else defaults[i] for i in range(4)]
    separators = (field, *found)
    if len(set(separators)) < 5 or any(c.isalnum() or c.isspace() for c in separators):
        return None
    return separators[0], separators[1], separators[2], separators[3], separators[4]
