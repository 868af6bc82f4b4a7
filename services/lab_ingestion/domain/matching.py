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

from services.lab_ingestion.domain.model import LabMessage, Rejected, RejectionCode
from services.lab_ingestion.domain.records import EnrolledSubject
from shared.contracts.identity import normalise_hospital_identifier

MIN_MASKED_LENGTH = 4  # shorter identifiers would be found inside unrelated ids


def mask_identifier_in_id(
    message: LabMessage, identify: Callable[[str], str], also: Iterable[str] = ()
) -> LabMessage:
    """The message with its own id cleared of the patient's hospital numbers (its candidates
    and ``also``: every number the message names the patient by; some laboratory systems
    build message ids from them, and the id is stored and published). A number gives way to
    a prefix of its keyed hash, so that two patients' ids stay two ids and a resend still
    finds its message."""
    numbers = {c.value.strip() for c in message.identifier_candidates}
    numbers.update(number.strip() for number in also)
    numbers.add((message.patient_identifier or "").strip())
    control_id = message.control_id.upper()
    found = {
        form.upper(): number
        for number in numbers
        for form in (number, normalise_hospital_identifier(number))
        if len(form) >= MIN_MASKED_LENGTH and form.upper() in control_id
    }
    if not found:
        return message  # (the common case, checked without a pattern)
    longest_first = sorted(found, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(form) for form in longest_first), re.IGNORECASE)

    def masked(match: re.Match[str]) -> str:
        # a case-insensitive match can be a form whose upper case is another (the Kelvin
        # sign): its own hash, which is the number's (the hash folds compatibility forms)
        number = found.get(match.group(0).upper(), match.group(0))
        return f"#{identify(number)[:12]}"

    return replace(message, control_id=pattern.sub(masked, message.control_id))


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
