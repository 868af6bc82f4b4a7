"""The hospital numbers a FHIR Observation names its patient by (PROTOCOL section 6).

The subject is a logical reference (``subject.identifier``), a contained Patient (``#p1``)
or a Patient of the same Bundle (by fullUrl or relative reference). A Patient's numbers are
its current identifiers (not ``use: old``) of patient number types (HL7 table 0203: MR, PI,
PT, PN, PE, MRT, or untyped, as a local type code is; never a national, insurance, account
or other number of ``OTHER_NUMBER_TYPES``), each with its assigning authority: its
``system`` and its assigner's name. Which number is matched is
decided by ``domain.patient_identity``, as for HL7 PID-3.

The subject's other personal values (``Subject.personal``: every identifier's value, each
part of every name, the birth date in each spelling of ``scrub.date_spellings``, and the
reference's own display) are read only to be masked in the Observation's ids, as HL7's are
(``hl7_personal``): a laboratory may build an identifier from the patient's name or birth
date (``ROE-CRP-1``), and it is stored as the result key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from services.lab_ingestion.adapters.scrub import date_spellings
from services.lab_ingestion.domain.matching import NO_PERSONAL_VALUES, PersonalValues
from services.lab_ingestion.domain.model import (
    MAX_PATIENT_NUMBERS,
    MEDICAL_RECORD,
    IdentifierCandidate,
    patient_number_type,
)

Candidates = tuple[IdentifierCandidate, ...]
# HL7 table 0203 as FHIR R4 names it, as STU3 did (still sent), and by its OID
IDENTIFIER_TYPES = frozenset({
    "http://terminology.hl7.org/CodeSystem/v2-0203", "http://hl7.org/fhir/v2/0203",
    "urn:oid:2.16.840.1.113883.18.108", "urn:oid:2.16.840.1.113883.12.203",
})  # fmt: skip


# a name's parts: "Roe, Anna-Maria" is "Roe", "Anna" and "Maria" too
_NAME_SEPARATORS = re.compile(r"[\s,;:/()\[\]\"-]+")


class TooManyIdentifiers(ValueError):
    """More identifiers than a patient has: not read (each is compared with each)."""


@dataclass(frozen=True)
class Subject:
    """The patient an Observation names: their numbers (to match them by) and their other
    personal values (to be masked in the Observation's ids, never kept)."""

    numbers: Candidates = ()
    personal: PersonalValues = NO_PERSONAL_VALUES

    def named(self, also: PersonalValues) -> Subject:
        """The subject with ``also`` among its personal values."""
        personal = PersonalValues(
            self.personal.numbers + also.numbers, self.personal.names + also.names
        )
        return Subject(self.numbers, personal)


def subject_of(obs: Observation, patients: BundlePatients | None = None) -> Subject:
    """The Observation's subject; no numbers when it names none that can be read."""
    subject = obs.subject
    if subject is None or subject.type not in (None, "Patient"):
        return Subject()  # a Group, Device or Location is no patient
    reference_values = _reference_values(subject)
    if subject.identifier is not None and (subject.identifier.value or "").strip():
        numbers = _candidates([subject.identifier])
        if numbers or not subject.reference:
            # else: not a patient number, the reference may name the Patient
            return Subject(numbers, reference_values)
    reference = subject.reference or ""
    if reference.startswith("#"):
        for resource in obs.contained or []:
            if isinstance(resource, Patient) and resource.id == reference[1:]:
                return patient_subject(resource).named(reference_values)
        return Subject((), reference_values)
    found = patients.resolve(reference) if patients is not None else Subject()
    return found.named(reference_values)


def patient_subject(patient: Patient) -> Subject:
    """A Patient's numbers (``patient_identifiers``) and other personal values: every
    identifier's value (of any type or use), each part of every name, the birth date in
    each of its spellings (a partial date in none)."""
    numbers = [str(i.value).strip() for i in patient.identifier or [] if i.value]
    birth = patient.birthDate
    if isinstance(birth, date):
        numbers += date_spellings(f"{birth.year:04d}", f"{birth.month:02d}", f"{birth.day:02d}")
    names = [
        part
        for name in islice(patient.name or [], MAX_PATIENT_NUMBERS)
        for part in _name_parts(name.family, name.text, *(name.given or []))
    ]
    return Subject(patient_identifiers(patient), PersonalValues(tuple(numbers), tuple(names)))


def _reference_values(reference: Any) -> PersonalValues:
    """A reference's own identifier value and display (a patient's name, as often as not)."""
    identifier = reference.identifier
    value = str(identifier.value).strip() if identifier is not None and identifier.value else ""
    return PersonalValues((value,) if value else (), tuple(_name_parts(reference.display)))


def _name_parts(*texts: str | None) -> Iterator[str]:
    """Each text whole and each of its parts (at most MAX_PATIENT_NUMBERS texts)."""
    for text in islice((t.strip() for t in texts if t and t.strip()), MAX_PATIENT_NUMBERS):
        yield text
        yield from (part for part in _NAME_SEPARATORS.split(text) if part and part != text)


class BundlePatients:
    """A Bundle's Patients, found by the references of one of its entries (FHIR's Bundle
    resolution): an absolute reference by the fullUrl it names; a relative one from an entry
    whose fullUrl is a server's URL by that server's URL of it (never another server's
    Patient of the same id), else by a Patient of no server URL of that id; a relative one
    from an entry of no server URL by the Patient of that type and id. Two Patients claiming
    one reference with different numbers resolve to none (missing)."""

    def __init__(self) -> None:
        self._absolute: dict[str, Subject | None] = {}
        self._local: dict[str, Subject | None] = {}  # Patients of no server URL
        self._any: dict[str, Subject | None] = {}  # every Patient, by type and id
        self._base: str | None = None  # of the entry whose references are resolved

    def add(self, full_url: object, patient_id: str | None, patient: Subject) -> None:
        url = full_url if isinstance(full_url, str) and full_url else None
        if url is not None:
            _claim(self._absolute, _without_history(url), patient)
        if url is not None and _is_server_url(url):
            _claim(self._any, relative_reference(url), patient)
        elif url is not None and not url.startswith("urn:") and "/" in url:  # "Patient/1"
            _claim(self._local, relative_reference(url), patient)
            _claim(self._any, relative_reference(url), patient)
        elif patient_id:
            _claim(self._local, f"Patient/{patient_id}", patient)
            _claim(self._any, f"Patient/{patient_id}", patient)

    def entry(self, full_url: object) -> BundlePatients:
        """The Patients as the entry of ``full_url`` sees them."""
        view = BundlePatients()
        view._absolute, view._local, view._any = self._absolute, self._local, self._any
        view._base = _server_base(full_url)
        return view

    def resolve(self, reference: str) -> Subject:
        if "://" in reference or reference.startswith("urn:"):
            return self._absolute.get(_without_history(reference)) or Subject()
        relative = relative_reference(reference)
        if self._base is None:
            return self._any.get(relative) or Subject()
        absolute = f"{self._base}/{relative}"
        if absolute in self._absolute:
            return self._absolute[absolute] or Subject()
        return self._local.get(relative) or Subject()


def _claim(keys: dict[str, Subject | None], key: str, patient: Subject) -> None:
    """Two Patients claiming one reference with other numbers are two patients: neither
    (with the same numbers, the personal values of both are masked)."""
    if key not in keys:
        keys[key] = patient
        return
    claimed = keys[key]
    if claimed is None or claimed.numbers != patient.numbers:
        keys[key] = None
    else:
        keys[key] = claimed.named(patient.personal)


def _is_server_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _without_history(url: str) -> str:
    parts = url.split("/")
    return "/".join(parts[: parts.index("_history")]) if "_history" in parts else url


def _server_base(full_url: object) -> str | None:
    """``https://host/fhir`` of ``https://host/fhir/Observation/1``; None for a urn."""
    if not isinstance(full_url, str) or not _is_server_url(full_url):
        return None
    parts = _without_history(full_url).rstrip("/").split("/")
    return "/".join(parts[:-2]) if len(parts) > 4 else None


def patient_identifiers(patient: Patient) -> Candidates:
    """The Patient's current numbers of patient number types; one without a value stays a
    candidate when it is typed or names an authority (the number is missing: never another
    number in its place)."""
    return _candidates(patient.identifier or [])


def relative_reference(reference: str) -> str:
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])


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
        candidate = IdentifierCandidate(
            (identifier.value or "").strip(),
            (identifier.system or "").strip(),
            kind,
            ((assigner.display if assigner is not None else None) or "").strip(),
        )
        # as in HL7: an identifier without a value counts only when it names an authority
        # or a patient number type (it says the patient's number is missing)
        if candidate.value or candidate.authority_names or kind:
            candidates.append(candidate)
    return tuple(candidates)


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
