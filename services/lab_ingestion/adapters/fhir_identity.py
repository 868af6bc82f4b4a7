"""The identity of one version of a FHIR Observation: the control id its duplicate check
keys on (FHIR keeps an Observation's identifier across its corrections and cancellations)."""

from __future__ import annotations

import json

from fhir.resources.R4B.observation import Observation
from fhir_core.fhirabstractmodel import FHIRAbstractModel

from services.lab_ingestion.adapters.fhir_values import laboratory_comment

# What makes one version of a result: a resend of the same is a duplicate, a correction or a
# cancellation under the same identifier is not. No subject, performer, note or narrative
# (they may carry PHI, and even a digest of them is not kept); of the notes only whether
# there is one (``laboratory_comment``), and only when there is, so that the id of a version
# without one is the id it had before notes were read (a resend of one stored then is still
# known as such). A version that adds a note is another message (with the same id, its
# content digest would differ, and it would be refused as a reused id, which no FHIR client
# chose).
_VERSION_FIELDS = frozenset({
    "identifier", "status", "code", "valueQuantity", "valueString", "valueInteger",
    "valueBoolean", "valueCodeableConcept", "effectiveDateTime", "effectivePeriod",
    "effectiveInstant", "issued", "interpretation", "referenceRange", "dataAbsentReason",
})  # fmt: skip


def version_basis(obs: Observation, result_key: str) -> str:
    """What makes this version of the Observation (canonical JSON, no patient): its message
    identity is made of it with the patient's keyed hash (``versioned_control_id``); the
    identifier alone would make a correction or cancellation, which keeps the identifier,
    look like a resend, and it would be dropped as a duplicate."""
    version = {name: _canonical(getattr(obs, name)) for name in sorted(_VERSION_FIELDS)}
    version["resultKey"] = result_key  # the id, for an Observation without an identifier
    if laboratory_comment(obs):
        version["laboratoryComment"] = True
    return json.dumps(version, sort_keys=True)


def _canonical(value: object) -> object:
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, FHIRAbstractModel):  # an element: no resource, so no PHI below it
        return value.model_dump_json(exclude_none=True)
    return None if value is None else str(value)
