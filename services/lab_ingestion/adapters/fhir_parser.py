"""FHIR R4 intake for lab-ingestion: ``POST /fhir/Observation`` (Bundles: ``fhir_bundle``).

Models come from ``fhir.resources.R4B`` (FHIR 4.3.0). fhir.resources 8.x makes R5 its default
package and ships only ``R4B`` and ``STU3`` besides it: there is no ``R4`` subpackage. R4B is
R4's technical-correction release; Observation, Patient, Bundle and OperationOutcome are the
same on the wire, so R4 payloads validate as they are.

- Diagnostics never echo submitted values (they may be PHI).
- Decode bodies with ``json.loads(body, parse_float=decimal.Decimal)`` so that ``1.50`` keeps
  its trailing zero in ``ObservationInput.value``.
- A dateTime with a time but no offset is invalid FHIR and is reported as an issue; a date-only
  or partial date is valid but cannot place a result in time, so ``collected_at`` is None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.observation import Observation, ObservationReferenceRange
from fhir.resources.R4B.quantity import Quantity

from services.lab_ingestion.adapters.fhir_identity import version_basis
from services.lab_ingestion.adapters.fhir_outcome import (
    FhirInputError,
    input_error,
    validate_resource,
)
from services.lab_ingestion.adapters.fhir_patient import (
    BundlePatients,
    SubjectsDisagree,
    TooManyIdentifiers,
    subject_identifiers,
)
from services.lab_ingestion.adapters.fhir_screening import (
    refuse_focus,
    refuse_test_data,
    screen_times,
)
from services.lab_ingestion.adapters.fhir_status import (
    OBSERVATION_STATUSES,
    STATUS_CODES,
    of_a_trial_analyte,
)
from services.lab_ingestion.adapters.hl7_msh import PRODUCTION
from services.lab_ingestion.domain.analytes import recognise_unit
from services.lab_ingestion.domain.matching import mask_identifier_in_id
from services.lab_ingestion.domain.message_identity import versioned_control_id
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput
from services.lab_ingestion.domain.patient_identity import default_identifier
from shared.contracts.events.lab import Channel

Identify = Callable[[str], str]  # a patient identifier -> its keyed hash


# --- mapping ------------------------------------------------------------------------------


def parse_observation(
    resource: dict[str, Any],
    source_application: str,
    source_facility: str,
    identify: Identify | None = None,
    *,
    processing_id: str = PRODUCTION,
    configured_as: tuple[str, str] | None = None,
) -> LabMessage:
    """One FHIR R4 Observation as a ``LabMessage``; raises ``FhirInputError``.

    ``identify`` (the keyed hash of a patient identifier) makes the message identity the
    patient's: the same content for another patient is another message. ``processing_id``:
    this deployment's (P: production, which refuses test data). ``configured_as``: the
    sender whose configuration applies (``LabMessage.configured_as``)."""
    refuse_test_data(resource, "Observation", processing_id)
    screen_times(resource, "Observation")
    observation = validate_resource(Observation, resource, "Observation")
    if of_a_trial_analyte(observation):  # one of another test is answered as ignored
        refuse_focus(resource, "Observation")
    return observation_message(
        observation, "Observation", None, source_application, source_facility,
        identify=identify, configured_as=configured_as,
    )  # fmt: skip


def observation_message(
    obs: Observation,
    where: str,
    patients: BundlePatients | None,
    app: str,
    facility: str,
    *,
    identify: Identify | None = None,
    configured_as: tuple[str, str] | None = None,
) -> LabMessage:
    try:
        message = _map_message(obs, where, patients, app, facility, identify=identify)
    except FhirInputError:
        raise
    except TooManyIdentifiers as exc:
        raise input_error("too-costly", str(exc), where) from None
    except SubjectsDisagree as exc:
        raise input_error("invalid", str(exc), f"{where}.subject") from None
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        # the models accept explicit nulls where FHIR requires a value; whatever else a
        # resource lacks, it is bad input, never a server error
        raise input_error(
            "structure", f"unreadable resource ({type(exc).__name__})", where
        ) from None
    return message if configured_as is None else replace(message, configured_as=configured_as)


def _map_message(
    obs: Observation,
    where: str,
    patients: BundlePatients | None,
    app: str,
    facility: str,
    *,
    identify: Identify | None,
) -> LabMessage:
    if not obs.status:
        raise input_error("required", "status is required", f"{where}.status")
    if obs.status not in OBSERVATION_STATUSES:  # never read as an HL7 code ("d": deleted)
        raise input_error(
            "code-invalid",
            f"status is not an R4 Observation status ({', '.join(sorted(OBSERVATION_STATUSES))})",
            f"{where}.status",
        )
    if obs.code is None:  # required by FHIR, but the models accept an explicit null
        raise input_error("required", "code is required", f"{where}.code")
    _refuse_what_it_cannot_read(obs, where)
    key = _result_key(obs, where)
    candidates = subject_identifiers(obs, patients)
    patient = default_identifier(candidates)
    # no patient chosen (numbers of several authorities): the id is made again once the
    # sender's authority chose one (``patient_identity.identified``)
    whose = identify(patient) if identify is not None and patient else ""
    basis = version_basis(obs, key)
    message = LabMessage(
        channel=Channel.FHIR,
        source_application=app,
        source_facility=facility,
        control_id=versioned_control_id(basis, whose),
        patient_identifier=patient,
        observations=(_observation_input(obs, key),),
        identifier_candidates=candidates,
        control_id_basis=basis,
    )
    # an Observation identifier built from the patient's number is stored as the result key
    return mask_identifier_in_id(message, identify) if identify is not None else message


def _refuse_what_it_cannot_read(obs: Observation, where: str) -> None:
    """FHIR R4 (extensibility): a processor must refuse a resource whose modifier extension
    or implicit rules it does not understand, for they may change what the value means
    (``result-invalidated``); and a value beside a dataAbsentReason (invariant obs-6) is one
    the lab itself marks as not there. The extension's url is not quoted: it is the
    sender's text."""
    if obs.implicitRules:
        raise input_error(
            "not-supported", "implicitRules are not understood: the result cannot be read "
            "safely", f"{where}.implicitRules",
        )  # fmt: skip
    modified = [("", obs.modifierExtension)] + [
        (f".{name}[{index}]", element.modifierExtension)
        for name, elements in (("referenceRange", obs.referenceRange),
                               ("component", obs.component))
        for index, element in enumerate(elements or [])
    ]  # fmt: skip
    for path, extensions in modified:
        if extensions:
            raise input_error(
                "not-supported", "a modifier extension is not understood: it may change what "
                "the result means", f"{where}{path}.modifierExtension",
            )  # fmt: skip
    if obs.dataAbsentReason is not None and _has_value(obs):
        raise input_error(
            "invariant", "obs-6: a value beside a dataAbsentReason (the lab says the value "
            "is absent)", f"{where}.dataAbsentReason",
        )  # fmt: skip


