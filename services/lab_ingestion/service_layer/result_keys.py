"""FHIR results planned under the key of the result they are a version of when their own
key names none (``result_identifiers.choose_key``: another of their identifiers is that
result's own key, of the same analyte and patient).

The stored results named are read on the careful path, under the chain lock, before the
batch's chains are read (``keyed_as_stored``: which chains to read). Each result is keyed
again as its message is planned (``keyed_as_planned``), from its identifiers as sent, beside
the results earlier messages of the batch (or entries of its Bundle) planned: a version
sent beside its result finds it as it finds one stored before, and one whose own key an
earlier message of the batch planned stays under it (review 170: the answer never depends
on whether two versions share a commit batch or a Bundle)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from services.lab_ingestion.domain.model import LabMessage, ObservationInput
from services.lab_ingestion.domain.result_identifiers import (
    NOTHING_NAMED,
    NamedResults,
    StoredResult,
    choose_key,
    keys_to_read,
)
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestTransaction,
    RecordRejectedInput,
)
from shared.contracts.events.lab import Channel

SourceKey = tuple[str, str]


async def keyed_as_stored(
    labs: Any, commands: Sequence[Command], hash_identifier: Callable[[str], str]
) -> tuple[list[Command], NamedResults]:
    """The commands with each FHIR result keyed as the stored result it is a version of (the
    same commands when none is named by another key than its own, the common case), and
    what was read (``NamedResults``); ``hash_identifier``: the keyed hash a patient's number
    is matched by."""
    keys = sorted(
        {(m.source, k) for m in _messages(commands) for o in _named(m) for k in keys_to_read(o)}
    )
    if not keys:
        return list(commands), NOTHING_NAMED
    found: Mapping[SourceKey, StoredResult] = await labs.stored_results(keys)
    if not found:
        return list(commands), NOTHING_NAMED  # every result is new (or of this batch)
    stored = {key: labs.stored_key(key) for _, key in keys}
    sent: dict[int, tuple[ObservationInput, ObservationInput]] = {}
    to_read: dict[SourceKey, None] = dict.fromkeys(found)

    def keyed(message: LabMessage, observation: ObservationInput, patient: str | None) -> Any:
        if not _may_be_named(message, observation):
            return observation
        chosen = choose_key(
            observation, _found(message.source, observation, found), stored, patient
        )
        if chosen is not observation:
            sent[id(chosen)] = (chosen, observation)
            to_read[(message.source, observation.result_key)] = None
        return chosen

    def rekeyed(message: LabMessage) -> LabMessage:
        if not _named(message):
            return message
        number = message.patient_identifier
        patient = hash_identifier(number) if number else None
        observations = tuple(keyed(message, o, patient) for o in message.observations)
        if all(new is old for new, old in zip(observations, message.observations, strict=True)):
            return message
        return replace(message, observations=observations)

    bundles: dict[int, tuple[LabMessage, ...]] = {}  # each Bundle once, shared as it was

    def rekeyed_bundle(bundle: tuple[LabMessage, ...]) -> tuple[LabMessage, ...]:
        if id(bundle) not in bundles:
            again = tuple(rekeyed(m) for m in bundle)
            same = all(new is old for new, old in zip(again, bundle, strict=True))
            bundles[id(bundle)] = bundle if same else again
        return bundles[id(bundle)]

    rekeyed_commands = [_command(c, rekeyed, rekeyed_bundle) for c in commands]
    return rekeyed_commands, NamedResults(found, stored, sent, tuple(to_read))


def keyed_as_planned(
    context: BatchContext, command: IngestLabMessage, patient: str
) -> IngestLabMessage:
    """The command with each FHIR result keyed, from its identifiers as sent, as the result
    it is a version of among those stored (``context.named``: as read) and those earlier
    messages of the batch planned, as ``keyed_as_stored`` keys it among stored ones alone
    (``patient``: the keyed hash of its number). The same command when that is how it was
    keyed (the common case: the batch planned nothing its identifiers name)."""
    message = command.message
    if message.channel != Channel.FHIR or not context.results:
        return command  # nothing planned before it: keyed as stored results name it
    named = context.named
    sent = {id(o): named.as_sent(o) for o in message.observations}
    if not any(_may_name_another(message, o) for o in sent.values()):
        return command
    source = message.source
    wanted = {(source, k) for o in sent.values() for k in keys_to_read(o)}
    planned: dict[SourceKey, list[tuple[str, str]]] = {}  # key -> (analyte, subject) planned
    for record in context.results:
        key = (record.source, record.result_key)
        if key in wanted:
            planned.setdefault(key, []).append((record.result.analyte.value, record.subject_id))
    if not planned:
        return command  # keyed as the stored results alone name it

    def keyed(observation: ObservationInput) -> ObservationInput:
        as_sent = sent[id(observation)]
        if not _may_name_another(message, as_sent):
            return observation
        found = {
            k: _with_planned(context, named.found.get((source, k)), planned.get((source, k)), k)
            for k in keys_to_read(as_sent)
            if (source, k) in named.found or (source, k) in planned
        }
        stored_form = {k: result.stored_key for k, result in found.items()}
        chosen = choose_key(as_sent, found, stored_form, patient)
        return observation if _same_keys(chosen, observation) else chosen

    observations = tuple(keyed(o) for o in message.observations)
    if all(new is old for new, old in zip(observations, message.observations, strict=True)):
        return command
    rekeyed = replace(message, observations=observations)
    bundle = tuple(rekeyed if _same_message(m, message) else m for m in command.bundle)
    return replace(command.for_message(rekeyed), bundle=bundle)


def _with_planned(
    context: BatchContext, stored: StoredResult | None, rows: list[tuple[str, str]] | None, key: str
) -> StoredResult:
    """The result a key names: as stored, with the results the batch planned under it as a
    read would find them once stored (their analytes, and the keyed hashes their patients
    are enrolled under: a subject withdrawn since too, whose sample collected before is
    still the trial's, review 175)."""
    rows = rows or []
    subjects = {subject for _, subject in rows}
    enrolled = [
        *((hmac, s.subject_id) for hmac, active in context.subjects.items() for s in active),
        *((hmac, w.subject.subject_id) for hmac, gone in context.withdrawn.items() for w in gone),
    ]
    patients = frozenset(hmac for hmac, subject in enrolled if subject in subjects)
    analytes = frozenset(analyte for analyte, _ in rows)
    if stored is None:
        return StoredResult(key, analytes, patients)
    return replace(stored, analytes=stored.analytes | analytes, patients=stored.patients | patients)


def _same_keys(one: ObservationInput, other: ObservationInput) -> bool:
    return (one.result_key, one.other_keys, one.key_conflict) == (
        other.result_key, other.other_keys, other.key_conflict,
    )  # fmt: skip


def _same_message(one: LabMessage, other: LabMessage) -> bool:
    """Whether two Bundle entries are one (a message keyed anew is another object)."""
    return one is other or (one.source, one.control_id) == (other.source, other.control_id)


def _may_name_another(message: LabMessage, observation: ObservationInput) -> bool:
    """A FHIR result with identifiers besides its own."""
    return _may_be_named(message, observation) and bool(
        observation.other_keys or observation.keys_before
    )


def _command(command: Command, rekeyed: Any, rekeyed_bundle: Any) -> Command:
    if isinstance(command, IngestLabMessage):
        message, bundle = rekeyed(command.message), rekeyed_bundle(command.bundle)
        if message is command.message and bundle is command.bundle:
            return command
        return replace(command.for_message(message), bundle=bundle)
    if isinstance(command, IngestTransaction | RecordRejectedInput) and command.messages:
        return replace(command, messages=tuple(rekeyed(m) for m in command.messages))
    return command


def _messages(commands: Iterable[Command]) -> list[LabMessage]:
    messages: list[LabMessage] = []
    for command in commands:
        if isinstance(command, IngestLabMessage):
            messages.append(command.message)
        else:
            messages.extend(command.messages)
    return messages


def _named(message: LabMessage) -> list[ObservationInput]:
    return [o for o in message.observations if _may_be_named(message, o)]


def _may_be_named(message: LabMessage, observation: ObservationInput) -> bool:
    """A FHIR result of the lab's identifiers (an untracked one, keyed by its collection
    time, has none)."""
    return message.channel == Channel.FHIR and observation.unscoped_key is None


def _found(
    source: str, observation: ObservationInput, found: Mapping[SourceKey, StoredResult]
) -> dict[str, StoredResult]:
    return {
        key: found[(source, key)] for key in keys_to_read(observation) if (source, key) in found
    }
