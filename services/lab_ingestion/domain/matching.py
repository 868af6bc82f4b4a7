"""Patient matching by a keyed hash of the hospital identifier (PROTOCOL section 6).

Hospital numbers are unique only within their hospital: in a trial of several sites, the
number of one hospital's patient can be that of another hospital's enrolled subject. A sender
configured with its site is matched against that site's subjects only, and a hash that names
several enrolled subjects is never matched to one of them (the result would be another
person's): the message is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from services.lab_ingestion.domain.literal_patterns import literal_pattern
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.records import EnrolledSubject
from shared.contracts.identity import normalise_hospital_identifier

MIN_MASKED_LENGTH = 4  # shorter identifiers would be found inside unrelated ids
# a number written in groups is masked also as its digits (987.654.321 as 987654321), from
# six of them: fewer are everyday values (a postal code, a result, a year), as in the
# redactions
MIN_MASKED_DIGITS = 6


def mask_identifier_in_id(
    message: LabMessage, identify: Callable[[str], str], also: Iterable[str] = ()
) -> LabMessage:
    """The message with its own id and its results' keys cleared of the patient's hospital
    numbers (its candidates and ``also``: every number the message names the patient by;
    some laboratory systems build message ids and order numbers from them, and both are
    stored and published). A number gives way to a prefix of its keyed hash, so that two
    patients' ids stay two ids, a resend still finds its message and a correction its
    result."""
    masked = numbers_masked(patient_numbers(message, also), identify)
    if masked is _unchanged:
        return message
    observations = tuple(_masked_keys(o, masked) for o in message.observations)
    control_id = masked(message.control_id)
    if control_id == message.control_id and all(
        new is old for new, old in zip(observations, message.observations, strict=True)
    ):
        return message  # (the common case)
    return replace(message, control_id=control_id, observations=observations)


def patient_numbers(message: LabMessage, also: Iterable[str] = ()) -> set[str]:
    """Every number the message names its patient by: its candidates and ``also``."""
    numbers = {c.value for c in message.identifier_candidates}
    numbers.update(also)
    numbers.add(message.patient_identifier or "")
    return numbers


def holds_a_number(text: str, numbers: Iterable[str]) -> bool:
    """Whether one of ``numbers`` is in ``text`` as ``numbers_masked`` finds it (in any case,
    run into other characters, normalised, as its digits)."""
    upper = text.upper()
    return any(form in upper for form in _forms(numbers))


def _masked_keys(observation: ObservationInput, masked: Callable[[str], str]) -> ObservationInput:
    """The observation itself when no key holds a number (the common case: no copy)."""
    key = masked(observation.result_key)
    unscoped = (
        masked(observation.unscoped_key) if observation.unscoped_key else observation.unscoped_key
    )
    legacy = observation.legacy_key and masked(observation.legacy_key)
    legacy_unscoped = observation.legacy_unscoped and masked(observation.legacy_unscoped)
    kept = (
        observation.result_key, observation.unscoped_key, observation.legacy_key,
        observation.legacy_unscoped,
    )  # fmt: skip
    others = tuple(masked(k) for k in observation.other_keys)  # its other identifiers
    before = tuple(masked(k) for k in observation.keys_before)
    if (key, unscoped, legacy, legacy_unscoped) == kept and (others, before) == (
        observation.other_keys, observation.keys_before,
    ):  # fmt: skip
        return observation
    return replace(
        observation, result_key=key, unscoped_key=unscoped, legacy_key=legacy,
        legacy_unscoped=legacy_unscoped, other_keys=others, keys_before=before,
    )  # fmt: skip


def numbers_masked(
    numbers: Iterable[str], identify: Callable[[str], str], mark: str = "#"
) -> Callable[[str], str]:
    """A function that writes each of ``numbers`` (as written, normalised, and written in
    groups also as its digits: ``987.654.321`` as ``987654321``) found inside a text, in any
    case, as ``#`` and a prefix of the number's keyed hash (``ORD4711815`` ->
    ``ORD#c3d33d695dec``; ``mark`` is how ``#`` is written: escaped where it is a
    separator). Numbers shorter than MIN_MASKED_LENGTH are left, and digits of fewer than
    MIN_MASKED_DIGITS: they would be found inside unrelated ids."""
    forms = _forms(numbers)
    if not forms:
        return _unchanged
    if len(forms) <= FEW_FORMS:  # a message's own numbers: no pattern to build (hot path)
        return _few_masked(forms, identify, mark)
    order = {form: index for index, form in enumerate(forms)}
    starting = literal_pattern(forms)  # (forms are upper case, searched in the upper case)
    # each form found at a position and the shorter forms it starts with
    found_at = literal_pattern(forms, around="(?=({}))")
    prefixes = {
        form: [form[:n] for n in range(1, len(form)) if form[:n] in order] for form in forms
    }
    patterns: dict[tuple[str, ...], re.Pattern[str]] = {}

    def masked_match(match: re.Match[str]) -> str:
        # a case-insensitive match can be a form whose upper case is another (the Kelvin
        # sign): its own hash, which is the number's (the hash folds compatibility forms)
        number = forms.get(match.group(0).upper(), match.group(0))
        return f"{mark}{identify(number)[:12]}"

    def masked(text: str) -> str:
        upper = text.upper()
        if not starting.search(upper):
            return text  # (the common case)
        found = set()
        for longest in found_at.finditer(upper):
            found.add(longest.group(1))
            found.update(prefixes[longest.group(1)])
        # longest first (in the forms' order at one length), as each form in the text
        longest_first = tuple(sorted(found, key=lambda form: (-len(form), order[form])))
        pattern = patterns.get(longest_first)
        if pattern is None:  # one per set of forms found: a text of its own each is rare
            pattern = re.compile("|".join(map(re.escape, longest_first)), re.IGNORECASE)
            patterns[longest_first] = pattern
        return pattern.sub(masked_match, text)

    return masked


# up to this many forms each is looked for with ``in`` (compiling the patterns of many costs
# more than it saves: every message's parse masks its patient's few numbers)
FEW_FORMS = 16


def _few_masked(
    forms: dict[str, str], identify: Callable[[str], str], mark: str
) -> Callable[[str], str]:
    """``numbers_masked`` for a few forms: each looked for in the text, a pattern compiled
    only for a text holding one."""

    def masked_match(match: re.Match[str]) -> str:
        number = forms.get(match.group(0).upper(), match.group(0))
        return f"{mark}{identify(number)[:12]}"

    def masked(text: str) -> str:
        upper = text.upper()
        found = [form for form in forms if form in upper]
        if not found:
            return text  # (the common case, checked without a pattern)
        longest_first = sorted(found, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(form) for form in longest_first), re.IGNORECASE)
        return pattern.sub(masked_match, text)

    return masked


def _forms(numbers: Iterable[str]) -> dict[str, str]:
    """Each form a number is searched for in (in upper case) -> the number whose hash
    replaces it."""
    ordered = sorted({n.strip() for n in numbers})  # (in order: the same forms each time)
    forms: dict[str, str] = {}
    for number in ordered:
        for form in (number, normalise_hospital_identifier(number)):
            if len(form) >= MIN_MASKED_LENGTH:
                forms.setdefault(form.upper(), number)
    for number in ordered:  # where no number is written so (``setdefault``)
        digits = grouped_digits(number) or ""
        if len(digits) >= MIN_MASKED_DIGITS:
            forms.setdefault(digits, number)
    return forms


def _unchanged(text: str) -> str:
    return text


# a number written in groups (an AHV number's dots, a phone-like MRN's blanks)
_GROUPED_DIGITS = re.compile(r"[0-9]+(?:[ .\-/][0-9]+)+", re.ASCII)
_NOT_DIGITS = re.compile(r"[^0-9]")


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
