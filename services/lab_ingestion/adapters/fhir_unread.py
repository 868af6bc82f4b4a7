"""What a FHIR resource or Bundle entry says that this service does not read, and so refuses
rather than store a result without it (400 ``not-supported``, kept as a rejection).

FHIR R4 (extensibility): a processor SHALL refuse data whose modifier extension or implicit
rules it does not understand, for they may change what it means: on the Observation, its
reference ranges and components, on the Patient its subject is matched by (contained or a
Bundle entry: "identity unverified" would make the match a guess), and on the Bundle entry
or request that carries either. A trial result in a component (a CBC panel's neutrophil
count) is refused too: components are not read, and ignoring the Observation as another
test's would lose the result behind a success answer; so is an Observation of a trial
analyte contained in the Observation or in a DiagnosticReport (a panel's member, a report's
result carried in ``contained``; review 157): contained resources are not read as results.
The extension's url is not quoted: it is the sender's text.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.domainresource import DomainResource
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from services.lab_ingestion.adapters.fhir_outcome import input_error
from services.lab_ingestion.adapters.fhir_status import trial_components, trial_contained

MODIFIER_TEXT = "a modifier extension is not understood: it may change what the {} means"
RULES_TEXT = "implicitRules are not understood: the {} cannot be read safely"
REPLACED_TEXT = (
    "Patient.link replaced-by: this patient record is replaced by another, whose patient's "
    "results cannot be told from it: send the result under the record that replaces it"
)
COMPONENT_TEXT = (
    "trial results in Observation.component are not read: send each as its own Observation"
)
CONTAINED_TEXT = (
    "a trial result in a contained Observation is not read: send each result as its own "
    "Observation (its own Bundle entry)"
)


def refuse_unread_observation(obs: Observation, where: str) -> None:
    """Raise ``FhirInputError`` for what the Observation says that is not read: modifier
    extensions and implicit rules (its own, its ranges', its components', a contained
    Patient's), a trial result in a component or a contained Observation, and a value beside
    a dataAbsentReason (invariant obs-6: the lab itself marks the value as not there)."""
    refuse_unread_resource(obs, where, "result")
    modified = [
        (f"{where}.{name}[{index}]", element.modifierExtension)
        for name, elements in (("referenceRange", obs.referenceRange),
                               ("component", obs.component))
        for index, element in enumerate(elements or [])
    ]  # fmt: skip
    for path, extensions in modified:
        if extensions:
            raise input_error(
                "not-supported", MODIFIER_TEXT.format("result"), f"{path}.modifierExtension"
            )
    for index, contained in enumerate(obs.contained or []):
        if isinstance(contained, Patient):
            refuse_unread_resource(contained, f"{where}.contained[{index}]", "patient")
    if components := trial_components(obs):
        raise input_error(
            "not-supported", COMPONENT_TEXT, f"{where}.component[{components[0]}].code"
        )
    refuse_contained_results(obs, where)
    if obs.dataAbsentReason is not None and _has_value(obs):
        raise input_error(
            "invariant", "obs-6: a value beside a dataAbsentReason (the lab says the value "
            "is absent)", f"{where}.dataAbsentReason",
        )  # fmt: skip


def refuse_unread_resource(resource: Observation | Patient, where: str, what: str) -> None:
    """Raise ``FhirInputError`` for a resource's implicit rules or modifier extension, and
    for a Patient's link of type ``replaced-by`` (``Patient.link`` is a modifier element:
    the record must no longer be used, the patient is another record's; review 185: one
    whose own number names nobody was discarded as not enrolled, though the record it is
    replaced by may be an enrolled subject's)."""
    if resource.implicitRules:
        raise input_error("not-supported", RULES_TEXT.format(what), f"{where}.implicitRules")
    if resource.modifierExtension:
        raise input_error("not-supported", MODIFIER_TEXT.format(what), f"{where}.modifierExtension")
    if isinstance(resource, Patient):
        for index, link in enumerate(resource.link or []):
            if link.type == "replaced-by":
                raise input_error("not-supported", REPLACED_TEXT, f"{where}.link[{index}].type")


def refuse_contained_results(resource: DomainResource, where: str) -> None:
    """Raise ``FhirInputError`` for an Observation contained in ``resource`` (an Observation,
    a DiagnosticReport) that would be a trial result (``fhir_status.trial_contained``)."""
    if (path := trial_contained(resource)) is not None:
        raise input_error("not-supported", CONTAINED_TEXT, f"{where}.{path}")


def refuse_unread_entry(entry: dict[str, Any], where: str) -> None:
    """Raise ``FhirInputError`` for a modifier extension on a Bundle entry or its request
    (``where``: ``Bundle.entry[i]``); the envelope is validated, so each is a list or
    absent."""
    request = entry.get("request")
    for path, element in ((where, entry), (f"{where}.request", request)):
        if isinstance(element, dict) and element.get("modifierExtension"):
            raise input_error(
                "not-supported", MODIFIER_TEXT.format("entry"), f"{path}.modifierExtension"
            )


def _has_value(obs: Observation) -> bool:
    values = (obs.valueQuantity, obs.valueCodeableConcept, obs.valueString, obs.valueBoolean,
              obs.valueInteger, obs.valueRange, obs.valueRatio, obs.valueSampledData,
              obs.valueTime, obs.valueDateTime, obs.valuePeriod)  # fmt: skip
    return any(value is not None for value in values)
