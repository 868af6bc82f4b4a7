"""Early answers for a batch's inputs: whether their sender may deliver, and whether they name
a patient at all (a rejection before anything else of a message is looked at)."""

from __future__ import annotations

from typing import NamedTuple

from services.lab_ingestion.domain.kept_copy import (
    KEPT_COPY_REASON,
    NOT_THE_TOKENS,
    is_kept_copy_identifier,
)
from services.lab_ingestion.domain.matching import holds_a_number, patient_numbers
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    IngestLabMessage,
    IngestOutcome,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.identification import is_unresolved
from shared.contracts.events.lab import Channel


def early_answer(
    context: BatchContext, command: IngestLabMessage, *, reads_kept_copies: bool
) -> IngestOutcome | None:
    """A rejection of a message before its patient and results are looked at, or None to go
    on. ``reads_kept_copies``: a replay's, whose patient identifiers are kept copies' keyed
    hashes (``kept_copy``)."""
    message = command.message
    refused = _sender_refused(context, command)
    if refused is not None:
        return IngestOutcome.rejected(RejectionCode.UNKNOWN_SOURCE, refused)
    if _named_by_its_patient(context, message):
        return IngestOutcome.rejected(RejectionCode.MALFORMED, NUMBER_IN_SENDER)
    if not reads_kept_copies and any(
        is_kept_copy_identifier(c.value) for c in message.identifier_candidates
    ):
        return IngestOutcome.rejected(RejectionCode.KEPT_COPY, KEPT_COPY_REASON)
    if not (message.patient_identifier or "").strip() and not is_unresolved(message):
        return IngestOutcome.rejected(RejectionCode.MISSING_PATIENT, NO_PATIENT_REASON)
    return None


def _sender_refused(context: BatchContext, command: IngestLabMessage) -> str | None:
    """Why the message's sender may not deliver (``unknown-source``), or None."""
    message = command.message
    sender = (message.source_application, message.source_facility)
    if command.check_source and not _listed_hl7_sender(context, sender):
        return _unknown_hl7_sender(context, sender, message.source, command.permitted_senders)
    if not _permitted(command.permitted_senders, message.source):
        return _not_permitted(message.source)
    gone = _unconfigured(context, command.permitted_senders, message.source, message.configured_as)
    return None if gone is None else _not_configured(gone)


NO_PATIENT_REASON = "no patient identifier (PID-3)"
NUMBER_IN_SENDER = (
    "source (application^facility) holds the patient's hospital number: a sender is named "
    "by its system, never by a patient's number (resend under the system's own name)"
)


def _named_by_its_patient(context: BatchContext, message: LabMessage) -> bool:
    """A JSON body's sender not on the allow-list (what a token bound to no sender wrote)
    whose application or facility holds a number the patient is named by: no sender's name,
    and it would be stored and published as the message's ``source`` (masked, as a message
    id is, it would be another sender). A listed sender's name is the operator's; HL7's
    sender is always listed, FHIR's is its token's name (``<token name>^FHIR``)."""
    sender = (message.source_application, message.source_facility)
    if message.channel is not Channel.JSON or sender in context.allowed:
        return False
    numbers = patient_numbers(message)
    return any(holds_a_number(part, numbers) for part in sender)


def rejection_of_input(
    context: BatchContext, command: RecordRejectedInput
) -> tuple[RejectionCode, str]:
    """Why an input refused at the edge is kept: its own reason, unless its sender may not
    deliver at all (that is then the reason)."""
    if command.sender is not None and not _listed_hl7_sender(context, command.sender):
        return RejectionCode.UNKNOWN_SOURCE, _unknown_hl7_sender(
            context, command.sender, command.source, command.permitted_senders
        )
    if not _permitted(command.permitted_senders, command.source):
        return RejectionCode.UNKNOWN_SOURCE, _not_permitted(command.source)
    gone = _unconfigured(context, command.permitted_senders, command.source, command.configured_as)
    if gone is not None:
        return RejectionCode.UNKNOWN_SOURCE, _not_configured(gone)
    return command.code, command.reason


