"""Patient matching by a keyed hash of the hospital identifier (PROTOCOL section 6).

Hospital numbers are unique only within their hospital: in a trial of several sites, the
number of one hospital's patient can be that of another hospital's enrolled subject. A sender
configured with its site is matched against that site's subjects only, and a hash that names
several enrolled subjects is never matched to one of them (the result would be another
person's): the message is rejected.

A message's own id and its results' keys are stored and published: the patient's numbers,
names, birth date and other identifiers that some laboratory systems build them from are
masked there (``mask_identifier_in_id``), each by a prefix of its keyed hash. The adapters
hand over only the values to mask (``PersonalValues``); none is kept on the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.records import EnrolledSubject
from shared.contracts.identity import normalise_hospital_identifier

MIN_MASKED_LENGTH = 4  # shorter identifiers would be found inside unrelated ids
# a number of digits alone that is not the hospital number itself (another identifier, a
# birth date, a number's digits written in groups): fewer digits are everyday values (a
# postal code, a result, a year) and are not searched for, as in the redactions
MIN_MASKED_DIGITS = 6
MIN_MASKED_NAME = 3  # a name of fewer letters would be found in ordinary ids (AB, LI)


@dataclass(frozen=True)
class PersonalValues:
    """What an adapter read of the patient besides their hospital numbers, handed to the
    domain only to be masked in the message's ids (never kept on the message): ``numbers``
    (other identifiers: account, visit, AHV; the birth date in each of its spellings) are
    found anywhere in an id, as a hospital number is; ``names`` (each part of a name) only
    as whole words (ROE in ``ROE-1``, never in ``PROE1``)."""

    numbers: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


NO_PERSONAL_VALUES = PersonalValues()


def mask_identifier_in_id(
    message: LabMessage,
    identify: Callable[[str], str],
    also: Iterable[str] = (),
    personal: PersonalValues = NO_PERSONAL_VALUES,
) -> LabMessage:
    """The message with its own id and its results' keys cleared of the patient's hospital
    numbers (its candidates and ``also``: every number the message names the patient by)
    and of their other ``personal`` values; some laboratory systems build message ids and
    order numbers from them, and both are stored and published. A value gives way to a
    prefix of its keyed hash, so that two patients' ids stay two ids, a resend still finds
    its message and a correction its result."""
    numbers = {c.value for c in message.identifier_candidates}
    numbers.update(also)
    numbers.add(message.patient_identifier or "")
    ids = [message.control_id]
    for observation in message.observations:
        ids += [observation.result_key, observation.unscoped_key or ""]
    # every message comes this way: only values found in one of its ids are masked
    masked = numbers_masked(numbers, identify, personal=personal, within="\n".join(ids))
    if masked is _unchanged:
        return message  # (the common case)
    observations = tuple(_masked_keys(o, masked) for o in message.observations)
    control_id = masked(message.control_id)
    if control_id == message.control_id and all(
        new is old for new, old in zip(observations, message.observations, strict=True)
    ):
        return message
    return replace(message, control_id=control_id, observations=observations)


def _masked_keys(observation: ObservationInput, masked: Callable[[str], str]) -> ObservationInput:
    """The observation itself when no key holds a number (the common case: no copy)."""
    key = masked(observation.result_key)
    unscoped = (
        masked(observation.unscoped_key) if observation.unscoped_key else observation.unscoped_key
    )
    if key == observation.result_key and unscoped == observation.unscoped_key:
        return observation
    return replace(observation, result_key=key, unscoped_key=unscoped)


def numbers_masked(
    numbers: Iterable[str],
    identify: Callable[[str], str],
    mark: str = "#",
    personal: PersonalValues = NO_PERSONAL_VALUES,
    within: str | None = None,
) -> Callable[[str], str]:
    """A function that writes each of ``numbers`` (as written, as hashed, and written in
    groups also as its digits: ``987.654.321`` as ``987654321``) found inside a text, in any
    case, as ``#`` and a prefix of the number's keyed hash (``ORD4711815`` ->
    ``ORD#c3d33d695dec``; ``mark`` is how ``#`` is written: escaped where it is a
    separator), and each of the ``personal`` values likewise. Numbers shorter than
    MIN_MASKED_LENGTH are left, and digits alone other than a hospital number's shorter
    than MIN_MASKED_DIGITS: they would be found inside unrelated ids. ``within``: the only
    texts it will be given (the values found in none are not searched for)."""
    haystack = within.upper() if within is not None else None
    forms = _number_forms(numbers, personal.numbers, haystack)
    words: dict[str, str] = {}  # a name in upper case -> the name
    for name in sorted({n.strip() for n in personal.names}):
        upper = name.upper()
        if len(name) >= MIN_MASKED_NAME and upper not in forms and _inside(upper, haystack):
            words.setdefault(upper, name)
    if not forms and not words:
        return _unchanged

    def masked_match(match: re.Match[str]) -> str:
        # a case-insensitive match can be a form whose upper case is another (the Kelvin
        # sign): its own hash, which is the number's (the hash folds compatibility forms)
        found = match.group(0).upper()
        value = forms.get(found) or words.get(found) or match.group(0)
        return f"{mark}{identify(value)[:12]}"

    def masked(text: str) -> str:
        upper = text.upper()
        found = [form for form in forms if form in upper]
        named = [word for word in words if word in upper]
        if not found and not named:
            return text  # (the common case, checked without a pattern)
        return _pattern(found, named).sub(masked_match, text)

    return masked


def _number_forms(
    numbers: Iterable[str], others: Iterable[str], within: str | None
) -> dict[str, str]:
    """Each form of a number in upper case -> the number whose hash replaces it: as written
    and as hashed (no blank, NFKC: ``normalise_hospital_identifier``), then a grouped
    number's digits where no number is written so; hospital numbers first (a form two
    numbers share keeps the first's, and the numbers are taken in order: the same forms each
    time). Only those found ``within``, if given (every accepted message comes this way:
    the common case is an ``in`` a form, nothing more)."""
    hospital = sorted({n.strip() for n in numbers})
    other = sorted({n.strip() for n in others})
    forms: dict[str, str] = {}
    grouped = []
    for group, min_digits in ((hospital, MIN_MASKED_LENGTH), (other, MIN_MASKED_DIGITS)):
        for number in group:
            upper = number.upper()
            plain = number.isascii() and upper.isalnum()  # most numbers: hashed as written
            for form in (upper,) if plain else _spellings(number, upper):
                if (within is None or form in within) and _long_enough(form, min_digits):
                    forms.setdefault(form, number)
            if not number.isalnum():  # (a grouped number has marks between its digits)
                grouped.append(number)
    if grouped and (within is None or _DIGIT_RUN.search(within)):
        for number in grouped:  # where no number is written so (``setdefault``)
            digits = grouped_digits(number) or ""
            if _inside(digits, within) and _long_enough(digits, MIN_MASKED_DIGITS):
                forms.setdefault(digits, number)
    return forms


def _spellings(number: str, upper: str) -> tuple[str, ...]:
    """A number in upper case as written and as it is hashed (no blank, NFKC:
    ``normalise_hospital_identifier``) where that differs."""
    hashed = "".join(upper.split()) if number.isascii() else normalise_hospital_identifier(number)
    return (upper,) if hashed == upper else (upper, hashed)


def _long_enough(form: str, min_digits: int) -> bool:
    """Long enough to tell from the other characters of an id."""
    return len(form) >= MIN_MASKED_LENGTH and not (form.isdigit() and len(form) < min_digits)


def _inside(form: str, within: str | None) -> bool:
    return within is None or form in within


def _pattern(numbers: list[str], names: list[str]) -> re.Pattern[str]:
    """The values found in a text, longest first: a number anywhere, a name as a whole word
    (no letter or digit right before or after it)."""
    spelled = [(form, re.escape(form)) for form in numbers]
    spelled += [(name, rf"(?<![^\W_]){re.escape(name)}(?![^\W_])") for name in names]
    spelled.sort(key=lambda item: len(item[0]), reverse=True)
    return re.compile("|".join(regex for _, regex in spelled), re.IGNORECASE)


def _unchanged(text: str) -> str:
    return text


# a number written in groups (an AHV number's dots, a phone-like MRN's blanks)
_GROUPED_DIGITS = re.compile(r"[0-9]+(?:[ .\-/][0-9]+)+", re.ASCII)
_NOT_DIGITS = re.compile(r"[^0-9]")
# an id without such a run holds no grouped number's digits (of MIN_MASKED_DIGITS or more)
_DIGIT_RUN = re.compile(f"[0-9]{{{MIN_MASKED_DIGITS}}}")


def grouped_digits(value: str) -> str | None:
    """The digits of a number written in groups (``756.1234.5678.97`` -> ``7561234567897``),
    searched for by every redactor and masked in ids; None for anything else."""
    if not _GROUPED_DIGITS.fullmatch(value.strip()):
        return None
    return _NOT_DIGITS.sub("", value)


def match_subject(
    enrolled: Sequence[EnrolledSubject], site_id: str | None
) -> str | Rejected | None:
    """The subject a message is about: among those enrolled under its hashed identifier,
    the one at the sender's site (any site when the sender has none); None if nobody."""
    eligible = {s.subject_id for s in enrolled if site_id is None or s.site_id == site_id}
    if len(eligible) <= 1:
        return next(iter(eligible), None)
    where = f"at site {site_id}" if site_id else "at different sites"
    advice = (
        "correct the enrolment" if site_id else "give the sender its site (cachexia source add "
        "--site) or correct the enrolment"
    )  # fmt: skip
    return Rejected(
        RejectionCode.AMBIGUOUS_PATIENT,
        f"the patient identifier matches {len(eligible)} enrolled subjects {where}: {advice}",
    )
