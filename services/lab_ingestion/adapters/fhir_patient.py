"""The hospital numbers a FHIR Observation names its patient by (PROTOCOL section 6).

The subject is a logical reference (``subject.identifier``), a contained Patient (``#p1``)
or a Patient of the same Bundle (by fullUrl or relative reference). A Patient's numbers are
its current identifiers (not ``use: old``) of patient number types (HL7 table 0203: MR, PI,
PT, PN, PE, or untyped; never a national, insurance or account number), each with its
assigning authority: its ``system`` and its assigner's name. Which number is matched is
decided by ``domain.patient_identity``, as for HL7 PID-3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from services.lab_ingestion.domain.model import (
    MAX_PATIENT_NUMBERS,
    MEDICAL_RECORD,
    IdentifierCandidate,
    patient_number_type,
)

Candidates = tuple[IdentifierCandidate, ...]


class TooManyIdentifiers(ValueError):
    """More identifiers than a patient has: not read (each is compared with each)."""


def subject_identifiers(obs: Observation, patients: Mapping[str, Candidates]) -> Candidates:
    """The numbers of the Observation's subject; () when it names none that can be read."""
    subject = obs.subject
    if subject is None:
        return ()
    if subject.type not in (None, "Patient"):
        return ()  # a Group, Device or Location is no patient
    if subject.identifier is not None and (subject.identifier.value or "").strip():
        return _candidates([subject.identifier])
    reference = subject.reference or ""
    if reference.startswith("#"):
        for resource in obs.contained or []:
            if isinstance(resource, Patient) and resource.id == reference[1:]:
                return patient_identifiers(resource)
        return ()
    return _referenced(patients, reference)


def patient_identifiers(patient: Patient) -> Candidates:
    """The Patient's current numbers of patient number types; one typed MR without a value
    stays a candidate (it names an authority: never another number in its place)."""
    return _candidates(patient.identifier or [])


def relative_reference(reference: str) -> str:
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])


def _referenced(patients: Mapping[str, Candidates], reference: str) -> Candidates:
    """A Bundle's Patient by its fullUrl or relative reference; another server's Patient/1
    (an absolute URL not in the Bundle) is not this Bundle's Patient/1."""
    if reference in patients or "://" in reference:
        return patients.get(reference, ())
    return patients.get(relative_reference(reference), ())


def _candidates(identifiers: Sequence[Any]) -> Candidates:
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
        assigner = identifier.assigner
        candidates.append(
            IdentifierCandidate(
                (identifier.value or "").strip(),
                (identifier.system or "").strip(),
                kind,
                ((assigner.display if assigner is not None else None) or "").strip(),
            )
        )
    return tuple(candidates)


def _kind(identifier: Any) -> str | None:
    """The identifier's patient number type (MR if any coding says so; None: none)."""
    kind = identifier.type
    codes = [c.code or "" for c in (kind.coding or [])] if kind else []
    kinds = [patient_number_type(code) for code in codes if code.strip()]
    if MEDICAL_RECORD in kinds:
        return MEDICAL_RECORD
    return kinds[0] if kinds else ""
