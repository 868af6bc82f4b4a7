"""HL7 results stored under the keys made before 7a953a8 (pure: no I/O).

An HL7 result key named the test by OBX-3's identifier alone; since 7a953a8 by the first
code the sender wrote (``hl7_obx.key_code``). Where the identifier is empty or ``""`` and
the code is in the alternate triplet (``^Neut^^751-8^Neut^LN``), the key changed: ``ORD1||``
before, ``ORD1|751-8|`` now. Stored keys are keyed hashes and cannot be rewritten, so a
result stored before the upgrade stays under its old key (``ObservationInput.legacy_key``).
A cancellation of it under the new key would find nothing (answered "not obtained" while
the result stands), a correction would be refused, and the final resent would be stored a
second time.

So since review 119 for an order numbered in ORC alone (OBR-2 and OBR-3 empty): its results
were keyed by their collection time (``@20261120071500|1988-5|``, made the patient's), now by
the ORC's number; the key made of the collection time is its legacy key
(``ObservationInput.legacy_unscoped``, made the patient's as a time key is), found only when
the resend or correction carries the collection time the stored result was keyed by.

Such a result always takes the careful path (``needs_earlier_result``), whose read takes
in its legacy key too; where its own key holds no row and its legacy key holds a result of
its analyte, it is planned under the legacy key (``on_legacy_keys``): its chain goes on
where it is stored, as any key's does. New results never go under a legacy key. Two results
of one order without OBX-4 share one legacy key (a chain of one analyte): only the first of
a message of the analyte the key holds takes it; the other keeps its own key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import LabMessage, ObservationInput
from services.lab_ingestion.domain.records import EarlierResult, PatientKey, WithdrawnVersion
from services.lab_ingestion.domain.result_status import carries_a_result

SourceKey = tuple[str, str]


def legacy_key_of(observation: ObservationInput) -> str | None:
    """The observation's key as made before 7a953a8 (None: the same as ``result_key``),
    made the patient's as ``result_key`` is when the order has no number."""
    legacy, unscoped = observation.legacy_key, observation.unscoped_key
    if legacy is None or unscoped is None:
        return legacy
    return legacy + observation.result_key[len(unscoped) :]


def has_legacy_keys(message: LabMessage) -> bool:
    return any(o.legacy_key is not None for o in message.observations)


def may_take_legacy_key(observation: ObservationInput) -> bool:
    """Whether the observation could be planned under its legacy key: a trial result's,
    with a result (an untracked test's, or an ``I``, never is: review 111, such a message
    took the careful path for nothing)."""
    return (
        observation.legacy_key is not None
        and carries_a_result(observation)
        and identify_analyte(observation.codes) is not None
    )


def analytes_held(
    key: SourceKey,
    subject_id: str,
    heads: Mapping[SourceKey, EarlierResult],
    preliminaries: Mapping[PatientKey, EarlierResult],
    withdrawn: Mapping[SourceKey, frozenset[WithdrawnVersion]],
) -> set[str]:
    """The analytes of what ``key`` holds for ``subject_id``, as read or as the batch left
    it: its standing versions (the chain's head, its preliminaries), else its withdrawn
    ones; none when any of those is another patient's (review 111: a legacy key whose head
    is now another analyte's, or another patient's, is not taken: the result keeps its own
    key, as before the upgrade)."""
    standing: list[EarlierResult | WithdrawnVersion] = [
        p for k, p in preliminaries.items() if k[:2] == key
    ]
    if key in heads:
        standing.append(heads[key])
    versions = standing or list(withdrawn.get(key, ()))
    if any(version.subject_id != subject_id for version in versions):
        return set()
    return {version.analyte for version in versions}


def on_legacy_keys(
    message: LabMessage,
    unused: Callable[[SourceKey], bool],
    analytes: Callable[[SourceKey], set[str]],
) -> LabMessage:
    """``message`` with each result that has a legacy key planned under it where its own key
    holds no row (``unused``) and the legacy key holds a result of its analyte for its
    patient (``analytes``), the first such result of the message alone; else as read."""
    if not has_legacy_keys(message):
        return message
    taken: set[str] = set()
    observations = []
    for observation in message.observations:
        legacy = legacy_key_of(observation)
        identified = identify_analyte(observation.codes)
        if (
            legacy is not None
            and legacy not in taken
            and identified is not None
            and may_take_legacy_key(observation)
            and unused((message.source, observation.result_key))
            and identified[0].value in analytes((message.source, legacy))
        ):
            taken.add(legacy)
            observations.append(_under(observation, legacy))
        else:
            observations.append(observation)
    return replace(message, observations=tuple(observations))


def keyed_before(message: LabMessage) -> LabMessage | None:
    """``message`` with each result keyed as before 7a953a8 (None: no key of it changed), as
    the digest of a message stored then was made (``says_the_same``)."""
    if not has_legacy_keys(message):
        return None
    observations = tuple(
        o if (legacy := legacy_key_of(o)) is None else _under(o, legacy)
        for o in message.observations
    )
    return replace(message, observations=observations)


def _under(observation: ObservationInput, legacy: str) -> ObservationInput:
    """``observation`` keyed by its legacy key (``legacy``, made the patient's as its key)."""
    unscoped = observation.legacy_key if observation.unscoped_key is not None else None
    unscoped = observation.legacy_unscoped or unscoped
    return replace(
        observation, result_key=legacy, unscoped_key=unscoped, legacy_key=None,
        legacy_unscoped=None,
    )  # fmt: skip
