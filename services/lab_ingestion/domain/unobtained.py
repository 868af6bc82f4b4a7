"""Trial results reported as final or preliminary without a value: a count the analyser could
not make (platelets ``CLUMPED``, ``TNP``, ``QNS``, ``See comment`` with an NTE, an empty
OBX-5; a partial release's ``Pending``). Laboratory systems send these as often as they send
``X`` ("results cannot be obtained"), and they mean the same: read as ``X``, such a result is
left out where its key never held anything (``chain_checks.obtains_nothing``), so that the
grade-4 neutrophil count beside it is stored instead of the whole message being refused.

Only where nothing can be lost by it: never a correction (``C`` without a value may void the
value it corrects: refused, the lab is told), never alone among the message's trial results
(a message whose only trial result has no value stays refused: the lab is told), never under
a key that held anything or that another observation of the message uses (an ``X`` there
would withdraw), and not over FHIR (a FHIR result is kept under its token's name: a key
finding nothing may be meant for a result sent under another).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    ResultStatusCode,
)
from services.lab_ingestion.domain.result_status import carries_a_result, status_of
from shared.contracts.events.lab import Channel

# what a result without a value may be reported as: final or not yet final (R, S read as P)
_REPORTED = frozenset({ResultStatusCode.FINAL.value, ResultStatusCode.PRELIMINARY.value})
_VALUED = _REPORTED | {ResultStatusCode.CORRECTED.value}

SourceKey = tuple[str, str]


def holds_no_value(observation: ObservationInput) -> bool:
    """A trial result reported as final or preliminary whose value holds no digit at all
    (empty, or text: a number written in words is not read either way)."""
    return (
        status_of(observation) in _REPORTED
        and not _has_a_digit(observation.value)
        and identify_analyte(observation.codes) is not None
    )


def as_not_obtained(
    message: LabMessage, never_held: Callable[[SourceKey], bool]
) -> tuple[LabMessage, int]:
    """The message with each result it reports without a value (``holds_no_value``) read as
    ``X`` where that leaves it out (see the module), and how many; the message itself
    otherwise. ``never_held``: whether nothing was ever stored under a key, for anyone."""
    if message.channel is Channel.FHIR:
        return message, 0
    trial = [o for o in message.observations
             if identify_analyte(o.codes) is not None and carries_a_result(o)]  # fmt: skip
    if not any(status_of(o) in _VALUED and _has_a_digit(o.value) for o in trial):
        return message, 0  # alone: refused as before, the lab is told
    uses = Counter(o.result_key for o in trial)
    not_obtained = {
        index
        for index, observation in enumerate(message.observations)
        if holds_no_value(observation)
        and uses[observation.result_key] == 1
        and never_held((message.source, observation.result_key))
    }
    if not not_obtained:
        return message, 0
    cannot_obtain = ResultStatusCode.CANNOT_OBTAIN.value
    observations = tuple(
        replace(observation, status=cannot_obtain) if index in not_obtained else observation
        for index, observation in enumerate(message.observations)
    )
    return replace(message, observations=observations), len(not_obtained)


def reports_without_value(message: LabMessage) -> bool:
    """Whether the message reports any result without a value (its keys must then be read:
    ``as_not_obtained`` needs to know whether they ever held anything)."""
    return message.channel is not Channel.FHIR and any(
        holds_no_value(o) for o in message.observations
    )


def _has_a_digit(value: str) -> bool:
    return any(character.isdigit() for character in value)
