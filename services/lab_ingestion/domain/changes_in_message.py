"""Which earlier results of its own message a correction or withdrawal acts on (pure): a
result under its key that the message stores, so that the lab's other feed's copies of the
sample are not what it changes (task 220, review 219; ``copy_outcomes.held_elsewhere``)."""

from __future__ import annotations

from collections.abc import Collection

from services.lab_ingestion.domain.model import LabMessage
from services.lab_ingestion.domain.result_status import CANCELLING, EMITTED, status_of


def acts_in_message(message: LabMessage, index: int, left_out: Collection[int]) -> bool:
    """Whether the message holds, before its result at ``index``, a result under the same
    key that the message stores (neither left out, ``left_out``, nor itself a withdrawal): a
    withdrawal or correction there acts on that result, as when the other feed holds nothing
    (task 220: an HL7 W after its F 13 was left out as a duplicate of the FHIR feed's
    withdrawal of its 12, and F 13 stood)."""
    key = message.observations[index].result_key
    return any(
        o.result_key == key and i not in left_out and status_of(o) not in CANCELLING
        for i, o in enumerate(message.observations[:index])
    )


def corrects_in_message(message: LabMessage, index: int, left_out: Collection[int]) -> bool:
    """Whether the message stores, before its result at ``index``, a final or corrected
    result under the same key that stands when it comes (none left out, ``left_out``, nor
    withdrawn after it in the message): a correction there corrects that result, as when
    the other feed holds nothing (its chain's to check). A preliminary result or a
    withdrawal before it is nothing it corrects: beside the other feed's withdrawn result
    of the sample it is told so (review 219: P 13 then C 14 in one message was told "send
    the final result first", in two "correction of a withdrawn result")."""
    key = message.observations[index].result_key
    standing = False
    for i, observation in enumerate(message.observations[:index]):
        if observation.result_key != key or i in left_out:
            continue
        status = status_of(observation)
        if status in CANCELLING:
            standing = False
        elif status in EMITTED:
            standing = True
    return standing
