"""The numbers a FHIR Patient (or a subject's identifier) gives (PROTOCOL section 6): its
current identifiers (not ``use: old``) of patient number types (HL7 table 0203: MR, PI, PT,
PN, PE, MRT, or untyped, as a local type code is), each with its assigning authority; and
its other numbers (national, insurance, account), never matched but by which a subject's
identifier may still name the Patient."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from fhir.resources.R4B.patient import Patient

from services.lab_ingestion.domain.model import IdentifierCandidate
from services.lab_ingestion.domain.number_types import (
    MAX_PATIENT_NUMBERS,
    MEDICAL_RECORD,
    patient_number_type,
)

Candidates = tuple[IdentifierCandidate, ...]
# HL7 table 0203 as FHIR R4 names it, as STU3 did (still sent), and by its OID
IDENTIFIER_TYPES = frozenset({
    "http://terminology.hl7.org/CodeSystem/v2-0203", "http://hl7.org/fhir/v2/0203",
    "urn:oid:2.16.840.1.113883.18.108", "urn:oid:2.16.840.1.113883.12.203",
})  # fmt: skip


class PatientNumbers(NamedTuple):
    """A Patient's current numbers: those of patient number types (``candidates``, matched
    as PID-3's are) and its other ones (``others``: a national, insurance or account number,
    never matched, by which a subject's identifier may still name the Patient)."""

    candidates: Candidates
    others: Candidates = ()


NO_PATIENT = PatientNumbers(())  # what a reference naming no Patient resolves to


class TooManyIdentifiers(ValueError):
    """More identifiers than a patient has: not read (each is compared with each)."""


def patient_numbers(patient: Patient) -> PatientNumbers:
    """The Patient's current numbers of patient number types and its other ones."""
    identifiers = patient.identifier or []
    return PatientNumbers(candidates_of(identifiers), _other_numbers(identifiers))


def candidates_of(identifiers: Sequence[Any]) -> Candidates:
    """The current identifiers (not ``use: old``) of patient number types."""
    if len(identifiers) > MAX_PATIENT_NUMBERS:
        raise TooManyIdentifiers(
            f"{len(identifiers)} identifiers of one patient; at most {MAX_PATIENT_NUMBERS} are read"
        )
    candidates = []
    for identifier in identifiers:
        kind = _kind(identifier)
        if identifier.use == "old" or kind is None:
            continue
        candidate = _candidate(identifier, kind)
        # as in HL7: an identifier without a value counts only when it names an authority
        # or a patient number type (it says the patient's number is missing)
        if candidate.value or candidate.authority_names or kind:
            candidates.append(candidate)
    return tuple(candidates)


def _candidate(identifier: Any, kind: str) -> IdentifierCandidate:
    assigner = identifier.assigner
    return IdentifierCandidate(
        (identifier.value or "").strip(),
        (identifier.system or "").strip(),
        kind,
        ((assigner.display if assigner is not None else None) or "").strip(),
    )


def _other_numbers(identifiers: Sequence[Any]) -> Candidates:
    """The current identifiers with a value that are of no patient number type (national,
    insurance, account: ``_kind`` None)."""
    return tuple(
        _candidate(identifier, "")
        for identifier in identifiers
        if identifier.use != "old"
        and (identifier.value or "").strip()
        and _kind(identifier) is None
    )


def _kind(identifier: Any) -> str | None:
    """The identifier's patient number type: MR if an HL7 table 0203 coding says so, else
    the first such coding of a patient number type; None when a coding of the table names
    another type (national, account, ...), and, without a patient number type of the table,
    when a local coding (another system) or ``type.text`` spells one (``FIN``, ``SSN``);
    otherwise untyped (""): a local code never names a patient number type."""
    kind = identifier.type
    kinds, other_type = [], False
    for coding in (kind.coding or []) if kind else []:
        code = (coding.code or "").strip()
        found = patient_number_type(code) if code else ""
        if coding.system and coding.system not in IDENTIFIER_TYPES:
            other_type = other_type or found is None  # a local code and its translation
            continue  # may come in any order; a local code names no patient number type
        if found is None:
            other_type = True
        elif found:
            kinds.append(found)
    if MEDICAL_RECORD in kinds:
        return MEDICAL_RECORD
    if kinds:
        return kinds[0]
    text = (kind.text or "").strip() if kind else ""
    return None if other_type or (text and patient_number_type(text) is None) else ""
