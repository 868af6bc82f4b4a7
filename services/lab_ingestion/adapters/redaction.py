"""What every redaction of a rejected payload shares (PROTOCOL section 6); FHIR payloads
are redacted in ``fhir_redaction``, the platform's JSON format in ``json_redaction``.

A rejected input is kept for inspection and replay, but never with a person's identity:
the hospital identifier is replaced by its keyed hash and demographics are dropped, and
every removed value (names, reference displays, birth dates, phones, identifiers) becomes a
secret: any copy of it found in another string of the payload (a note, a narrative, a
message id) is replaced too, as a whole word, whatever its case (a name's parts from two
letters, as in HL7 copies: ``Wu``; other values from three); a hashed number run into
an id (``MSG4711815``) is masked there as the accepted path masks it. Where a code belongs
(an abnormal flag, a status), only a code is kept (``kept_code``): free text there (a name)
is replaced by ``REDACTED``. Every redaction is best effort on malformed input and never
raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from services.lab_ingestion.adapters.address_pieces import address_pieces
from services.lab_ingestion.adapters.address_words import city_spellings
from services.lab_ingestion.adapters.phone_numbers import phone_numbers
from services.lab_ingestion.adapters.place_secrets import places_scrubbed
from services.lab_ingestion.adapters.scrub import MIN_DIGITS_ONLY, Scrubber
from services.lab_ingestion.adapters.secret_spellings import (
    checked_dates,
    date_spellings,
    letters_only,
    number_text,
    numbered,
    place_spellings,
    plain_letters,
    run_in_secrets,
    street_words,
)
from services.lab_ingestion.domain.abnormal_flags import published_flag
from services.lab_ingestion.domain.literal_patterns import literal_spans
from services.lab_ingestion.domain.matching import grouped_digits, numbers_masked
from shared.contracts.identity import normalise_hospital_identifier

REDACTED = "[redacted]"
_MIN_SECRET = 3  # a removed value, an identifier (a shorter one would hit ordinary text)
# a name's part, as HL7's (``hl7_secrets``): Wu, Li, Xu, Ng, Le, Vu and Ho are surnames
_MIN_NAME_PART = 2
# name parts that identify nobody (and titles); a whole display is a secret all the same
_NOT_A_NAME = frozenset({"patient", "unknown", "anonymous", "test", "the", "and", "mrs", "von",
                         "dr", "mr", "ms", "jr", "sr"})  # fmt: skip
_NAME_PART = re.compile(r"[^\s,;:/()\[\]\"]+")
_HYPHENS = re.compile(r"-+")  # a part of a double name: "Müller" of "Müller-Meier"
# a value written as a phone number is (digits, maybe grouped, maybe after +)
_PHONE = re.compile(r"\+?[0-9][0-9 ./()-]*[0-9]", re.ASCII)


def copy_json(node: object) -> Any:
    """A deep copy of a JSON-like tree; values that are not JSON scalars become ``None``."""
    if isinstance(node, dict):
        return {key: copy_json(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [copy_json(value) for value in node]
    if node is None or isinstance(node, str | int | float | Decimal):
        return node
    return None


def is_flag_code(text: str) -> bool:
    """An abnormal flag that is a code (``published_flag``: HL7 table 0078, FHIR's
    ObservationInterpretation); what a result keeps of a flag."""
    return published_flag(text) is not None


def kept_code(value: object, is_code: Callable[[str], bool]) -> Any:
    """A coded element's value (an abnormal flag, a status) as sent when it is a code
    (``is_code``), or nothing (None, blank); anything else is free text a sender wrote where a
    code belongs (a name, a hospital number): ``REDACTED``. Not searched for elsewhere: the
    usual such text ("High", "Low", "Normal") would wipe a note's ordinary words."""
    if value is None or (isinstance(value, str) and (not value.strip() or is_code(value))):
        return value
    return REDACTED


def scrub_secrets(node: Any, secrets: Mapping[str, str]) -> Any:
    """Replace every whole-word copy (any case) of a secret in any string: one replaced by
    ``REDACTED`` from two characters (``Secrets`` keeps only a name's parts that short), an
    identifier (replaced by its hash) from three.

    Matching is by ``Scrubber``: bounded, linear time (a pathological string is replaced
    whole), whole words only ("Rubin" leaves "Bilirubin" alone, "Ho" "Hospital"). A string
    equal to a replacement (an identifier's hash) is left as it is, and a hash inside a
    longer string is matched as itself, so that no name is found inside it. A number whose
    digits are a secret (an identifier sent as a number) becomes its replacement.
    """
    found = {s: r for s, r in secrets.items() if len(s.strip()) >= _min_length(r)}
    if not found:
        return node
    keep = set(secrets.values())
    replacements = {r: r for r in keep if r != REDACTED and len(r) >= _MIN_SECRET}
    for secret, replacement in found.items():
        replacements.setdefault(secret, replacement)
    phones = secrets.phones if isinstance(secrets, Secrets) else ()
    scrub = Scrubber(replacements, min_length=_MIN_NAME_PART, numbers=phones)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, str):
            return value if value in keep else scrub(value)
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            text = str(value)
            scrubbed = scrub(text)
            return value if scrubbed == text else scrubbed
        return value

    return walk(node)


