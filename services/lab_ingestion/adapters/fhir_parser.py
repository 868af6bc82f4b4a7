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
from typing import Any

from fhir.resources.R4B.observation import Observation

from services.lab_ingestion.adapters.fhir_collection import (
    NO_REPORT,
    ReportTimes,
    Specimens,
    Times,
    aware,
    collection_time,
    refuse_reversed,
)
from services.lab_ingestion.adapters.fhir_comparators import refuse_unlisted_comparators
from services.lab_ingestion.adapters.fhir_conditional import UnresolvableReference
from services.lab_ingestion.adapters.fhir_identity import version_basis
from services.lab_ingestion.adapters.fhir_limits import refuse_too_many
from services.lab_ingestion.adapters.fhir_outcome import (
    FhirInputError,
    input_error,
    validate_resource,
)
from services.lab_ingestion.adapters.fhir_patient import (
    BundlePatients,
    SubjectsDisagree,
    subject_identifiers,
)
from services.lab_ingestion.adapters.fhir_patient_numbers import TooManyIdentifiers
from services.lab_ingestion.adapters.fhir_result_keys import result_key
from services.lab_ingestion.adapters.fhir_screening import (
    refuse_focus,
    refuse_test_data,
    screen_decimals,
    screen_times,
)
from services.lab_ingestion.adapters.fhir_status import (
    OBSERVATION_STATUSES,
    STATUS_CODES,
    names_of,
    of_a_trial_analyte,
)
from services.lab_ingestion.adapters.fhir_unread import refuse_unread_observation
from services.lab_ingestion.adapters.fhir_values import (
    interpretation_codes,
    interpretation_flag,
    laboratory_comment,
    observation_value,
    reference_range,
    value_not_a_number,
)
from services.lab_ingestion.adapters.hl7_msh import PRODUCTION
from services.lab_ingestion.domain.matching import mask_identifier_in_id
from services.lab_ingestion.domain.message_identity import versioned_control_id
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
)
from services.lab_ingestion.domain.patient_identity import default_identifier, scoped_to_patient
from services.lab_ingestion.domain.report_fields import ReportField
from services.lab_ingestion.domain.result_identifiers import IdentifierKeys
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
    refuse_too_many(resource, "Observation")
    observation = validated_observation(resource, "Observation")
    if of_a_trial_analyte(observation):  # one of another test is answered as ignored
        refuse_focus(resource, "Observation")
    return observation_message(
        observation, "Observation", None, source_application, source_facility,
        identify=identify, configured_as=configured_as,
    )  # fmt: skip


def validated_observation(resource: object, where: str) -> Observation:
    """``resource`` as an Observation, refusing what its model hides (``fhir_screening``)."""
    screen_times(resource, where)
    observation = validate_resource(Observation, resource, where)
    screen_decimals(resource, where)
    return observation


def observation_message(
    obs: Observation,
    where: str,
    patients: BundlePatients | None,
    app: str,
    facility: str,
    *,
    identify: Identify | None = None,
    configured_as: tuple[str, str] | None = None,
    specimens: Specimens | None = None,
    report: ReportTimes = NO_REPORT,
) -> LabMessage:
    """``specimens``: the collection times of a Bundle's Specimen entries, by reference;
    ``report``: the times of the DiagnosticReport listing the Observation."""
    try:
        message = _map_message(
            obs, where, patients, app, facility, identify=identify,
            times=(specimens or {}, report),
        )  # fmt: skip
    except FhirInputError:
        raise
    except TooManyIdentifiers as exc:
        raise input_error("too-costly", str(exc), where) from None
    except SubjectsDisagree as exc:
        raise input_error("invalid", str(exc), f"{where}.subject") from None
    except UnresolvableReference as exc:
        raise input_error("not-supported", str(exc), f"{where}.subject.reference") from None
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
    times: Times,
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
    refuse_unlisted_comparators(obs, where)  # never read as a limit (review 261)
    refuse_unread_observation(obs, where)
    refuse_reversed(obs.effectivePeriod, f"{where}.effectivePeriod")
    keys, untracked = result_key(obs, where, times)
    key = keys.key
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
        observations=_observations(obs, keys, untracked, whose, times),
        identifier_candidates=candidates,
        control_id_basis=basis,
    )
    # an Observation identifier built from the patient's number is stored as the result key
    return mask_identifier_in_id(message, identify) if identify is not None else message


def _observations(
    obs: Observation, keys: IdentifierKeys, untracked: bool, whose: str, times: Times
) -> tuple[ObservationInput, ...]:
    """The result; an untracked key made the patient's once the patient is chosen (else
    ``patient_identity.identified`` makes it so)."""
    observation = _observation_input(obs, keys, untracked, times)
    return scoped_to_patient([observation], whose) if untracked and whose else (observation,)


def _observation_input(
    obs: Observation, keys: IdentifierKeys, untracked: bool, times: Times
) -> ObservationInput:
    value, unit = observation_value(obs)
    key = keys.key
    collected_at, conflict = collection_time(obs, *times)
    # the report's issued where the Observation has none, as HL7 takes OBR-22 (review 131)
    issued = obs.issued if obs.issued is not None else times[1].issued
    return ObservationInput(
        result_key=key,
        other_keys=keys.others,
        keys_before=keys.before,
        codes=tuple(Coding(c.code, c.system, c.display) for c in obs.code.coding or [] if c.code),
        value=value,
        unit=unit,
        not_a_number=value_not_a_number(obs),
        reference_range=reference_range(obs),
        abnormal_flag=interpretation_flag(obs),
        flags=interpretation_codes(obs),  # HL7's, and a local off-scale one (a limit)
        status=STATUS_CODES.get(obs.status or "", obs.status or ""),
        collected_at=collected_at,
        time_conflict=conflict,
        reported_at=aware(issued),
        report_field=ReportField.FHIR_ISSUED,
        report_time_written=issued is not None,  # read or not (without an offset: none)
        unscoped_key=key if untracked else None,
        laboratory_comment=laboratory_comment(obs),
        names=names_of(obs.code),
    )
