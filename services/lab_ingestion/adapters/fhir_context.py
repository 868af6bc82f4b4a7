"""The resources of a laboratory's report Bundle beside its Observations (review 121): read
for what they tell about the results, never stored, never rejected for being there.

A lab-report transaction (IHE LAB, the Swiss ch-lab-report, US Core) is a Patient, a
DiagnosticReport whose ``result[]`` lists the Observations, those Observations, and often
their Specimen, the performing Organization, the Practitioner(Role) who ordered, the
Encounter and the ServiceRequest. Of these:

- a Specimen gives the collection time of the Observations naming it (``fhir_collection``),
  by its ``fullUrl`` or ``Specimen/id``;
- a DiagnosticReport gives the Observations its ``result[]`` lists (by their ``fullUrl`` or
  ``Observation/id``) its ``effective[x]`` as their collection time where they give none
  (``fhir_collection``), and its ``issued`` as their report time where they have no
  ``issued`` (HL7's OBR-7 and OBR-22; review 131);
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

from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.specimen import Specimen

from services.lab_ingestion.adapters.fhir_collection import NO_REPORT, ReportTimes, specimen_time
from services.lab_ingestion.adapters.fhir_outcome import input_error, validate_resource
from services.lab_ingestion.adapters.fhir_screening import (
    screen_report_times,
    screen_specimen_times,
)
from services.lab_ingestion.adapters.fhir_status import STATUS_CODES
from services.lab_ingestion.adapters.fhir_unread import (
    MODIFIER_TEXT,
    RULES_TEXT,
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
    # reference to an Observation -> the times of each report listing it
    reports: dict[str, list[ReportTimes]] = field(default_factory=dict)

    def add(self, kind: str, entry: dict[str, Any], index: int) -> None:
        """Read the context entry ``index`` (a resource of ``kind``, one of
        ``CONTEXT_TYPES``); raises ``FhirInputError`` when it cannot be read safely."""
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
            time = specimen_time(validate_resource(Specimen, resource, where))
            self.specimens.update(dict.fromkeys(names, time))
        elif kind == "DiagnosticReport":
            screen_report_times(resource, where)
            report = validate_resource(DiagnosticReport, resource, where)
            listed = {ref.reference for ref in report.result or [] if ref.reference}
            if report.status in VOIDING_STATUSES:
                self.voided.update(listed)
            times = _report_times(report)
            for reference in listed:
                self.reports.setdefault(reference, []).append(times)

    def report_of(self, entry: dict[str, Any], obs: Observation) -> ReportTimes:
        """The times the DiagnosticReports listing the Observation of ``entry`` give it:
        ambiguous when two give different collection times; no report time when two give
        different ones (which is the result's is not known)."""
        found = {t for name in _observation_names(entry, obs) for t in self.reports.get(name, [])}
        if not found:
            return NO_REPORT
        effective = {(t.start, t.end) for t in found if t.start is not None or t.end is not None}
        issued = {t.issued for t in found if t.issued is not None}
        if len(effective) > 1:
            return ReportTimes(ambiguous=True)
        start, end = effective.pop() if effective else (None, None)
        return ReportTimes(start, end, issued.pop() if len(issued) == 1 else None)

    def refuse_if_voided(self, entry: dict[str, Any], obs: Observation, where: str) -> None:
        """Raise ``FhirInputError`` for an Observation holding a result that a void
        DiagnosticReport lists."""
        if STATUS_CODES.get(obs.status or "") in CANCELLING:
            return
        if _observation_names(entry, obs) & self.voided:
            raise input_error("business-rule", VOID_REPORT_TEXT, f"{where}.status")


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