def _min_length(replacement: str) -> int:
    return _MIN_NAME_PART if replacement == REDACTED else _MIN_SECRET


class Secrets(dict[str, str]):
    """Removed text -> what replaces its other copies (a keyed hash or ``REDACTED``); and
    the names and dates among it (``people``), searched for run into ids too; the
    digits of the phone numbers among it (``phones``), also found run into letters
    (``Tel0311234567``); and the places (``places``: a city, a birth place, a street's name
    or words), never searched for in codes, ids or the sender's name (``place_secrets``)."""

    def __init__(self) -> None:
        super().__init__()
        self.people: list[str] = []
        self.phones: set[str] = set()
        self.places: set[str] = set()

    def text(self, value: object) -> None:
        """A removed value; a date also in the other ways it is commonly written. A number
        as its text (review 199: a JSON ``"birth_date": 19510317`` was never searched)."""
        if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
            value = number_text(value)
        if not isinstance(value, str) or len(value.strip()) < _MIN_SECRET:
            return
        self.setdefault(value.strip(), REDACTED)
        digits = grouped_digits(value)  # 756.1234.5678.97 also as 7561234567897
        if digits is not None and len(digits) >= MIN_DIGITS_ONLY:
            self.setdefault(digits, REDACTED)
        # a date as HL7's are read (``17.03.1951``, ``19510317``: review 192, only a
        # ``1951-03-17`` was searched in its other spellings), in each of them
        dates = checked_dates(value)
        for variant in (v for date in dates for v in date_spellings(*date)):
            self.setdefault(variant, REDACTED)
            self.people.append(variant)
        if not dates and _PHONE.fullmatch(value.strip()):  # its national forms (``phone_numbers``)
            for form in phone_numbers([value.strip()]):
                self.setdefault(form, REDACTED)
                self.phones.add(form)

    def street(self, value: object) -> None:
        """A removed street line: the whole of it (``address``), and its name and words
        (``street_words``) as places (an e-mail's never)."""
        self.address(value)
        if isinstance(value, str) and "@" not in value:
            self.places.update(street_words(value))

    def address(
        self, value: object, *, postal_first: bool = False, city: bool | None = None
    ) -> None:
        """A removed part of an address, by the rule HL7's address components follow: one
        holding a digit and a letter taken apart as a line, never searched for whole
        (``address_pieces``: ``Gartenweg 3`` everywhere, ``3600 Thun`` and ``Thun`` places,
        never ``12 B`` or ``3 L``: review 232); a word or phrase of letters (a city) a
        place, a city's (``postal_first``: a city, postal code or JSON place key's) by its
        name before its canton too (``Zug`` of ``Zug (ZG)``: ``city_spellings``, review
        254; ``city``: False for an area's, a district's or a state's, whole as before,
        review 258); any other (a number, a date, a phone, an e-mail) as any removed value."""
        if isinstance(value, str) and "@" not in value and numbered(value):
            anywhere, places = address_pieces(value, postal_first=postal_first)
            for part in anywhere:
                self.text(part)
            self.places.update(places)
        elif isinstance(value, str) and "@" not in value and letters_only(value):
            parted = postal_first if city is None else city
            spellings = city_spellings if parted else place_spellings
            if len(value.strip()) >= _MIN_SECRET:
                self.places.update(p for p in spellings(value) if len(p) >= _MIN_SECRET)
        else:
            self.text(value)

    def name(self, value: object) -> None:
        """A removed name or display: the whole of it and each of its parts (a double
        name's both whole and split) from two letters, as HL7's (``Wu``; not an initial,
        a title or a word such as "unknown": ``_NOT_A_NAME``)."""
        self.text(value)
        if isinstance(value, str):
            self.people += [value, plain_letters(value)]
            for part in _name_parts(value):
                bare = part.strip(".'-")
                if len(bare) >= _MIN_NAME_PART and bare.lower() not in _NOT_A_NAME:
                    for spelling in {part, bare}:  # "Li." found as "Li" too
                        self.setdefault(spelling, REDACTED)
                        # also as often written without its marks ("İbrahim" as "IBRAHIM")
                        self.setdefault(plain_letters(spelling), REDACTED)

    def strings(self, node: object, *, as_name: bool) -> None:
        """Every string below a removed node."""
        if isinstance(node, dict):
            for value in node.values():
                self.strings(value, as_name=as_name)
        elif isinstance(node, list | tuple):
            for value in node:
                self.strings(value, as_name=as_name)
        elif as_name:
            self.name(node)
        else:
            self.text(node)

    def hashed(self, value: str, hash_identifier: Callable[[str], str]) -> str:
        """An identifier's keyed hash, which also replaces its copies written as the hash
        reads it (``ZZMRN 123987`` and ``ZZMRN123987`` are one number) and, written in groups
        of digits, as its digits."""
        if self.get(value, REDACTED) == REDACTED:
            self[value] = hash_identifier(value)
        for spelling in (normalise_hospital_identifier(value), grouped_digits(value)):
            if spelling and self.get(spelling, REDACTED) == REDACTED:
                self[spelling] = self[value]  # (756.1234.5678.97 also as 7561234567897)
        return self[value]


