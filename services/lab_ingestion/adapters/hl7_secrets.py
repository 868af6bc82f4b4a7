"""The values of a rejected HL7 v2 message that identify its patient or the people around
them (names, identifiers, birth dates, addresses, phones), collected to be removed from the
kept copy wherever they occur (``hl7_redaction``), with the forms they may also be written in
(a name's parts, a number's digits, a date's spellings, a street's words, a phone's digits
however grouped: ``phone_numbers``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

from services.lab_ingestion.adapters.address_pieces import address_pieces
from services.lab_ingestion.adapters.address_words import city_spellings
from services.lab_ingestion.adapters.hl7_kept_lines import PERSON_SEGMENTS
from services.lab_ingestion.adapters.hl7_pid3 import (
    PATIENT_NUMBER_FIELDS,
    KeptNumber,
    Separators,
    decoded_text,
    patient_numbers,
)
from services.lab_ingestion.adapters.hl7_scrub_fields import Secrets
from services.lab_ingestion.adapters.phone_numbers import phone_numbers
from services.lab_ingestion.adapters.scrub import REDACTED
from services.lab_ingestion.adapters.secret_spellings import (
    date_spellings,
    numbered,
    place_spellings,
    run_in_secrets,
    street_words,
    written_dates,
)
from services.lab_ingestion.adapters.text_positions import FOLDED_LETTERS, holds_letter_or_digit
from services.lab_ingestion.domain.matching import grouped_digits
from shared.contracts.identity import normalise_hospital_identifier

# each PID's fields, the index of PID-3 or PID-2 (``PATIENT_NUMBER_FIELDS``), its numbers kept
PatientNumbers = list[tuple[list[str], int, list[KeptNumber]]]

_NAME_PARTS = re.compile(r"[\s-]+")  # "MÜLLER-MEIER" is "MÜLLER" and "MEIER" too
# Where the values whose copies are scrubbed from the rest of the message are read (v2.5.1):
# NK1 name, mother's maiden name, contact person; GT1 guarantor, spouse, contact person;
# IN1 insured; IN2 Medicaid case name, military sponsor; MRG prior name.
_NAME_FIELDS = {"PID": (5, 6, 9), "NK1": (2, 26, 30), "GT1": (3, 4, 30), "IN1": (16,),
                "IN2": (7, 9), "MRG": (7,)}  # fmt: skip
# NK1 employee number, identifiers, contact's SSN; GT1 number, SSN, employee id; IN1
# insured's group employee id, policy number, insured's id; IN2 employee id, SSN, Medicare,
# Medicaid and military numbers; MRG prior identifiers.
_IDENTIFIER_FIELDS = {"PID": (2, 3, 4, 18, 19, 20, 21), "PV1": (19, 50), "NK1": (12, 33, 37),
                      "GT1": (2, 12, 19), "IN1": (10, 36, 49), "IN2": (1, 2, 6, 8, 10),
                      "MRG": (1, 2, 3, 4, 5, 6)}  # fmt: skip
_DATE_FIELDS = {"PID": (7, 29), "NK1": (16,), "GT1": (8,), "IN1": (18,)}
# PID-12 county and PID-23 birth place: places of the patient's, blanked in PID, whose
# copies (a note's "Geburtsort BERN") are scrubbed as whole phrases (review 185) everywhere
# but where the copy is read back (``hl7_places.PLACES_KEPT``): a patient is often born in
# the city that names the hospital (``LIS|BERN``, ``LABOR BASEL``), its codes or its order
# numbers (review 190); so are an address's city, postal code and a street's name or words
# (review 192: a patient living in Bern made ``LIS|BERN`` ``LIS^[redacted]``), a street
# line with its house number everywhere (``_ADDRESS_FIELDS``)
_PLACE_FIELDS = {"PID": (12, 23)}
# Street, other designation, city, postal code: a value holding a digit and a letter (a
# street and its house number, ``Bahnhofstrasse 12``; a postcode ``LS1 4AB``) is scrubbed
# everywhere, and so is an e-mail; any other (a city, a street's name) is a place.
_ADDRESS_FIELDS = {"PID": (11,), "NK1": (4, 32), "GT1": (5,), "IN1": (19,)}
# XTN-1 (v2.3 number), XTN-4 (e-mail), XTN-7 (local), XTN-12 (unformatted) as written and
# as digits; and each number as one, XTN-6 and -7 (area code, local number) put together.
_PHONE_FIELDS = {"PID": (13, 14), "NK1": (5, 6, 31, 40, 41), "GT1": (6, 7, 31)}


def secrets_and_numbers(
    segments: list[tuple[str, list[str]]],
    separators: Separators,
    hash_identifier: Callable[[str], str],
) -> tuple[Secrets, PatientNumbers, list[str], Secrets, frozenset[str], Secrets]:
    """Every value removed from the message (whose copies are scrubbed), each PID's
    patient numbers as kept, every number that identifies someone (masked where run into
    ids: PID-3, 2 and 4's, kept or dropped, and the other identifiers and phones read,
    ``_identifying_numbers``), the names' words and birth dates' spellings searched
    for run into ids (``run_in_secrets``), the digits of the phones' forms, searched
    for in groups (``phone_numbers``), and the patient's places (county, birth place,
    cities, streets' names), scrubbed but where the copy is read back
    (``hl7_places.PLACES_KEPT``)."""
    secrets: Secrets = {}
    places: Secrets = {}
    phones: set[str] = set()
    people: list[str] = []  # names and date spellings, as written
    numbers: PatientNumbers = []
    named: list[str] = []
    identifiers: list[str] = []  # the other identifiers' values, as written
    previous = ""
    for name, fields in segments:
        if name.startswith("Z") and previous in PERSON_SEGMENTS:
            _collect_every_value(fields, separators, secrets)
        previous = name
        for index in PATIENT_NUMBER_FIELDS if name == "PID" else ():
            if index >= len(fields) or not fields[index]:
                continue
            kept_numbers, dropped = patient_numbers(fields[index], separators, hash_identifier)
            numbers.append((fields, index, kept_numbers))
            named += [number.value for number in kept_numbers] + dropped
            for number in kept_numbers:
                _add_number(secrets, number.value, number.hashed or REDACTED)
            for other in dropped:
                _add_number(secrets, other, REDACTED)
        _collect_secrets(
            name, fields, separators, (secrets, places), people, phones=phones,
            identifiers=identifiers,
        )  # fmt: skip
        county_and_birth_place = _values(name, fields, separators, _PLACE_FIELDS, (0,))
        _collect_places(county_and_birth_place, separators, places, city=True)
    named += _identifying_numbers(identifiers, phones)
    run_in: Secrets = {}
    for value in people:  # as it reads too (M\XFC\LLER as MÜLLER)
        for text in {value, decoded_text(value, separators)}:
            for secret in run_in_secrets([text]):
                _add(run_in, secret, 3)
    for value, replacement in list(secrets.values()):  # a value as it reads: MÜLLER
        if separators[3] in value:
            _add(secrets, decoded_text(value, separators), 2, replacement)
            # highlighting (\H\HUBER\N\) read as nothing, as a note's plain copy writes it
            plain = decoded_text(value, separators, highlight_as_nothing=True)
            _add(secrets, plain, 2, replacement)
    return secrets, numbers, named, run_in, frozenset(phones), places


def _collect_secrets(
    name: str,
    fields: list[str],
    separators: Separators,
    found: tuple[Secrets, Secrets],
    people: list[str],
    *,
    phones: set[str],
    identifiers: list[str],
) -> None:
    """Record the values this segment holds that must not appear anywhere else, the places
    it names (``hl7_places``), the digits of each phone's forms
    (``phone_numbers``) and its identifiers as written."""
    secrets, places = found

    def items(table: Mapping[str, tuple[int, ...]]) -> Iterator[list[str]]:
        _, component, repetition, _, _ = separators
        for index in table.get(name, ()):
            if index < len(fields) and not (name == "PID" and index in PATIENT_NUMBER_FIELDS):
                for item in fields[index].split(repetition):
                    yield item.split(component)

    def values(table: Mapping[str, tuple[int, ...]], components: tuple[int, ...]) -> Iterator[str]:
        for parts in items(table):
            for c in components:
                if c < len(parts):
                    yield from (s.strip() for s in parts[c].split(separators[4]))

    for value in values(_NAME_FIELDS, (0, 1, 2)):  # family, given, further given names
        people.append(value)
        for token in (value, *value.split(), *_NAME_PARTS.split(value)):
            _add(secrets, token, 2)
    for value in values(_IDENTIFIER_FIELDS, (0,)):
        identifiers.append(value)
        _add(secrets, value, 3)
        _add(secrets, grouped_digits(value) or "", 6)  # 756.1234.5678.97 as 7561234567897
    for value in values(_DATE_FIELDS, (0,)):
        for year, month, day in written_dates(value):
            _add(secrets, value, 8)
            people.append(value)
            for variant in date_spellings(year, month, day):  # D.M.YY: six characters
                _add(secrets, variant, 6)
                people.append(variant)
    _collect_address(name, fields, separators, secrets, places)
    for value in values(_PHONE_FIELDS, (0, 3, 6, 11)):
        _add(secrets, value, 5)
        _add(secrets, "".join(c for c in value if "0" <= c <= "9"), 5)  # 079 12 -> 07912
    for parts in items(_PHONE_FIELDS):  # one number, however a note writes it
        phones |= phone_numbers(parts)


def _values(
    name: str,
    fields: list[str],
    separators: Separators,
    table: Mapping[str, tuple[int, ...]],
    components: tuple[int, ...],
) -> Iterator[str]:
    """The given components of a segment's fields ``table`` names, each repetition's and
    subcomponent's."""
    _, component, repetition, _, sub = separators
    for index in table.get(name, ()):
        for item in fields[index].split(repetition) if index < len(fields) else ():
            parts = item.split(component)
            for c in components:
                if c < len(parts):
                    yield from (s.strip() for s in parts[c].split(sub))


