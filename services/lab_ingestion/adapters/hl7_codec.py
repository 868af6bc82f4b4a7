"""HL7 v2 ORU^R01 (v2.3-2.5.1) in, ACK out, parsed with python-hl7.

``parse_oru`` turns one ER7 message into a ``LabMessage`` (or raises ``Hl7InputError`` with
the HL7 error to report); ``build_ack`` writes the acknowledgement; ``redact`` removes the
identifying fields of a message kept for inspection (PROTOCOL section 6; in
``hl7_redaction``). Of NTE segments only whether one concerns a result is read, never their
text (``hl7_notes``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

import hl7
import hl7.containers
import hl7.parser
import hl7.util

from services.lab_ingestion.adapters.hl7_ack import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    UNSUPPORTED_EVENT,
    UNSUPPORTED_VERSION,
    Condition,
    Header,
    build_ack,
)
from services.lab_ingestion.adapters.hl7_collection import specimen_time
from services.lab_ingestion.adapters.hl7_escapes import UnreadableEscape
from services.lab_ingestion.adapters.hl7_fields import field_value
from services.lab_ingestion.adapters.hl7_msh import (
    MAX_PARTS,
    PRODUCTION,
    SUPPORTED_VERSIONS,
    Hl7InputError,
    check_control_id,
    check_processing,
    check_senders,
    check_size,
    header_of,
    read_header,
)
from services.lab_ingestion.adapters.hl7_notes import Notes
from services.lab_ingestion.adapters.hl7_observation import read_observation
from services.lab_ingestion.adapters.hl7_order import (
    NO_ORDER,
    cancelled_without_results,
    order_of,
    placed,
)
from services.lab_ingestion.adapters.hl7_patient_numbers import read_patient_numbers
from services.lab_ingestion.adapters.hl7_redaction import (
    normalise_separators,
    redact,
)
from services.lab_ingestion.adapters.hl7_time import offset_of, parse_ts
from services.lab_ingestion.domain.local_codes import (
    NO_LOCAL_CODES,
    LocalCodeTable,
    LocalKey,
)
from services.lab_ingestion.domain.matching import mask_identifier_in_id
from services.lab_ingestion.domain.model import (
    IdentifierCandidate,
    LabMessage,
    ObservationInput,
    OrderCancelled,
    RejectionCode,
)
from services.lab_ingestion.domain.patient_identity import default_identifier, scoped_to_patient
from services.lab_ingestion.domain.shown import EVENT, MESSAGE_TYPE, VERSION, shown
from shared.contracts.events.lab import Channel

__all__ = [
    "MAX_PARTS", "PRODUCTION", "Header", "Hl7InputError", "build_ack", "normalise_separators",
    "parse_oru", "parse_ts", "read_header", "redact", "silence_library_logging",
]  # fmt: skip


def silence_library_logging() -> None:
    """python-hl7 logs parse problems with the offending field's content, which can be a
    patient's name or birth date; its loggers (named after its files) are switched off. Parse
    problems are reported by this module instead, as rejections without PHI."""
    for module in (hl7.util, hl7.containers, hl7.parser):
        logging.getLogger(module.__file__).disabled = True


def _unreadable_value(exc: Exception) -> Condition | None:
    """HL7 table 0357's condition for what python-hl7 raised: a ValueError is a value it
    could not unescape (``\\.in+x\\``), an AssertionError MSH-2's encoding characters
    (one repeated): data type errors (102), not segment sequence errors; None (the
    malformed message's 100) for anything else."""
    return DATA_TYPE_ERROR if isinstance(exc, ValueError | AssertionError) else None


def parse_oru(
    text: str,
    channel: Channel = Channel.MLLP,
    *,
    identify: Callable[[str], str] | None = None,
    processing_id: str = PRODUCTION,
    local_codes: LocalCodeTable = NO_LOCAL_CODES,
) -> tuple[LabMessage, Header]:
    """Parse one ORU^R01 (and its header, for the ACK); raise Hl7InputError if unusable.

    ``identify`` (the keyed hash of a patient identifier) scopes result keys without an order
    number to their patient: two patients' samples drawn the same minute are two results.
    ``processing_id``: the MSH-11 this deployment takes (P: production); a training or
    debugging message is never taken for a patient's result, nor a production one by a test
    deployment. ``local_codes``: every sender's local test codes mapped to LOINC; the
    sender's (MSH-3, MSH-4) apply (``with_local_codes``), so that a mapped result is read
    strictly, as every trial result is."""
    text = normalise_separators(text)
    if not text.startswith("MSH") or len(text) < 8:
        raise Hl7InputError(
            RejectionCode.MALFORMED, "the message does not start with an MSH segment"
        )
    check_size(text)
    try:
        parsed = hl7.parse(text)
        msh = parsed[0]  # the text starts with MSH
        header = header_of(msh)
        # unescaping may raise too (``\.in+x\``), in any field read here
        message_type = field_value(msh, 9, 1, 1)
        processing = field_value(msh, 11).upper(), field_value(msh, 11, 1, 2).upper()
    except UnreadableEscape as exc:
        raise Hl7InputError(RejectionCode.MALFORMED, str(exc), condition=DATA_TYPE_ERROR) from None
    except Exception as exc:  # python-hl7 raises assorted errors on broken input
        raise Hl7InputError(
            RejectionCode.MALFORMED,
            f"unparseable HL7: {type(exc).__name__}",
            condition=_unreadable_value(exc),
        ) from None
    check_control_id(msh, header)
    check_senders(msh, header)
    if message_type != "ORU" or header.trigger != "R01":
        raise Hl7InputError(
            RejectionCode.UNSUPPORTED_MESSAGE,
            f"only ORU^R01 is accepted, got {shown(message_type, MESSAGE_TYPE)}^"
            f"{shown(header.trigger, EVENT)}",
            header,
            UNSUPPORTED_EVENT if message_type == "ORU" else None,
        )
    if header.version not in SUPPORTED_VERSIONS:
        raise Hl7InputError(
            RejectionCode.UNSUPPORTED_MESSAGE,
            f"HL7 version {shown(header.version, VERSION)} not supported",
            header,
            UNSUPPORTED_VERSION,
        )
    check_processing(processing, header, processing_id)
    if not header.control_id:
        raise Hl7InputError(
            RejectionCode.MALFORMED, "MSH-10 (message control id) is empty", header,
            REQUIRED_FIELD_MISSING,
        )  # fmt: skip
    if "\x00" in text:  # no HL7 field may hold it, nor can PostgreSQL's text
        raise Hl7InputError(
            RejectionCode.MALFORMED, "the message holds a NUL byte (0x00)", header,
            DATA_TYPE_ERROR,
        )  # fmt: skip
    try:
        mapped = local_codes.of_sender(header.sending_application, header.sending_facility)
        (candidates, numbers, alternates), observations, cancelled = _body(
            parsed, offset_of(field_value(msh, 7)), mapped
        )
        patient = default_identifier(candidates)
        untracked = any(
            o.unscoped_key is not None or o.legacy_unscoped is not None for o in observations
        )
        if untracked and identify is not None and patient:  # hashed only when needed
            observations = list(scoped_to_patient(observations, identify(patient)))
        message = LabMessage(
            channel=channel,
            source_application=header.sending_application,
            source_facility=header.sending_facility,
            control_id=header.control_id,
            patient_identifier=patient,
            observations=tuple(observations),
            identifier_candidates=candidates,
            cancelled_order=cancelled,
            alternate_candidates=alternates,
        )
        if identify is not None:  # the ACK still echoes MSH-10 as sent (header)
            message = mask_identifier_in_id(message, identify, numbers)
        return message, header
    except Hl7InputError as exc:
        raise Hl7InputError(exc.code, exc.reason, header, exc.condition) from None
    except UnreadableEscape as exc:
        raise Hl7InputError(RejectionCode.MALFORMED, str(exc), header, DATA_TYPE_ERROR) from None
    except Exception as exc:
        raise Hl7InputError(
            RejectionCode.MALFORMED,
            f"unreadable segment structure: {type(exc).__name__}",
            header,
            _unreadable_value(exc),
        ) from None


def _body(
    message: hl7.Message, offset: str, mapped: Mapping[LocalKey, str]
) -> tuple[
    tuple[tuple[IdentifierCandidate, ...], list[str], tuple[IdentifierCandidate, ...]],
    list[ObservationInput],
    OrderCancelled | None,
]:
    """The patient's numbers (``hl7_patient_numbers``), the observations, each knowing
    whether the laboratory commented on it (``hl7_notes``), and the first order cancelled
    as a whole with no OBX under it (``order_status``), in one pass over the segments."""
    patients = []
    orders, specimens = [NO_ORDER], [list[str]()]  # each OBR's, and its SPMs' SPM-17.1
    results: list[tuple[int, hl7.Segment]] = []  # each OBX, with the index of its order
    orc, orcs = None, 0  # the ORC opening the next OBR's order; ORC segments so far
    notes = Notes()
    for segment in message:
        kind = str(segment[0])
        notes.segment(kind, segment)
        if kind == "OBX":
            results.append((len(orders) - 1, segment))
        elif kind == "OBR":
            orders.append(placed(order_of(segment, offset, orc), len(orders), orc, orcs))
            specimens.append([])
            orc = None
        elif kind == "ORC":
            orc, orcs = segment, orcs + 1
        elif kind == "SPM":  # v2.5.1: the SPECIMEN group follows its order's observations
            if time := specimen_time(segment):
                specimens[-1].append(time)
        elif kind == "PID":
            patients.append(segment)
    observations = [
        read_observation(obx, orders[at], offset, mapped, tuple(specimens[at]))
        for at, obx in results
    ]
    if len(patients) > 1:
        raise Hl7InputError(
            RejectionCode.MULTIPLE_PATIENTS,
            f"one patient per message: found {len(patients)} PID segments; "
            "send one message per patient",
        )
    observations = [
        replace(observation, laboratory_comment=True) if notes.commented(index) else observation
        for index, observation in enumerate(observations)
    ]
    identifiers = read_patient_numbers(patients[0]) if patients else ((), [], ())
    return identifiers, observations, cancelled_without_results(orders, results)
