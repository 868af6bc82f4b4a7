"""The hospital numbers a FHIR Observation names its patient by (PROTOCOL section 6).

The subject is a logical reference (``subject.identifier``), a contained Patient (``#p1``)
or a Patient of the same Bundle (by fullUrl or relative reference), or the number of a
conditional reference (``Patient?identifier=sys|value``). When a Reference has
both, the literal reference decides, as FHIR says: one to a Group or Device names no
patient, and one resolving to a Patient without the identifier's number is refused. Two
contained Patients of one id, like two Bundle Patients of one reference, resolve to none
unless their numbers are the same. A Patient's numbers are read by
``fhir_patient_numbers``; which number is matched is decided by
``domain.patient_identity``, as for HL7 PID-3.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from services.lab_ingestion.adapters.fhir_conditional import conditional_numbers
from services.lab_ingestion.adapters.fhir_patient_numbers import (
    NO_PATIENT,
    Candidates,
    PatientNumbers,
    candidates_of,
    patient_numbers,
)
from services.lab_ingestion.domain.model import IdentifierCandidate
from shared.contracts.identity import normalise_hospital_identifier


class SubjectsDisagree(ValueError):
    """The subject's literal reference names a Patient whose numbers are not the number its
    identifier gives: which patient the result is of cannot be told."""


def subject_identifiers(obs: Observation, patients: BundlePatients | None = None) -> Candidates:
    """The numbers of the Observation's subject; () when it names none that can be read.

    The literal reference decides (FHIR R4 Reference: "when both an identifier and a literal
    reference are provided, the reference is preferred"): one naming another type than
    Patient (``Group/ward-7``, a Device) names no patient whatever identifier it carries,
    and one that resolves to a Patient (contained, or in the Bundle) whose numbers do not
    include the identifier's is refused (``SubjectsDisagree``), never read as either; so is
    a conditional reference (``Patient?identifier=sys|value``: ``fhir_conditional``) naming
    another number. The identifier alone names the patient when the reference cannot be
    resolved here."""
    subject = obs.subject
    if subject is None:
        return ()
    reference = (subject.reference or "").strip()
    if subject.type not in (None, "Patient") or _referenced_type(reference) not in (
        None, "Patient",
    ):  # fmt: skip
        return ()  # a Group, Device or Location is no patient
    logical = _logical_numbers(subject.identifier)
    conditional = conditional_numbers(reference) if not reference.startswith("#") else None
    if conditional is not None:  # one number: of the authority either names, if they agree
        agreed = _named_by_both(conditional, logical)
        return logical if any(n.authority_names for n in logical) else agreed
    referenced = _referenced_numbers(obs, reference, patients) if reference else None
    if referenced is None:
        return logical
    return _named_by_both(referenced, logical)


def _named_by_both(referenced: PatientNumbers, logical: Candidates) -> Candidates:
    """The referenced Patient's numbers that the identifier names (its MRN among several
    numbers of several authorities: the one the lab named), else all of them (no
    identifier, or one naming the Patient by a national number, which is never matched);
    refused when the identifier names a number the Patient does not have."""
    named: list[IdentifierCandidate] = []
    for given in (number for number in logical if number.value):
        same = [n for n in referenced.candidates if _same_number(n, given)]
        if not same and not any(_same_number(n, given) for n in referenced.others):
            raise SubjectsDisagree(
                "subject.reference names a Patient whose numbers are not subject.identifier's:"
                " which patient the result is of cannot be told"
            )
        named += same
    return tuple(dict.fromkeys(named)) or referenced.candidates


def _logical_numbers(identifier: Any) -> Candidates:
    """The patient number a Reference's identifier gives; () when it gives none."""
    if identifier is None or not (identifier.value or "").strip():
        return ()
    return candidates_of([identifier])


def _referenced_type(reference: str) -> str | None:
    """The resource type a literal reference names by its text (``Group`` of ``Group/7`` or
    of a server's URL of it, ``Patient`` of ``Patient?identifier=...``); None when its text
    does not say (``#p1``, ``urn:uuid:...``, a bare id)."""
    if not reference or reference.startswith(("#", "urn:")):
        return None
    path, conditional, _query = reference.partition("?")
    if conditional:
        return path.rstrip("/").rsplit("/", 1)[-1] or None
    parts = [part for part in without_history(path).split("/") if part]
    return parts[-2] if len(parts) >= 2 else None


def _referenced_numbers(
    obs: Observation, reference: str, patients: BundlePatients | None
) -> PatientNumbers | None:
    """The numbers of what the reference resolves to: none when that is no Patient, or two
    Patients of different numbers; None when it resolves to nothing here."""
    if reference.startswith("#"):
        return _contained_numbers(obs, reference[1:])
    return patients.find(reference) if patients is not None else None


