"""The hospital numbers a FHIR Observation names its patient by (PROTOCOL section 6).

The subject is a logical reference (``subject.identifier``), a contained Patient (``#p1``)
or a Patient of the same Bundle (by fullUrl or relative reference). A Patient's numbers are
its identifiers typed MR (medical record number, HL7 table 0203), as HL7 PID-3's MR
repetitions are; without one typed MR, its identifiers with a value. The assigning authority
of each is its ``system`` (else its assigner's name): which number is matched is decided by
``domain.patient_identity``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from services.lab_ingestion.domain.model import IdentifierCandidate

Candidates = tuple[IdentifierCandidate, ...]


def subject_identifiers(obs: Observation, patients: Mapping[str, Candidates]) -> Candidates:
    """The numbers of the Observation's subject; () when it names none that can be read."""
    subject = obs.subject
    if subject is None:
        return ()
    if subject.identifier is not None and subject.identifier.value:
        return (_candidate(subject.identifier),)
    reference = subject.reference or ""
    if reference.startswith("#"):
        for resource in obs.contained or []:
            if isinstance(resource, Patient) and resource.id == reference[1:]:
                return patient_identifiers(resource)
        return ()
    return _referenced(patients, reference)


def patient_identifiers(patient: Patient) -> Candidates:
    """The Patient's medical record numbers (typed MR) with a value, else, when none is typed
    MR, its identifiers with a value. Typed MR numbers without a value are no identifier:
    never another number in their place (none: missing)."""
    identifiers = patient.identifier or []
    typed_mr = [i for i in identifiers if _is_medical_record_number(i)]
    chosen = typed_mr or identifiers
    return tuple(_candidate(i) for i in chosen if i.value and i.value.strip())


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
    authority = identifier.system or (assigner.display if assigner is not None else None)
    return IdentifierCandidate(identifier.value.strip(), (authority or "").strip())


def _is_medical_record_number(identifier: Any) -> bool:
    kind = identifier.type
    codings = (kind.coding or []) if kind is not None else []
    return any((c.code or "").upper() == "MR" for c in codings)
