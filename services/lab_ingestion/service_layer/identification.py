"""Which hospital number a batch's messages are matched by, given their senders' assigning
authorities (``domain.patient_identity`` has the rules).

Before a batch is planned, a message whose sender has an authority gets the number of that
authority (and, when the parser could not choose, its result keys scoped to the patient); a
message left without a number it can be matched by is *unresolved*. An unresolved message is
never matched by a guess: if none of its numbers names a subject it could be about (enrolled,
or withdrawn and the message theirs or not to be told: ``subject_of``) the patient is not the
trial's and the message is discarded like any other such patient's (nothing kept; or,
while the subject directory catches up at start-up, answered "resend": ``directory_gate``); if one
does, the message is rejected with the reason, kept for the lab to correct.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from services.lab_ingestion.domain.model import (
    IdentifierCandidate,
    LabMessage,
    Rejected,
    RejectionCode,
    StaleBatch,
)
from services.lab_ingestion.domain.patient_identity import (
    has_missing_number,
    identified,
    resolve_patient_identifier,
)
from services.lab_ingestion.domain.records import Sender
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
)
from services.lab_ingestion.service_layer.subjects import named_in_pid4, not_enrolled, subject_of

SourceKey = tuple[str, str]
Hash = Callable[[str], str]


def identify_commands(
    commands: Sequence[Command], allowed: Mapping[SourceKey, Sender], hash_identifier: Hash
) -> list[Command]:
    """The commands with each message's number chosen by its sender's authority, known by any
    of its names (the same commands when no sender has one, the common case)."""
    authorities = {
        key: sender.identifier_authorities
        for key, sender in allowed.items()
        if sender.identifier_authorities
    }
    if not authorities:
        return list(commands)
    identify = _Identifier(authorities, hash_identifier)
    return [identify.command(c) for c in commands]


def is_unresolved(message: LabMessage) -> bool:
    """No number to match by, but numbers that could name the patient."""
    return message.patient_identifier is None and any(
        c.value for c in message.identifier_candidates
    )


def unresolved_outcome(
    context: BatchContext, message: LabMessage, hash_identifier: Hash, received_at: datetime
) -> IngestOutcome:
    """Discarded (not enrolled) when none of the message's numbers names a subject at the
    sender's site it could be about (enrolled, or withdrawn: ``subject_of``) and none is
    missing; otherwise rejected with why no number could be chosen (an empty MR may be an
    enrolled subject's, a withdrawn subject's late result is theirs: never discarded
    unseen)."""
    sender = context.allowed.get(message.settings_key)
    enrolled = has_missing_number(message.identifier_candidates)
    hmacs = []
    for candidate in _numbers(message):
        patient_hmac = context.hmacs.get(candidate.value) or hash_identifier(candidate.value)
        hmacs.append(patient_hmac)
        if subject_of(context, message, patient_hmac, received_at) is not None:
            enrolled = True
    if not enrolled:
        refused = named_in_pid4(context, message, hmacs, received_at)
        if refused is not None:
            if context.assumed:  # read first: PID-3's numbers may be former ones
                raise StaleBatch("a message's subject must be read before rejecting it")
            return IngestOutcome.rejected(refused.code, refused.reason)
        return not_enrolled(context, hmacs)
    reason = resolve_patient_identifier(message, sender.identifier_authorities if sender else ())
    if isinstance(reason, Rejected):
        return IngestOutcome.rejected(reason.code, reason.reason)
    return IngestOutcome.rejected(
        RejectionCode.MISSING_PATIENT,
        "no patient number: the medical record number (PID-3 MR) or the sender's authority's "
        "number is empty",
    )


def identifiers_to_hash(message: LabMessage) -> list[str]:
    """The numbers whose enrolment the batch must know: the one chosen, or, when none could
    be, all of them (to tell a patient who is not the trial's from one who may be)."""
    if message.patient_identifier:
        return [message.patient_identifier]
    return [c.value for c in _numbers(message)]


def alternates_to_hash(message: LabMessage) -> list[str]:
    """PID-4's numbers: never the patient's, but one naming a subject while PID-3 names
    nobody refuses the message (``subjects.named_in_pid4``); never read for a former
    number (review 201: the fast path was refused for each message naming an enrolled
    subject's old number there)."""
    return [c.value for c in message.alternate_candidates]


def _numbers(message: LabMessage) -> list[IdentifierCandidate]:
    return [c for c in message.identifier_candidates if c.value]


class _Identifier:
    def __init__(
        self, authorities: Mapping[SourceKey, tuple[str, ...]], hash_identifier: Hash
    ) -> None:
        self._authorities = authorities
        self._hash = hash_identifier
        self._bundles: dict[int, tuple[LabMessage, ...]] = {}  # by the sent tuple's identity

    def command(self, command: Command) -> Command:
        if isinstance(command, IngestLabMessage):
            message = self.message(command.message)
            bundle = self.bundle(command.bundle)
            if message is command.message and bundle is command.bundle:
                return command
            return replace(command.for_message(message), bundle=bundle)
        if isinstance(command, IngestTransaction):
            messages = tuple(self.message(m) for m in command.messages)
            return replace(command, messages=messages)
        return command

    def bundle(self, bundle: tuple[LabMessage, ...]) -> tuple[LabMessage, ...]:
        """A batch Bundle's messages as its entries are identified (its versions are known
        by the ids its entries are stored under), once per Bundle: each entry holds it."""
        found = self._bundles.get(id(bundle))
        if found is None:
            found = tuple(self.message(m) for m in bundle)
            if all(a is b for a, b in zip(found, bundle, strict=True)):
                found = bundle
            self._bundles[id(bundle)] = found
        return found

    def message(self, message: LabMessage) -> LabMessage:
        names = self._authorities.get(message.settings_key)
        if not names or not message.identifier_candidates:
            return message
        chosen = resolve_patient_identifier(message, names)
        if isinstance(chosen, Rejected) or chosen is None:
            return replace(message, patient_identifier=None)  # unresolved
        return identified(message, chosen, self._hash)
