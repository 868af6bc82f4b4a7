"""The hospital numbers a FHIR Observation names its patient by (PROTOCOL section 6).

The subject is a logical reference (``subject.identifier``), a contained Patient (``#p1``)
or a Patient of the same Bundle (by fullUrl or relative reference). A Patient's numbers are
its current identifiers (not ``use: old``) of patient number types (HL7 table 0203: MR, PI,
PT, PN, PE, or untyped; never a national, insurance or account number), each with its
assigning authority: its ``system`` and its assigner's name. Which number is matched is
decided by ``domain.patient_identity``, as for HL7 PID-3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from services.lab_ingestion.domain.model import (
    MEDICAL_RECORD,
    PATIENT_NUMBER_TYPES,
    IdentifierCandidate,
)

Candidates = tuple[IdentifierCandidate, ...]


def subject_identifiers(obs: Observation, patients: Mapping[str, Candidates]) -> Candidates:
    """The numbers of the Observation's subject; () when it names none that can be read."""
    subject = obs.subject
    if subject is None:
        return ()
    if subject.identifier is not None and (subject.identifier.value or "").strip():
        candidate = _candidate(subject.identifier)
        return (candidate,) if candidate.kind in PATIENT_NUMBER_TYPES else ()
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
    candidates = (_candidate(i) for i in patient.identifier or [] if i.use != "old")
    return tuple(c for c in candidates if c.kind in PATIENT_NUMBER_TYPES)


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


def _candidate(identifier: Any) -> IdentifierCandidate:
    assigner = identifier.assigner
    return IdentifierCandidate(
        (identifier.value or "").strip(),
        (identifier.system or "").strip(),
        _kind(identifier),
        ((assigner.display if assigner is not None else None) or "").strip(),
    )


def _kind(identifier: Any) -> str:
    """The identifier's type code (HL7 table 0203, upper case): MR if any coding says so."""
    kind = identifier.type
    codes = [(c.code or "").strip().upper() for c in (kind.coding or [])] if kind else []
    return MEDICAL_RECORD if MEDICAL_RECORD in codes else next((c for c in codes if c), "")