def _collect_address(
    name: str, fields: list[str], separators: Separators, secrets: Secrets, places: Secrets
) -> None:
    """An address's street, other designation, city and postal code: an e-mail searched for
    everywhere; a value holding a digit and a letter taken apart as an address line is
    (``address_lines``: a street and its house number, a postcode of letters and digits
    everywhere, a postal code with its city a place, no short piece nor a number with a
    letter alone: review 227, ``3600 Thun`` of PID-11.1 or 11.3 cut MSH-4 ``3600 THUN``, an
    other designation ``12 B`` an order number ``12 B``), a number first in the city or
    postal code component being a postal code; any other value (a city, a street's name) a
    place; the patient's street lines' words are places too."""
    for value, component in _address_values(name, fields, separators):
        if "@" in value:  # an e-mail: anywhere
            _add(secrets, value, 2)
        elif not numbered(value):  # a place (a city, a street's name): often the sender's
            _collect_places([value], separators, places, city=component in (2, 4))
        for reading in _readings(value, separators) if numbered(value) else ():
            anywhere, line_places = address_pieces(reading, postal_first=component in (2, 4))
            for part in anywhere:  # ``Gartenweg 3``, ``SW1A 2AA``: everywhere
                _add(secrets, part, 2)
            for place in line_places:  # ``Thun``, ``3600 Thun``, a street's name: a place
                _add(places, place, 3)
    if name == "PID":  # the patient's street and other designation: their words too
        for value in _values(name, fields, separators, _ADDRESS_FIELDS, (0, 1)):
            for reading in _readings(value, separators):
                for word in street_words(reading):
                    _add(places, word, 3)


