"""Which of a message's hospital numbers names its patient (PROTOCOL section 6).

A message may name its patient by several numbers: PID-3 repeats (the hospital's medical
record number, a regional or the laboratory's own number), a FHIR Patient has several
identifiers. A number is unique only within its assigning authority: a regional number 123
can be another hospital's record number 123 of another person. Only numbers of patient
number types count (``PATIENT_NUMBER_TYPES``: never an account, visit or national number),
and among them:

- numbers of one assigning authority (or one number): the first medical record number
  (type MR), else the first number; an MR repetition without a number is missing, never
  another number in its place; beside an MR, untyped numbers are not considered;
- numbers of several authorities (a repetition naming an authority without a number
  counts): the sender's configured authority chooses (``cachexia source add
  --identifier-authority``, matched against CX-4's namespace or universal id, FHIR's system,
  without case or ``urn:oid:``); without one the message is never matched by the number
  that happens to come first;
- a sender with an authority: a number of another authority is never matched; when no
  number names any authority, they are taken as the sender's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from services.lab_ingestion.domain.message_identity import versioned_control_id
from services.lab_ingestion.domain.model import (
    MEDICAL_RECORD,
    IdentifierCandidate,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
    authority_name,
)
from shared.contracts.identity import normalise_hospital_identifier

SHOWN_AUTHORITIES = 3  # named in a rejection's reason (organisations, never people)
AUTHORITY_TEXT_LENGTH = 40
UNTRACKED_PREFIX = "@"  # a result key without an order number (HL7: collection time)
_UNSHOWN = re.compile(r"[^A-Za-z0-9 .:/_-]")


def of_several_authorities(candidates: Sequence[IdentifierCandidate]) -> bool:
    """Two different numbers (or a number and an empty repetition) of two different
    assigning authorities (none counts as one)."""
    for index, first in enumerate(candidates):
        for second in candidates[index + 1 :]:
            if not _same_authority(first, second) and _number(first) != _number(second):
                return True
    return False


def default_identifier(candidates: Sequence[IdentifierCandidate]) -> str | None:
    """The parser's choice: the first medical record number (else the first number), unless
    numbers of several authorities make the choice the sender's configuration's (None).
    Beside a medical record number, untyped numbers (a FHIR national number without a type,
    say) are not taken for the patient's record number; typed ones (PI, PT, ...) are."""
    pool = _typed_if_records(candidates)
    if not pool or of_several_authorities(pool):
        return None
    return _first_number(pool)


def resolve_patient_identifier(message: LabMessage, authority: str | None) -> str | Rejected | None:
    """The number to match the message's patient by, given the sender's assigning authority
    (None: not configured); a rejection when it cannot be told; None when there is none."""
    candidates = message.identifier_candidates
    wanted = authority_name(authority or "")
    if not wanted:
        if message.patient_identifier or not of_several_authorities(_typed_if_records(candidates)):
            return message.patient_identifier
        return Rejected(
            RejectionCode.AMBIGUOUS_IDENTIFIER,
            f"patient numbers of several assigning authorities ({_authorities(candidates)}) "
            "and none configured for the sender (cachexia source add --identifier-authority)",
        )
    of_sender = [c for c in candidates if wanted in c.authority_names]
    if of_sender:
        chosen = _first_number(of_sender)
        if chosen:
            return chosen
    elif all(not c.authority_names for c in candidates):
        return message.patient_identifier  # no number names an authority: the sender's own
    return Rejected(
        RejectionCode.MISSING_PATIENT,
        f"no patient number of the sender's assigning authority {_shown(authority or '')!r}; "
        f"the message names numbers of {_authorities(candidates)}",
    )


def identified(message: LabMessage, identifier: str, patient_hash: str) -> LabMessage:
    """The message with its patient chosen after parsing, when the parser could not choose
    (numbers of several authorities): its result keys without an order number scoped to the
    patient, as the parser scopes them, and a FHIR message's id made with the patient's hash.
    A message the parser chose for is kept as it is (a sender's authority only ever confirms
    that choice or rejects the message)."""
    if message.patient_identifier is not None:
        return message
    observations = scoped_to_patient(message.observations, patient_hash)
    control_id = message.control_id
    if message.control_id_basis is not None:
        control_id = versioned_control_id(message.control_id_basis, patient_hash)
    return replace(
        message, patient_identifier=identifier, observations=observations, control_id=control_id
    )


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


def _same_authority(first: IdentifierCandidate, second: IdentifierCandidate) -> bool:
    names, others = first.authority_names, second.authority_names
    return bool(names & others) or (not names and not others)


def _number(candidate: IdentifierCandidate) -> str:
    return normalise_hospital_identifier(candidate.value)


def _typed_if_records(
    candidates: Sequence[IdentifierCandidate],
) -> Sequence[IdentifierCandidate]:
    if any(c.kind == MEDICAL_RECORD for c in candidates):
        return [c for c in candidates if c.kind]
    return candidates


def _first_number(candidates: Sequence[IdentifierCandidate]) -> str | None:
    """The first medical record number; an MR repetition without one is missing, never an
    untyped or other number in its place. Without MR repetitions, the first number."""
    records = [c for c in candidates if c.kind == MEDICAL_RECORD]
    return next((c.value for c in records or candidates if c.value), None)


def _authorities(candidates: Sequence[IdentifierCandidate]) -> str:
    names = list(dict.fromkeys(_shown(c.shown_authority) or "none given" for c in candidates))
    more = len(names) - SHOWN_AUTHORITIES
    shown = ", ".join(names[:SHOWN_AUTHORITIES])
    return f"{shown} and {more} more" if more > 0 else shown


def _shown(authority: str) -> str:
    """The authority's name as a reason may carry it: a sender's free text, so limited to
    the characters of organisation names, OIDs and URIs, and short."""
    text = _UNSHOWN.sub("?", authority.strip())
    return text if len(text) <= AUTHORITY_TEXT_LENGTH else text[: AUTHORITY_TEXT_LENGTH - 3] + "..."