def _has_value(obs: Observation) -> bool:
    values = (obs.valueQuantity, obs.valueCodeableConcept, obs.valueString, obs.valueBoolean,
              obs.valueInteger, obs.valueRange, obs.valueRatio, obs.valueSampledData,
              obs.valueTime, obs.valueDateTime, obs.valuePeriod)  # fmt: skip
    return any(value is not None for value in values)


def _observation_input(obs: Observation, key: str) -> ObservationInput:
    value, unit = _value(obs)
    flags = [c.code for concept in obs.interpretation or [] for c in concept.coding or [] if c.code]
    return ObservationInput(
        result_key=key,
        codes=tuple(Coding(c.code, c.system, c.display) for c in obs.code.coding or [] if c.code),
        value=value,
        unit=unit,
        reference_range=_reference_range(obs),
        abnormal_flag=flags[0] if flags else None,
        flags=tuple(flags),
        status=STATUS_CODES.get(obs.status or "", obs.status or ""),
        collected_at=_collected_at(obs),
        reported_at=_aware(obs.issued),
    )


def _result_key(obs: Observation, where: str) -> str:
    for ident in obs.identifier or []:
        if ident.value:
            return f"{ident.system}|{ident.value}" if ident.system else ident.value
    if obs.id:
        return f"Observation/{obs.id}"
    raise input_error("required", "an identifier or id is needed to track corrections", where)


