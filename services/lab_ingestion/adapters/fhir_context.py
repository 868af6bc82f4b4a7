"""The resources of a laboratory's report Bundle beside its Observations (review 121): read
for what they tell about the results, never stored, never rejected for being there.

A lab-report transaction (IHE LAB, the Swiss ch-lab-report, US Core) is a Patient, a
DiagnosticReport whose ``result[]`` lists the Observations, those Observations, and often
their Specimen, the performing Organization, the Practitioner(Role) who ordered, the
Encounter and the ServiceRequest. Of these:

- a Specimen gives the collection time of the Observations naming it (``fhir_collection``),
  by its ``fullUrl`` or ``Specimen/id``;
- a DiagnosticReport gives the Observations its ``result[]`` lists its ``effective[x]`` as
  their collection time where they give none (``fhir_collection``), and its ``issued`` as
  their report time where they have no ``issued`` (HL7's OBR-7 and OBR-22; review 131); only
  to an Observation its reference resolves to alone, as a Patient reference is resolved (an
  absolute one by the ``fullUrl`` it names; a relative one from a report of a server's URL by
  that server's URL of it, else by the one Observation of that id), and whose ``subject``
  is written as the report's (review 134: another server's or patient's report placed a
  result);
- a DiagnosticReport containing an Observation that would be a trial result (``contained``,
  listed in ``result[]`` as ``#id`` or not) is refused, as a trial result in a component is
  (``fhir_unread``; review 157: a grade-4 neutrophil count answered "context only"), after
  it is read (a void report still voids the entries it lists); one containing only other
  tests' Observations is read, and they are ignored;
- a DiagnosticReport whose status is ``entered-in-error`` or ``cancelled`` says its results
  are void: an Observation it lists that still holds a result (final, preliminary,
  corrected...) contradicts it, and is refused (which is right cannot be told); one that is
  itself entered-in-error or cancelled withdraws its result as it would alone;
- the others are context only.

Each is checked as a Patient entry is (a modifier extension or implicit rules on it, its
entry or request is refused: it may change what the report means); a DiagnosticReport or
Specimen is validated against its model. Their redacted copies keep little
(``fhir_redaction``: a report's ``presentedForm``, its PDF, and ``conclusion`` never).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.specimen import Specimen

from services.lab_ingestion.adapters.fhir_collection import (
    NO_REPORT,
    ReportTimes,
    refuse_reversed,
    specimen_time,
)
from services.lab_ingestion.adapters.fhir_outcome import input_error, validate_resource
from services.lab_ingestion.adapters.fhir_patient import (
    BundlePatients,
    relative_reference,
    server_base,
    without_history,
)
from services.lab_ingestion.adapters.fhir_patient_numbers import NO_PATIENT
from services.lab_ingestion.adapters.fhir_screening import (
    screen_report_times,
    screen_specimen_times,
)
from services.lab_ingestion.adapters.fhir_status import STATUS_CODES
from services.lab_ingestion.adapters.fhir_unread import (
    MODIFIER_TEXT,
    RULES_TEXT,
    refuse_contained_results,
    refuse_unread_entry,
)
from services.lab_ingestion.domain.result_status import CANCELLING

CONTEXT_TYPES = frozenset(
    {
        "DiagnosticReport",
        "Specimen",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Encounter",
        "ServiceRequest",
    }
)
# what a context resource's redacted copy keeps besides its common elements (identifiers
# hashed): what tells which results, tests, times and statuses the report is about; never
# a DiagnosticReport's presentedForm (the printed report, a PDF) nor its conclusion text
CONTEXT_KEPT: dict[str, frozenset[str]] = {
    "diagnosticreport": frozenset({"basedOn", "status", "category", "code", "subject",
        "effectiveDateTime", "effectivePeriod", "issued", "specimen", "result"}),
    "specimen": frozenset({"status", "type", "subject", "receivedTime", "parent", "request",
        "collection"}),
    "servicerequest": frozenset({"status", "intent", "category", "code", "subject",
        "specimen"}),
    "encounter": frozenset({"status", "class", "subject"}),
    "organization": frozenset({"active", "type"}),
    "practitioner": frozenset({"active"}),
    "practitionerrole": frozenset({"active", "code", "organization"}),
}  # fmt: skip
CONTEXT_IDENTIFIERS = frozenset({"identifier", "accessionIdentifier", "requisition"})
# of a Specimen's collection, only its time (its collector is a person)
COLLECTION_KEPT = frozenset({"collectedDateTime", "collectedPeriod"})
VOIDING_STATUSES = frozenset({"entered-in-error", "cancelled"})
VOID_REPORT_TEXT = (
    "the DiagnosticReport listing this result (its result[]) is entered-in-error or "
    "cancelled, while this Observation holds a result: which is right cannot be told; "
    "withdraw the result as entered-in-error, or send the report again as it stands"
)


@dataclass
class BundleContext:
    """What a Bundle's context entries tell its Observations."""

    specimens: dict[str, object] = field(default_factory=dict)  # reference -> collection time
    voided: set[str] = field(default_factory=set)  # Observations a void report lists
    reports: list[_Report] = field(default_factory=list)
    # every Observation entry's fullUrl (without history) and Observation/id, claimed how often
    observation_urls: Counter[str] = field(default_factory=Counter)
    observation_ids: Counter[str] = field(default_factory=Counter)
    local_observation_ids: Counter[str] = field(default_factory=Counter)  # of no server URL

    @classmethod
    def of(cls, entries: list[Any]) -> BundleContext:
        """A Bundle's context, knowing every Observation entry (read or not), which a
        report's reference may name."""
        context = cls()
        for entry in entries:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "Observation":
                context._claim_observation(entry.get("fullUrl"), resource.get("id"))
        return context

    def _claim_observation(self, full_url: object, resource_id: object) -> None:
        if isinstance(full_url, str) and full_url:
            self.observation_urls[without_history(full_url)] += 1
        if isinstance(resource_id, str) and resource_id:
            self.observation_ids[f"Observation/{resource_id}"] += 1
            if not (isinstance(full_url, str) and full_url.startswith(("http://", "https://"))):
                self.local_observation_ids[f"Observation/{resource_id}"] += 1

    def add(self, kind: str, entry: dict[str, Any], index: int) -> bool:
        """Read the context entry ``index`` (a resource of ``kind``, one of
        ``CONTEXT_TYPES``); raises ``FhirInputError`` when it cannot be read safely. True
        for a DiagnosticReport containing Observations (of other tests: ignored)."""
        where = f"Bundle.entry[{index}].resource"
        resource = entry["resource"]
        refuse_unread_entry(entry, f"Bundle.entry[{index}]")
        what = kind.lower()
        if resource.get("implicitRules"):
            raise input_error("not-supported", RULES_TEXT.format(what), f"{where}.implicitRules")
        if resource.get("modifierExtension"):
            raise input_error(
                "not-supported", MODIFIER_TEXT.format(what), f"{where}.modifierExtension"
            )
        names = _names(kind, entry)
        if kind == "Specimen":
            screen_specimen_times(resource, where)
            specimen = validate_resource(Specimen, resource, where)
            collection = specimen.collection
            period = collection.collectedPeriod if collection is not None else None
            refuse_reversed(period, f"{where}.collection.collectedPeriod")
            time = specimen_time(specimen)
            self.specimens.update(dict.fromkeys(names, time))
        elif kind == "DiagnosticReport":
            screen_report_times(resource, where)
            report = validate_resource(DiagnosticReport, resource, where)
            refuse_reversed(report.effectivePeriod, f"{where}.effectivePeriod")
            listed = {ref.reference for ref in report.result or [] if ref.reference}
            if report.status in VOIDING_STATUSES:
                self.voided.update(listed)
            subject = report.subject.reference if report.subject is not None else None
            full_url = entry.get("fullUrl")
            self.reports.append(
                _Report(server_base(full_url), full_url, subject, listed, _report_times(report))
            )
            refuse_contained_results(report, where)  # once read: a void one still voids
            return any(isinstance(inner, Observation) for inner in report.contained or [])
        return False

    def report_of(
        self, entry: dict[str, Any], obs: Observation, patients: BundlePatients | None = None
    ) -> ReportTimes:
        """The times the DiagnosticReports listing the Observation of ``entry`` give it:
        ambiguous when two give different collection times; no report time when two give
        different ones (which is the result's is not known)."""
        subject = obs.subject.reference if obs.subject is not None else None
        found = {
            report.times
            for report in self.reports
            if not _of_another_patient(report, subject, entry.get("fullUrl"), patients)
            and any(self._names_it(report, reference, entry, obs) for reference in report.listed)
        }
        if not found:
            return NO_REPORT
        effective = {(t.start, t.end) for t in found if t.start is not None or t.end is not None}
        issued = {t.issued for t in found if t.issued is not None}
        if len(effective) > 1:
            return ReportTimes(ambiguous=True)
        start, end = effective.pop() if effective else (None, None)
        return ReportTimes(start, end, issued.pop() if len(issued) == 1 else None)

    def _names_it(
        self, report: _Report, reference: str, entry: dict[str, Any], obs: Observation
    ) -> bool:
        """Whether the report's ``reference`` resolves to the Observation of ``entry``, and
        to it alone."""
        full_url = entry.get("fullUrl")
        own_url = without_history(full_url) if isinstance(full_url, str) and full_url else None
        if "://" in reference or reference.startswith("urn:"):
            target = without_history(reference)
            return target == own_url and self.observation_urls[target] == 1
        key = relative_reference(reference)
        if obs.id is None and report.base is None:
            return False
        if report.base is None:  # a report of no server URL: the one Observation of that id
            return key == f"Observation/{obs.id}" and self.observation_ids[key] == 1
        target = f"{report.base}/{key}"
        if self.observation_urls[target] > 0:  # that server's Observation of that id
            return target == own_url and self.observation_urls[target] == 1
        local = own_url is None or not own_url.startswith(("http://", "https://"))
        return (  # else the one of that id of no server URL, never another server's
            local and key == f"Observation/{obs.id}" and self.local_observation_ids[key] == 1
        )

    def refuse_if_voided(self, entry: dict[str, Any], obs: Observation, where: str) -> None:
        """Raise ``FhirInputError`` for an Observation holding a result that a void
        DiagnosticReport lists."""
        if STATUS_CODES.get(obs.status or "") in CANCELLING:
            return
        if _observation_names(entry, obs) & self.voided:
            raise input_error("business-rule", VOID_REPORT_TEXT, f"{where}.status")


