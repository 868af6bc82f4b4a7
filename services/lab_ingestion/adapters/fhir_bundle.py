"""FHIR R4 Bundles for ``POST /fhir``: a transaction (all or nothing) or a batch (each entry
on its own), parsed entry by entry and in order.

- An Observation entry becomes a ``LabMessage``.
- A Patient entry only resolves the Observations' ``subject.reference`` (patient matching);
  it is never stored.
- A lab report's other resources (a DiagnosticReport, Specimen, Organization,
  Practitioner(Role), Encounter, ServiceRequest: ``fhir_context``) are read as context
  (a Specimen's collection time, a void report) and never stored (review 121); a trial
  result contained in a DiagnosticReport or an Observation is refused (review 157).
- An Observation entry's request, when given, is a POST (a create); another method cannot be
  used.
- A modifier extension or implicit rules on a Patient entry, or on the entry or request of
  it or of a trial Observation, is refused (``fhir_unread``).
- Any other entry cannot be used: in a batch it is answered on its own (``BundleEntry.error``,
  ``not-supported`` for another resource type), in a transaction it fails the whole Bundle.

Diagnostics never echo submitted values; a resource type is named only when it is one of
FHIR's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource

from services.lab_ingestion.adapters.fhir_context import CONTEXT_TYPES, BundleContext
from services.lab_ingestion.adapters.fhir_limits import refuse_too_many, refuse_too_many_in_all
from services.lab_ingestion.adapters.fhir_outcome import (
    FhirInputError,
    all_errors,
    input_error,
    validate_resource,
)
from services.lab_ingestion.adapters.fhir_parser import (
    Identify,
    observation_message,
    validated_observation,
)
from services.lab_ingestion.adapters.fhir_patient import BundlePatients
from services.lab_ingestion.adapters.fhir_patient_numbers import (
    NO_PATIENT,
    TooManyIdentifiers,
    patient_numbers,
)
from services.lab_ingestion.adapters.fhir_screening import (
    refuse_focus,
    refuse_test_data,
)
from services.lab_ingestion.adapters.fhir_status import of_a_trial_analyte
from services.lab_ingestion.adapters.fhir_unread import (
    RULES_TEXT,
    refuse_unread_entry,
    refuse_unread_resource,
)
from services.lab_ingestion.adapters.hl7_msh import PRODUCTION
from services.lab_ingestion.domain.model import LabMessage

TRANSACTION = "transaction"
BATCH = "batch"
BUNDLE_TYPES = frozenset({TRANSACTION, BATCH})
_ACCEPTED = (
    "only Observation (and Patient, to match the patient, and a lab report's "
    f"{', '.join(sorted(CONTEXT_TYPES))} as context) can be posted"
)
# A laboratory's Bundle holds a panel or a day's results, not thousands: parsing about 1 ms
# an entry, a bigger one would hold the service for seconds
MAX_BUNDLE_ENTRIES = 1000


@dataclass(frozen=True)
class BundleEntry:
    """One request entry: an Observation to ingest (``message``), an entry that cannot be used
    (``error``), an Observation of no trial analyte or with no result yet (``ignored``, as
    an HL7 message's other observations are: beyond FHIR validity and a test-data label,
    nothing else of it is checked, a focus neither), or none of these: a Patient, used for
    matching only, or another resource of a lab report read as context (``context``: its
    type; ``ignored`` too when it is a DiagnosticReport containing Observations, of other
    tests: one of a trial analyte is refused, ``fhir_context``)."""

    index: int
    message: LabMessage | None = None
    error: FhirInputError | None = None
    ignored: bool = False
    context: str | None = None

    @property
    def is_patient(self) -> bool:
        return self.message is None and self.error is None and not self.ignored and not self.context


@dataclass(frozen=True)
class ParsedBundle:
    type: str  # TRANSACTION or BATCH
    entries: tuple[BundleEntry, ...]  # one per request entry, in order

    @property
    def messages(self) -> tuple[LabMessage, ...]:
        return tuple(e.message for e in self.entries if e.message is not None)


def parse_bundle(
    bundle: dict[str, Any],
    source_application: str,
    source_facility: str,
    identify: Identify | None = None,
    *,
    processing_id: str = PRODUCTION,
    configured_as: tuple[str, str] | None = None,
) -> ParsedBundle:
    """Every entry of a transaction or batch Bundle, in order.

    Raises ``FhirInputError`` when the Bundle itself is unusable (or labelled test data on a
    production deployment: ``processing_id``) and, for a transaction, when any of its
    entries is (with the issues of all of them).
    """
    refuse_test_data(bundle, "Bundle", processing_id)
    entries = _bundle_entries(bundle)
    patients = BundlePatients()
    context = BundleContext.of(entries)  # every Observation, which a report may name
    parsed: dict[int, BundleEntry] = {}
    observations: list[tuple[int, Observation, dict[str, Any], str]] = []
    for index, entry in enumerate(entries):
        where = f"Bundle.entry[{index}].resource"
        resource = entry.get("resource")
        try:
            _screen(resource, where, processing_id)
            kind = _resource_type(resource, where)
            if kind in CONTEXT_TYPES:
                ignored = context.add(kind, entry, index)  # a report's others' Observations
                parsed[index] = BundleEntry(index, ignored=ignored, context=kind)
                _add_no_patient(patients, entry.get("fullUrl"), resource)
                continue
            if kind == "Patient":
                patient = validate_resource(Patient, resource, where)
                refuse_unread_entry(entry, f"Bundle.entry[{index}]")
                refuse_unread_resource(patient, where, "patient")
                try:
                    numbers = patient_numbers(patient)
                except TooManyIdentifiers as exc:
                    raise input_error("too-costly", str(exc), f"{where}.identifier") from None
                patients.add(entry.get("fullUrl"), patient.id, numbers)
                parsed[index] = BundleEntry(index)
                continue
            _check_create(entry.get("request"), f"Bundle.entry[{index}].request")
            observation = validated_observation(resource, where)
            observations.append((index, observation, entry, where))
        except FhirInputError as exc:
            parsed[index] = BundleEntry(index, error=exc)
        _add_no_patient(patients, entry.get("fullUrl"), resource)
    # after every Patient entry is known: an Observation may come before its Patient
    for index, observation, entry, where in observations:
        if not of_a_trial_analyte(observation):
            parsed[index] = BundleEntry(index, ignored=True)
            continue
        try:
            refuse_unread_entry(entry, f"Bundle.entry[{index}]")
            refuse_focus(entry["resource"], where)
            context.refuse_if_voided(entry, observation, where)
            message = observation_message(
                observation, where, patients.entry(entry.get("fullUrl")), source_application,
                source_facility, identify=identify, configured_as=configured_as,
                specimens=context.specimens, report=context.report_of(entry, observation, patients),
            )  # fmt: skip
            parsed[index] = BundleEntry(index, message=message)
        except FhirInputError as exc:
            parsed[index] = BundleEntry(index, error=exc)
    result = ParsedBundle(bundle["type"], tuple(parsed[i] for i in range(len(entries))))
    errors = [e.error for e in result.entries if e.error is not None]
    if result.type == TRANSACTION and errors:
        raise all_errors(errors)
    return result


def _add_no_patient(patients: BundlePatients, full_url: object, resource: object) -> None:
    """An entry that is no Patient, or that could not be read, resolves a reference naming
    it to no patient numbers: the subject's identifier never stands in for it."""
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    resource_id = resource.get("id") if isinstance(resource, dict) else None
    if isinstance(kind, str) and isinstance(resource_id, str):
        patients.add(full_url, resource_id, NO_PATIENT, kind=kind)
    else:
        patients.add(full_url, None, NO_PATIENT)


