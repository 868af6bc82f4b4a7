"""Which of a message's hospital numbers names its patient (PROTOCOL section 6).

A message may name its patient by several numbers: PID-3 repeats (the hospital's medical
record number, an enterprise or the laboratory's own number), a FHIR Patient has several
identifiers. A number is unique only within its assigning authority: the laboratory's number
123 can be the hospital's record number 123 of another person. Only numbers of patient
number types count (never an account, visit, national, registry or insurance number:
``OTHER_NUMBER_TYPES``; a local type code names none: untyped), and among them:

- numbers of one assigning authority (or one number): the medical record number (type MR);
  two different MRs, or, without an MR, two different numbers of any other patient number
  type or untyped (a PI beside a PT, an MRT beside a PE), are ambiguous: which is the
  patient's cannot be told, so none is matched (never the one that comes first); an MR
  repetition without a number is missing, never another number in its place, and so is,
  without an MR, any repetition without a number; beside an MR, untyped numbers of no
  other authority are not considered;
- numbers of several authorities (a repetition naming an authority without a number
  counts): the sender's configured authority chooses (``cachexia source add
  --identifier-authority``, matched against CX-4's namespace or universal id, FHIR's system,
  without case or ``urn:oid:``), by the same rules among that authority's numbers; without
  one the message is never matched by the number that happens to come first. One authority
  may be configured by several names (HL7's namespace HOSP, FHIR's system urn:hosp): a
  number is the authority's when any of its names is any of them;
- a sender with an authority: a number of another authority is never matched; when no
  number names any authority, they are taken as the sender's.

A message left without a number (ambiguous or missing) is *unresolved*: discarded when none
of its numbers is an enrolled subject's, rejected otherwise (``service_layer.identification``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from services.lab_ingestion.domain.authority_names import (
    Authority,
    configured_names,
    shown_names,
)
from services.lab_ingestion.domain.message_identity import versioned_control_id
from services.lab_ingestion.domain.model import (
    IdentifierCandidate,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
    authority_name,
)
from services.lab_ingestion.domain.number_types import MEDICAL_RECORD
from shared.contracts.identity import normalise_hospital_identifier


def of_several_authorities(candidates: Sequence[IdentifierCandidate]) -> bool:
    """Two different numbers (or a number and an empty repetition) of two different
    assigning authorities (none counts as one)."""
    for index, first in enumerate(candidates):
        for second in candidates[index + 1 :]:
            if not _same_authority(first, second) and _number(first) != _number(second):
                return True
    return False


def default_identifier(candidates: Sequence[IdentifierCandidate]) -> str | None:
    """The parser's choice: the patient's number when one can be told (``_chosen``), None when
    the numbers are ambiguous, missing, or of several authorities (the choice is then the
    sender's configuration's). Beside a medical record number, untyped numbers (a FHIR
    national number without a type, say) are not taken for the patient's record number."""
    pool = _typed_if_records(candidates)
    if not pool or of_several_authorities(pool):
        return None
    chosen = _chosen(pool)
    return chosen if isinstance(chosen, str) else None


def resolve_patient_identifier(message: LabMessage, authority: Authority) -> str | Rejected | None:
    """The number to match the message's patient by, given the sender's assigning authority
    (its name or names; None or none: not configured); a rejection when it cannot be told;
    None when there is none."""
    candidates = message.identifier_candidates
    names = configured_names(authority)
    if message.patient_identifier and not names:
        return message.patient_identifier
    if not names:
        pool = _typed_if_records(candidates)
        if of_several_authorities(pool):
            return Rejected(
                RejectionCode.AMBIGUOUS_IDENTIFIER,
                f"patient numbers of {_authorities(candidates)} and none configured for the "
                "sender (cachexia source add --identifier-authority)",
            )
        return _chosen(pool) if pool else None
    if all(not c.authority_names for c in candidates):  # no number names an authority
        return message.patient_identifier or _chosen(_typed_if_records(candidates))
    return _of_authority(candidates, names)


def _of_authority(
    candidates: Sequence[IdentifierCandidate], names: Sequence[str]
) -> str | Rejected:
    """The number of the sender's authority (``_chosen`` among its numbers: those naming
    any of its ``names``), else the MR naming no authority (the sender's own, unqualified);
    missing when the authority's number, or an MR naming no authority, is empty; ambiguous
    when the authority's numbers differ, or an MR naming none differs from the authority's
    number other than its MR."""
    wanted = {authority_name(name) for name in names}
    of_sender = [c for c in candidates if c.authority_names & wanted]
    # an MR naming no authority may be the sender's too: empty, the number may be missing
    unqualified = [c for c in candidates if c.kind == MEDICAL_RECORD and not c.authority_names]
    if any(not c.value for c in unqualified):
        return _missing(names)
    if any(c.kind == MEDICAL_RECORD for c in of_sender):  # the sender's MR decides
        return _chosen(of_sender) or _missing(names)
    if not of_sender:
        return _unqualified_record(unqualified) or _not_of(names, candidates)
    chosen = _chosen(of_sender)
    if not isinstance(chosen, str):
        return chosen or _missing(names)
    if any(not _same_number(c.value, chosen) for c in unqualified):
        return Rejected(
            RejectionCode.AMBIGUOUS_IDENTIFIER,
            f"a patient number of the sender's assigning authority {shown_names(names)} and "
            "a medical record number naming no authority: which is the patient's cannot be told",
        )
    return chosen