def _value(obs: Observation) -> tuple[str, tuple[str, ...]]:
    if obs.valueQuantity is not None:
        quantity = obs.valueQuantity
        text = _decimal(quantity.value)
        return (f"{quantity.comparator or ''}{text}" if text else ""), _units(quantity)
    if obs.valueString is not None:
        return obs.valueString, ()
    if obs.valueInteger is not None:
        return str(obs.valueInteger), ()
    if obs.valueBoolean is not None:
        return ("true" if obs.valueBoolean else "false"), ()
    if obs.valueCodeableConcept is not None:
        concept = obs.valueCodeableConcept
        codes = [c.code for c in concept.coding or [] if c.code]
        return (codes[0] if codes else concept.text or ""), ()
    return "", ()


# UCUM named by its address or its OID: its codes are the computable unit
UCUM_SYSTEMS = frozenset({"http://unitsofmeasure.org", "urn:oid:2.16.840.1.113883.6.8"})


def _units(quantity: Quantity) -> tuple[str, ...]:
    """The unit's code and its display. A UCUM code is the computable unit: one this service
    does not know is unconvertible whatever the display says (``10*6/L`` shown as ``10^9/L``
    would be read as the display, a thousandfold guess), so it goes alone; so does a code
    whose system is not said (FHIR requires one: ``mg/100mL`` shown as ``mg/L`` was read as
    the display, 20 mg/dL stored as 20 mg/L). A laboratory's own code system says nothing
    this service can read: its display is the unit as the laboratory writes it, as in an
    HL7 OBX-6 (and a display that disagrees with a code this service knows is refused)."""
    code = (quantity.code or "").strip()
    system = (quantity.system or "").strip().rstrip("/")
    if code and not recognise_unit(code) and (not system or system in UCUM_SYSTEMS):
        return (code,)
    return tuple(dict.fromkeys(u for u in (quantity.code, quantity.unit) if u))


def _decimal(value: object) -> str:
    if value is None:
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    # plain notation as labs write it; huge exponents stay scientific (bounded length)
    return format(number, "f") if abs(number.adjusted()) <= 20 else str(number)


def _reference_range(obs: Observation) -> str | None:
    """The range as HL7 writes it, with its own unit (``12-16 g/dL``: converted as that unit
    is, not as the value's). Only the one normal range for everyone is read: several, or one
    for a population or age (``appliesTo``, ``age``: the patient's is not known here), or
    another kind of range, leave none; so does one whose quantities name different units, or
    whose one bound names a unit and the other none (never borrowed)."""
    ranges = [ref for ref in obs.referenceRange or [] if _is_normal_range_for_all(ref)]
    unit = _range_unit(ranges[0]) if len(ranges) == 1 else None
    if unit is None:
        return None
    ref = ranges[0]
    low = _decimal(ref.low.value if ref.low else None)
    high = _decimal(ref.high.value if ref.high else None)
    if low and high:
        return f"{low}-{high}{unit}"
    if high:
        return f"<{high}{unit}"
    if low:
        return f">{low}{unit}"
    return ref.text or None


def _range_unit(ref: ObservationReferenceRange) -> str | None:
    """`` unit`` as written after a range's numbers, "" for none, None when its bounds
    disagree (two units, or a unit on one bound only)."""
    bounds = [q for q in (ref.low, ref.high) if q is not None]
    if len({bool(_units(q)) for q in bounds}) > 1:
        return None
    written = sorted({u for q in bounds for u in _units(q)})
    known = {ucum for u in written if (ucum := recognise_unit(u)) is not None}
    if len(known) > 1:
        return None
    # an unknown unit is kept too: the range is then dropped, never read in the value's unit
    return f" {known.pop()}" if known else (f" {written[0]}" if written else "")


REFERENCE_RANGE_MEANINGS = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"


def _is_normal_range_for_all(ref: ObservationReferenceRange) -> bool:
    """A range of no population or age, and of no kind or the normal kind."""
    if ref.appliesTo or ref.age is not None:
        return False
    if ref.type is None:
        return True
    codings = ref.type.coding or []
    return bool(codings) and all(
        c.code == "normal" and (c.system or REFERENCE_RANGE_MEANINGS) == REFERENCE_RANGE_MEANINGS
        for c in codings
    )


def _collected_at(obs: Observation) -> datetime | None:
    if obs.effectiveDateTime is not None:
        return _aware(obs.effectiveDateTime)
    if obs.effectivePeriod is not None:
        return _aware(obs.effectivePeriod.start)
    return _aware(obs.effectiveInstant)


def _aware(value: object) -> datetime | None:
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value
    return None