def _screen(resource: object, where: str, processing_id: str) -> None:
    """Refuse an entry's resource labelled test data (a test patient's too) or holding more
    contained resources or identifiers than a laboratory's does (``fhir_limits``)."""
    refuse_test_data(resource, where, processing_id)
    refuse_too_many(resource, where)


def _bundle_entries(bundle: object) -> list[dict[str, Any]]:
    if not isinstance(bundle, dict):
        raise input_error("structure", "expected a JSON object", "Bundle")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise input_error("structure", "entry must be a list of objects", "Bundle.entry")
    if len(entries) > MAX_BUNDLE_ENTRIES:
        raise input_error(
            "too-costly", f"a Bundle holds at most {MAX_BUNDLE_ENTRIES} entries: split it",
            "Bundle.entry",
        )  # fmt: skip
    refuse_too_many_in_all(bundle, "Bundle.entry")
    # the envelope is validated without its resources, which are validated one by one
    envelope = dict(bundle)
    if entries:
        envelope["entry"] = [{k: v for k, v in e.items() if k != "resource"} for e in entries]
    validate_resource(Bundle, envelope, "Bundle")
    if bundle.get("implicitRules"):
        raise input_error("not-supported", RULES_TEXT.format("Bundle"), "Bundle.implicitRules")
    if bundle.get("type") not in BUNDLE_TYPES:
        raise input_error(
            "not-supported", "Bundle type must be transaction or batch", "Bundle.type"
        )
    return entries


def _check_create(request: object, where: str) -> None:
    """An Observation entry is a create: its request, when given, is a POST. A PUT, DELETE
    or GET of a result is another operation, which this service does not perform (a changed
    result is a new Observation with status corrected; a withdrawn one, entered-in-error)."""
    method = request.get("method") if isinstance(request, dict) else None
    if method is not None and method != "POST":
        shown = method if method in {"PUT", "PATCH", "DELETE", "GET", "HEAD"} else "this method"
        raise input_error(
            "not-supported", f"{shown} is not supported: an Observation is posted (POST); "
            "send a change as status corrected, a withdrawal as entered-in-error",
            f"{where}.method",
        )  # fmt: skip


def _resource_type(resource: object, where: str) -> str:
    """Observation, Patient or a context resource (``CONTEXT_TYPES``); anything else is an
    input error."""
    if not isinstance(resource, dict):
        code = "required" if resource is None else "structure"
        raise input_error(code, f"the entry has no resource; {_ACCEPTED}", where)
    kind = resource.get("resourceType")
    if kind in ("Observation", "Patient") or kind in CONTEXT_TYPES:
        return str(kind)
    if isinstance(kind, str) and _is_fhir_resource_type(kind):
        raise input_error(
            "not-supported", f"{kind} is not supported; {_ACCEPTED}", f"{where}.resourceType"
        )
    raise input_error(
        "invalid", f"resourceType is missing or unknown; {_ACCEPTED}", f"{where}.resourceType"
    )


def _is_fhir_resource_type(name: str) -> bool:
    if not name.isascii() or not name.isalpha() or len(name) > 64:
        return False
    try:
        return issubclass(get_fhir_model_class(name), Resource)
    except ValueError:
        return False
