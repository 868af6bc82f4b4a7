"""Which of a message's hospital numbers names its patient (PROTOCOL section 6).

A message may name its patient by several numbers: PID-3 repeats (the hospital's medical
record number, a regional or the laboratory's own number), a FHIR Patient has several
identifiers. A number is unique only within its assigning authority: a regional number 123
can be another hospital's record number 123 of another person. So:

- numbers of one assigning authority (or one number): the first, HL7's primary one;
- numbers of several authorities: the sender's configured authority chooses (``cachexia
  source add --identifier-authority``); without one the message is rejected
  ``ambiguous-patient-identifier``, never matched by the number that happens to come first;
- a sender with an authority: a number of another authority is never matched (rejected
  ``missing-patient-identifier``); numbers without any authority are taken as the sender's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from services.lab_ingestion.domain.model import (
    IdentifierCandidate,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from shared.contracts.identity import normalise_hospital_identifier

SHOWN_AUTHORITIES = 3  # named in a rejection's reason (organisations, never people)
AUTHORITY_TEXT_LENGTH = 40
UNTRACKED_PREFIX = "@"  # a result key without an order number (HL7: collection time)


def of_several_authorities(candidates: Sequence[IdentifierCandidate]) -> bool:
    """Two different numbers of two different assigning authorities (none counts as one)."""
    if len(candidates) < 2:
        return False
    authorities = {c.authority.strip().casefold() for c in candidates}
    numbers = {normalise_hospital_identifier(c.value) for c in candidates}
    return len(authorities) > 1 and len(numbers) > 1


def default_identifier(candidates: Sequence[IdentifierCandidate]) -> str | None:
    """The parser's choice: the first number, unless numbers of several authorities make
    the choice the sender's configuration's (None)."""
    if not candidates or of_several_authorities(candidates):
        return None
    return candidates[0].value


def resolve_patient_identifier(message: LabMessage, authority: str | None) -> str | Rejected | None:
    """The number to match the message's patient by, given the sender's assigning authority
    (None: not configured); a rejection when it cannot be told; None when there is none."""
    candidates = message.identifier_candidates
    if not authority or not authority.strip():
        if message.patient_identifier or not candidates:
            return message.patient_identifier
        return Rejected(
            RejectionCode.AMBIGUOUS_IDENTIFIER,
            f"patient numbers of several assigning authorities ({_authorities(candidates)}) "
            "and none configured for the sender (cachexia source add --identifier-authority)",
        )
    wanted = authority.strip().casefold()
    for candidate in candidates:
        if candidate.authority.strip().casefold() == wanted:
            return candidate.value
    if all(not c.authority.strip() for c in candidates):
        return message.patient_identifier  # numbers without authority: the sender's own
    return Rejected(
        RejectionCode.MISSING_PATIENT,
        f"no patient number of the sender's assigning authority {_shown(authority)!r}; the "
        f"message names numbers of {_authorities(candidates)} only",
    )


def identified(message: LabMessage, identifier: str, patient_hash: str) -> LabMessage:
    """The message with its patient chosen after parsing, when the parser could not choose
    (numbers of several authorities): its result keys without an order number scoped to the
    patient, as the parser scopes them. A message the parser chose for is kept as it is (a
    sender's authority only ever confirms that choice or rejects the message)."""
    if message.patient_identifier is not None:
        return message
    observations = scoped_to_patient(message.observations, patient_hash)
    return replace(message, patient_identifier=identifier, observations=observations)


def scoped_to_patient(
    observations: Sequence[ObservationInput], patient_hash: str
) -> tuple[ObservationInput, ...]:
    """Result keys without an order number (``@`` and the collection time) made the
    patient's: two patients' samples drawn the same minute are two results."""
    whose = patient_hash[:16]
    return tuple(
        replace(o, result_key=f"{o.result_key}|{whose}")
        if o.result_key.startswith(UNTRACKED_PREFIX)
        else o
        for o in observations
    )


def _authorities(candidates: Sequence[IdentifierCandidate]) -> str:
    names = list(dict.fromkeys(_shown(c.authority) or "none given" for c in candidates))
    more = len(names) - SHOWN_AUTHORITIES
    shown = ", ".join(names[:SHOWN_AUTHORITIES])
    return f"{shown} and {more} more" if more > 0 else shown


def _shown(authority: str) -> str:
    text = authority.strip()
    return text if len(text) <= AUTHORITY_TEXT_LENGTH else text[: AUTHORITY_TEXT_LENGTH - 3] + "..."