def _address_values(
    name: str, fields: list[str], separators: Separators
) -> Iterator[tuple[str, int]]:
    """An address's street, other designation, city and postal code, with their component."""
    for component in (0, 1, 2, 4):
        for value in _values(name, fields, separators, _ADDRESS_FIELDS, (component,)):
            yield value, component


def _collect_places(
    places: Iterable[str], separators: Separators, found: Secrets, *, city: bool
) -> None:
    """The patient's county and birth place, an address's city or street name, as written
    and as it reads (``_readings``: ``Z\\XFC\\RICH`` as ``ZÜRICH``, ``\\H\\Bern\\N\\`` as
    ``Bern``): scrubbed everywhere but where the copy is read back (``hl7_places``), a place
    of several words as its whole phrase (``BAD RAGAZ``, ``SAINT-IMIER`` also as ``SAINT
    IMIER``: ``place_spellings``), never its single words, which are everyday words
    (``Bad``, ``Sent``, ``bei``; review 192); three letters or more (a two-letter county
    code is a word of any note). ``city``: a city, county or birth place, also by its name
    before its canton (``Thun`` of ``Thun (BE)``: ``city_spellings``; review 254), never a
    street's (``App. (links)`` whole)."""
    spellings = city_spellings if city else place_spellings
    for written in places:
        for value in _readings(written, separators):
            for spelling in spellings(value):
                _add(found, spelling, 3)