def _contained_numbers(obs: Observation, local_id: str) -> PatientNumbers | None:
    """The numbers of the contained Patient of ``local_id``; two resources claiming that id
    resolve to none unless they are Patients of the same numbers (never the first)."""
    claimed: dict[str, PatientNumbers | None] = {}
    for resource in obs.contained or []:
        if getattr(resource, "id", None) != local_id:
            continue
        numbers = patient_numbers(resource) if isinstance(resource, Patient) else NO_PATIENT
        _claim(claimed, local_id, numbers)
    if local_id not in claimed:
        return None
    return claimed[local_id] or NO_PATIENT


def _same_number(number: IdentifierCandidate, given: IdentifierCandidate) -> bool:
    """Whether ``given`` (a subject's identifier) is ``number``: the same value as matching
    reads it (``normalise_hospital_identifier``: case and white space aside, one keyed
    hash), of the same authority where both name one."""
    same_value = normalise_hospital_identifier(number.value) == normalise_hospital_identifier(
        given.value
    )
    return same_value and (
        not number.authority_names
        or not given.authority_names
        or bool(number.authority_names & given.authority_names)
    )


class BundlePatients:
    """A Bundle's Patients, found by the references of one of its entries (FHIR's Bundle
    resolution): an absolute reference by the fullUrl it names; a relative one from an entry
    whose fullUrl is a server's URL by that server's URL of it (never another server's
    Patient of the same id), else by a Patient of no server URL of that id; a relative one
    from an entry of no server URL by the Patient of that type and id. Two Patients claiming
    one reference with different numbers resolve to none (missing); so does an entry that is
    no Patient, or that could not be read."""

    def __init__(self) -> None:
        self._absolute: dict[str, PatientNumbers | None] = {}
        self._local: dict[str, PatientNumbers | None] = {}  # Patients of no server URL
        self._any: dict[str, PatientNumbers | None] = {}  # every Patient, by type and id
        self._base: str | None = None  # of the entry whose references are resolved

    def add(
        self,
        full_url: object,
        patient_id: str | None,
        numbers: PatientNumbers,
        kind: str = "Patient",
    ) -> None:
        """A Patient entry and its numbers; or (``kind``) another entry, which a reference
        may name too: it has no patient numbers."""
        url = full_url if isinstance(full_url, str) and full_url else None
        if url is not None:
            _claim(self._absolute, without_history(url), numbers)
        if url is not None and _is_server_url(url):
            _claim(self._any, relative_reference(url), numbers)
        elif url is not None and not url.startswith("urn:") and "/" in url:  # "Patient/1"
            _claim(self._local, relative_reference(url), numbers)
            _claim(self._any, relative_reference(url), numbers)
        elif patient_id:
            _claim(self._local, f"{kind}/{patient_id}", numbers)
            _claim(self._any, f"{kind}/{patient_id}", numbers)

    def entry(self, full_url: object) -> BundlePatients:
        """The Patients as the entry of ``full_url`` sees them."""
        view = BundlePatients()
        view._absolute, view._local, view._any = self._absolute, self._local, self._any
        view._base = server_base(full_url)
        return view

    def resolve(self, reference: str) -> Candidates:
        """The numbers of the Patient the reference names; () when it names none."""
        return (self.find(reference) or NO_PATIENT).candidates

    def find(self, reference: str) -> PatientNumbers | None:
        """The numbers of the entry the reference names: () when it is no Patient or two
        entries claim it; None when no entry of the Bundle is named."""
        keys, key = self._absolute, without_history(reference)
        if not ("://" in reference or reference.startswith("urn:")):
            key = relative_reference(reference)
            if self._base is None:
                keys = self._any
            elif f"{self._base}/{key}" in self._absolute:
                key = f"{self._base}/{key}"
            else:
                keys = self._local
        if key not in keys:
            return None
        return keys[key] or NO_PATIENT


def _claim(keys: dict[str, PatientNumbers | None], key: str, numbers: PatientNumbers) -> None:
    if key in keys and keys[key] != numbers:
        keys[key] = None  # two Patients, two patients: neither
    else:
        keys[key] = numbers


def _is_server_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def without_history(url: str) -> str:
    parts = url.split("/")
    return "/".join(parts[: parts.index("_history")]) if "_history" in parts else url


def server_base(full_url: object) -> str | None:
    """``https://host/fhir`` of ``https://host/fhir/Observation/1``; None for a urn."""
    if not isinstance(full_url, str) or not _is_server_url(full_url):
        return None
    parts = without_history(full_url).rstrip("/").split("/")
    return "/".join(parts[:-2]) if len(parts) > 4 else None


def relative_reference(reference: str) -> str:
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])
