"""FHIR results planned under the key of the stored result they are a version of when their
own key names none (``result_identifiers.choose_key``: another of their identifiers is that
result's own key, of the same analyte and patient): read on the careful path, under the
chain lock, before the batch's chains are read."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from services.lab_ingestion.domain.model import LabMessage, ObservationInput
from services.lab_ingestion.domain.result_identifiers import (
    StoredResult,
    choose_key,
    keys_to_read,
)
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
) -> list[Command]:
    """The commands with each FHIR result keyed as the stored result it is a version of (the
    same commands when none is named by another key than its own, the common case);
    ``hash_identifier``: the keyed hash a patient's number is matched by."""
    keys = sorted(
        {(m.source, k) for m in _messages(commands) for o in _named(m) for k in keys_to_read(o)}
    )
    if not keys:
        return list(commands)
    found: Mapping[SourceKey, StoredResult] = await labs.stored_results(keys)
    if not found:
        return list(commands)  # every result is new
    stored = {key: labs.stored_key(key) for _, key in keys}

    def rekeyed(message: LabMessage) -> LabMessage:
        if not _named(message):
            return message
        number = message.patient_identifier
        patient = hash_identifier(number) if number else None
        observations = tuple(
            choose_key(o, _found(message.source, o, found), stored, patient)
            if _may_be_named(message, o) else o
            for o in message.observations
        )  # fmt: skip
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

    return [_command(c, rekeyed, rekeyed_bundle) for c in commands]


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