def _listed_hl7_sender(context: BatchContext, sender: tuple[str, str]) -> bool:
    """On the allow-list as an HL7 sender: ``<token name>^FHIR`` is a FHIR token's entry (its
    site, zone and authority), never an MLLP sender's (review 132: listing it for a token
    opened MLLP to anyone writing MSH-3 ``<token name>``, MSH-4 ``FHIR``)."""
    return sender in context.allowed and sender[1] != FHIR_FACILITY


def _unknown_hl7_sender(
    context: BatchContext,
    sender: tuple[str, str],
    source: str | None,
    permitted: frozenset[str] | None,
) -> str:
    if sender in context.allowed:  # a FHIR token's entry (``_listed_hl7_sender``)
        return (
            f"sender {source!r} (MSH-3^MSH-4) is a FHIR token's entry on the allow-list "
            f"(facility {FHIR_FACILITY}), not an HL7 sender"
        )
    return _unknown_sender(source, permitted)


def _unknown_sender(source: str | None, permitted: frozenset[str] | None) -> str:
    """Not on the allow-list; and, when so, not the delivering token's either (adding the
    sender then does not make the message deliverable, nor replayable)."""
    reason = f"sender {source!r} (MSH-3^MSH-4) is not on the allow-list"
    return reason if _permitted(permitted, source) else f"{reason}, nor {NOT_THE_TOKENS}"


def _permitted(permitted: frozenset[str] | None, source: str | None) -> bool:
    """A token bound to senders delivers only as them (an input naming none is no claim)."""
    return permitted is None or source is None or source in permitted


def _not_permitted(source: str | None) -> str:
    return f"sender {source!r} is not {NOT_THE_TOKENS}"


def _unconfigured(
    context: BatchContext,
    permitted: frozenset[str] | None,
    source: str | None,
    configured_as: tuple[str, str] | None,
) -> str | None:
    """The sender a bound token delivers as, when it is not (or no longer) on the allow-list:
    its site, zone and authority are gone with it, and its patients would be matched against
    every site's subjects. A token's FHIR is configured as its one sender (``configured_as``);
    one bound to ``<name>^FHIR`` (kept as that, configured as nothing) is not checked. An
    unbound token delivers as any sender, configured or not."""
    if configured_as is not None:
        return None if configured_as in context.allowed else "^".join(configured_as)
    if permitted is None or source is None or source not in permitted:
        return None
    application, _, facility = source.partition("^")
    return None if (application, facility) in context.allowed else source


def _not_configured(sender: str) -> str:
    return (
        f"sender {sender!r} is not on the allow-list (not, or no longer, configured): this "
        "token is bound to it, and delivers as it only while it is (cachexia source add)"
    )


FHIR_FACILITY = "FHIR"  # a lab token's FHIR resources are kept as sent by <token name>^FHIR


class FhirSender(NamedTuple):
    """A lab token as the sender of FHIR resources: kept as ``<name>^FHIR``, configured as
    ``configured_as`` (``fhir_configured_as``)."""

    name: str
    configured_as: tuple[str, str] | None


def fhir_sender_known(name: str, senders: frozenset[str] | None) -> bool:
    """Whether the sender a lab token's FHIR resources come from can be told: not when the
    token is bound to several senders, none of them ``<name>^FHIR``."""
    return senders is None or f"{name}^{FHIR_FACILITY}" in senders or len(senders) == 1


def fhir_configured_as(name: str, senders: frozenset[str] | None) -> tuple[str, str] | None:
    """The sender (application, facility) whose site, time zone and identifier authority
    apply to a lab token's FHIR resources, as to its HL7 and JSON: its one sender when it is
    bound to one; None otherwise (unbound: no sender's configuration applies).

    FHIR names no sender: the resources are kept under ``<name>^FHIR`` whatever the token's
    binding, so that a correction or a cancellation finds what the token sent before it was
    bound (``LabMessage.configured_as``)."""
    if senders is None or f"{name}^{FHIR_FACILITY}" in senders or len(senders) != 1:
        return None
    application, _, facility = next(iter(senders)).partition("^")
    return application, facility
