"""A Bundle's Observation entry read as a message; one of another test only for what its
untyped identifier holds (``other_test_keys``, task 217)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fhir.resources.R4B.observation import Observation

from services.lab_ingestion.adapters.fhir_context import BundleContext
from services.lab_ingestion.adapters.fhir_parser import Identify, observation_message
from services.lab_ingestion.adapters.fhir_patient import BundlePatients
from services.lab_ingestion.domain.model import LabMessage
from services.lab_ingestion.domain.other_test_keys import keys_held_checked


@dataclass(frozen=True)
class EntryReading:
    """How a Bundle's Observation entries are read: their sender, and the Bundle's Patients
    and report context."""

    application: str
    facility: str
    identify: Identify | None
    configured_as: tuple[str, str] | None
    patients: BundlePatients
    context: BundleContext

    def message(self, obs: Observation, entry: dict[str, Any], where: str) -> LabMessage:
        """The Observation of ``entry`` as a message (raises ``FhirInputError``)."""
        return observation_message(
            obs, where, self.patients.entry(entry.get("fullUrl")), self.application,
            self.facility, identify=self.identify, configured_as=self.configured_as,
            specimens=self.context.specimens,
            report=self.context.report_of(entry, obs, self.patients),
        )  # fmt: skip


def other_test(message_of: Callable[[], LabMessage]) -> LabMessage | None:
    """An Observation of no trial analyte as a message read only for what its untyped
    identifier holds (``LabMessage.other_test``: under a stored trial result's it is
    refused, never ignored); None, ignored as ever, when it has no such key or cannot be
    read (nothing else of it is checked)."""
    try:
        message = message_of()
    except (ValueError, TypeError, AttributeError, LookupError):  # FhirInputError too
        return None
    if not keys_held_checked(message):
        return None
    return replace(message, other_test=True)