@dataclass(frozen=True)
class _Report:
    """A DiagnosticReport entry: its server's base URL (None: a urn), its ``fullUrl``, its
    ``subject`` reference as written, the references of its ``result[]``, and its times."""

    base: str | None
    full_url: object
    subject: str | None
    listed: set[str]
    times: ReportTimes


def _of_another_patient(
    report: _Report, subject: str | None, full_url: object, patients: BundlePatients | None
) -> bool:
    """Whether the report's ``subject`` and the Observation's name different patients: both
    references, resolved in the Bundle (each from its own entry) to different Patients, or,
    where either resolves to none, written differently. A subject given by identifier alone,
    or none, tells nothing against the report (review 135)."""
    if report.subject is None or subject is None or report.subject == subject:
        return False
    if patients is not None:
        of_report = patients.entry(report.full_url).find(report.subject)
        of_result = patients.entry(full_url).find(subject)
        if of_report not in (None, NO_PATIENT) and of_result not in (None, NO_PATIENT):
            return of_report != of_result  # each one Patient's numbers
    return True


def context_type(node: dict[Any, Any]) -> str | None:
    """The lower-case type of a context resource (``CONTEXT_KEPT``), else None."""
    kind = node.get("resourceType")
    name = kind.strip().lower() if isinstance(kind, str) else None
    return name if name in CONTEXT_KEPT else None


def _report_times(report: DiagnosticReport) -> ReportTimes:
    """A report's ``effective[x]`` (a dateTime: the start and end of no span) and ``issued``."""
    start: object
    end: object
    if report.effectiveDateTime is not None:
        start = end = report.effectiveDateTime
    elif report.effectivePeriod is not None:
        start, end = report.effectivePeriod.start, report.effectivePeriod.end
    else:
        start = end = None
    return ReportTimes(start, end, report.issued)


def _observation_names(entry: dict[str, Any], obs: Observation) -> set[str]:
    return set(_names("Observation", entry)) | ({f"Observation/{obs.id}"} if obs.id else set())


def _names(kind: str, entry: dict[str, Any]) -> list[str]:
    """How a reference names the entry: its ``fullUrl``, and ``Type/id``."""
    full_url, resource_id = entry.get("fullUrl"), entry["resource"].get("id")
    names = [full_url] if isinstance(full_url, str) and full_url else []
    if isinstance(resource_id, str) and resource_id:
        names.append(f"{kind}/{resource_id}")
    return names