def _chosen(pool: Sequence[IdentifierCandidate]) -> str | Rejected | None:
    """The patient's number among numbers of one authority: its medical record number; else
    the one number of the other patient number types and untyped. Ambiguous (a rejection)
    when those are two different numbers, whatever their types: a hospital's PT beside a
    laboratory's PI is as likely as the other way round. None (missing) when an MR holds no
    number (beside another MR too), or, without an MR, when any repetition holds none (an
    empty PT beside a PI may be the patient's real number, missing)."""
    records = [c for c in pool if c.kind == MEDICAL_RECORD]
    if any(not c.value for c in records or pool):
        return None
    deciding = records or pool
    numbers = [c.value for c in deciding if c.value]
    if len({normalise_hospital_identifier(n) for n in numbers}) > 1:
        kinds = "medical record numbers" if records else "patient numbers and no MR"
        return Rejected(
            RejectionCode.AMBIGUOUS_IDENTIFIER,
            f"different {kinds} of one assigning authority: which is the patient's cannot be told",
        )
    return numbers[0] if numbers else None


def _unqualified_record(unqualified: Sequence[IdentifierCandidate]) -> str | None:
    """The MRs naming no authority, taken as the sender's when they are one number."""
    if unqualified and len({_number(c) for c in unqualified}) == 1:
        return unqualified[0].value
    return None


def _missing(names: Sequence[str]) -> Rejected:
    return Rejected(
        RejectionCode.MISSING_PATIENT,
        "the patient's medical record number is empty (PID-3 MR, or the number of the "
        f"sender's assigning authority {shown_names(names)})",
    )


def _not_of(names: Sequence[str], candidates: Sequence[IdentifierCandidate]) -> Rejected:
    return Rejected(
        RejectionCode.MISSING_PATIENT,
        f"no patient number of the sender's assigning authority {shown_names(names)}; "
        f"the message names numbers of {_authorities(candidates)}",
    )


def identified(
    message: LabMessage, identifier: str, hash_identifier: Callable[[str], str]
) -> LabMessage:
    """The message matched by ``identifier`` (the sender's authority's choice) when it is not
    the number the parser chose: its result keys without an order number made that
    patient's and a FHIR message's id made with that patient's hash, as the parser makes
    them for its own choice."""
    chosen = message.patient_identifier
    if chosen is not None and _same_number(chosen, identifier):
        return message
    patient_hash = hash_identifier(identifier)
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
    """Result keys without an order number (HL7: the collection time) made the patient's:
    two patients' samples drawn the same minute are two results."""
    whose = patient_hash[:16]
    return tuple(_scoped(o, whose) for o in observations)


def _scoped(o: ObservationInput, whose: str) -> ObservationInput:
    """The observation's keys of a collection time made the patient's (``whose``)."""
    if o.unscoped_key is not None:
        o = replace(o, result_key=f"{o.unscoped_key}|{whose}")
    if o.legacy_unscoped is not None:  # an ORC-numbered order's key before review 119
        o = replace(o, legacy_key=f"{o.legacy_unscoped}|{whose}")
    return o


def has_missing_number(candidates: Sequence[IdentifierCandidate]) -> bool:
    """A repetition naming an authority (or typed MR) without a number: whether the patient
    is the trial's cannot be told from the other numbers."""
    return any(not c.value for c in candidates)


def _same_authority(first: IdentifierCandidate, second: IdentifierCandidate) -> bool:
    names, others = first.authority_names, second.authority_names
    return bool(names & others) or (not names and not others)


def _number(candidate: IdentifierCandidate) -> str:
    return normalise_hospital_identifier(candidate.value)


def _typed_if_records(
    candidates: Sequence[IdentifierCandidate],
) -> Sequence[IdentifierCandidate]:
    """Beside a medical record number, an untyped number of no authority (or of the MR's)
    is not taken for the patient's; an untyped number of another authority still counts
    (a FHIR hospital identifier is often untyped)."""
    records = [c for c in candidates if c.kind == MEDICAL_RECORD]
    if not records:
        return candidates
    return [
        c
        for c in candidates
        if c.kind or (c.authority_names and not any(_same_authority(c, r) for r in records))
    ]


def _same_number(first: str, second: str) -> bool:
    return normalise_hospital_identifier(first) == normalise_hospital_identifier(second)


def _authorities(candidates: Sequence[IdentifierCandidate]) -> str:
    """How many assigning authorities the numbers name, never their names: a sender's CX-4
    may hold anything, a person's name or birth date too, and a reason is stored and
    published; the kept (redacted) message shows the authorities, scrubbed."""
    groups: list[frozenset[str]] = []
    for names in (c.authority_names for c in candidates if c.authority_names):
        same = [g for g in groups if g & names]
        groups = [g for g in groups if not g & names] + [names.union(*same)]
    unnamed = " and none" if any(not c.authority_names for c in candidates) else ""
    if not groups:
        return "no named assigning authority"
    count = (
        "one assigning authority" if len(groups) == 1 else f"{len(groups)} assigning authorities"
    )
    return f"{count}{unnamed} (the kept message shows them)"