def _readings(value: str, separators: Separators) -> set[str]:
    """A value as written, as it reads, and as it reads with HL7's highlighting read as
    nothing, as a note's plain copy writes it (review 199: a city ``\\H\\Bern\\N\\`` left a
    note's ``aus Bern``)."""
    return {
        value,
        decoded_text(value, separators),
        decoded_text(value, separators, highlight_as_nothing=True),
    }


def _identifying_numbers(identifiers: list[str], phones: Collection[str]) -> list[str]:
    """The identifiers other than PID-3, 2 and 4 (PID-18 to 21, PV1-19, MRG, NK1, GT1 and
    IN1-2 numbers: ``_IDENTIFIER_FIELDS``) that hold a digit, and the phones' digits, to be
    masked where run into ids as PID-3's numbers are (review 185: an SSN, an account or a
    visit number run into MSH-10 or an order number was kept): a value without a digit is
    a word, not searched for inside ids. Many are found in time linear in the ids
    (``numbers_masked``: one trie-shaped pattern for the message, as for PID-3's many)."""
    found = [value for value in identifiers if any("0" <= c <= "9" for c in value)]
    return [*found, *sorted(phones)]


def _collect_every_value(fields: list[str], separators: Separators, secrets: Secrets) -> None:
    """Every value of a Z-segment right after a person segment: a site's own segment, or the
    rest of an address broken before its country (``ZAF``, South Africa) with the phone and
    national number after it. Kept as its name only, its values may be copied elsewhere."""
    _, component, repetition, _, sub = separators
    for value in fields[1:]:
        for item in value.split(repetition):
            for part in item.split(component):
                for text in part.split(sub):
                    _add(secrets, text, 5)
                    _add(secrets, "".join(c for c in text if "0" <= c <= "9"), 5)


def _add_number(secrets: Secrets, number: str, replacement: str) -> None:
    """A PID-3 number as written, as hashed (no blank, NFKC) and, written in groups of
    digits, as its digits (``987.654.321`` as ``987654321``), as the other identifiers are."""
    for form in (number, normalise_hospital_identifier(number)):
        _add(secrets, form, 3, replacement)
    _add(secrets, grouped_digits(number) or "", 6, replacement)


def _add(
    secrets: dict[str, tuple[str, str]],
    value: str,
    min_length: int,
    replacement: str = REDACTED,
) -> None:
    """A value to scrub: long enough not to hit unrelated text, never only punctuation. A
    value met again in another case keeps its first replacement, unless it is the hash."""
    value = value.strip().translate(FOLDED_LETTERS)  # the text is searched folded the same way
    key = value.lower()
    long_enough = len(value) >= min_length and holds_letter_or_digit(value)
    if long_enough and (key not in secrets or replacement != REDACTED):
        secrets[key] = (value, replacement)