def scrubbed_copy(
    node: dict[str, Any],
    secrets: Secrets,
    hash_identifier: Callable[[str], str],
    id_keys: frozenset[str],
    run_in_keys: frozenset[str] | None = None,
    *,
    kept_keys: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """``node`` with every copy of a secret replaced (``scrub_secrets``), and then every
    hashed number run into an id (a string under one of ``id_keys``; ``IDENTIFIER_VALUE``:
    an identifier's value) masked as the accepted path masks it (``numbers_masked``:
    ``MSG4711815`` -> ``MSG#c3d33d695dec``), the hashes written in left whole, and a name's
    word or a date run into it (``DOE19580214``) replaced by ``REDACTED`` (``run_in_secrets``)
    under ``run_in_keys`` (all ``id_keys`` by default): in a URL, its last segment only, so
    that no resource type (``Patient/``) or profile is cut. A place is scrubbed but under
    ``id_keys`` and ``kept_keys`` (codes, units: ``places_scrubbed``)."""
    run_in_keys = id_keys if run_in_keys is None else run_in_keys
    hashed = {s: r for s, r in secrets.items() if r != REDACTED and len(r) >= _MIN_SECRET}
    masked = numbers_masked(hashed, hash_identifier)
    hashes = literal_spans(hashed.values())  # (no alternation: thousands were slow)
    written = re.compile(rf"#[0-9a-f]{{12}}|[0-9a-f]{{64}}|{re.escape(REDACTED)}")
    run_in = Scrubber(dict.fromkeys(run_in_secrets(secrets.people), REDACTED),
                      protected=written, run_in=True)  # fmt: skip

    def walk(value: Any, key: object) -> Any:
        if isinstance(value, dict):
            return {name: walk(item, _id_key(key, name)) for name, item in value.items()}
        if isinstance(value, list):
            return [walk(item, key) for item in value]
        if isinstance(value, str) and key in id_keys:
            value = _masked_between(value, hashes, masked)
            if key in run_in_keys:
                path, slash, last = value.rpartition("/")
                return f"{path}{slash}{run_in(last)}"
        return value

    places = places_scrubbed(scrub_secrets(node, secrets), secrets.places - secrets.keys(),
                             id_keys | kept_keys)  # fmt: skip
    scrubbed: dict[str, Any] = walk(places, None)
    return scrubbed


def _masked_between(
    text: str,
    hashes: Callable[[str], Iterator[tuple[int, int]]],
    masked: Callable[[str], str],
) -> str:
    """``text`` masked but for the hashes in it (a number's digits may be found in one)."""
    pieces, position = [], 0
    for start, end in hashes(text):
        pieces += [masked(text[position:start]), text[start:end]]
        position = end
    return "".join([*pieces, masked(text[position:])])


IDENTIFIER_VALUE = "identifier.value"


def _id_key(parent: object, name: object) -> object:
    return IDENTIFIER_VALUE if (parent, name) == ("identifier", "value") else name


def _name_parts(text: str) -> list[str]:
    parts = _NAME_PART.findall(text)
    return parts + [p for part in parts if "-" in part for p in _HYPHENS.split(part)]


def dump_json(value: Any) -> str:
    """A redacted copy as stored text (best effort: what cannot be written is not kept)."""
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError):
        return ""
