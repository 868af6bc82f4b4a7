"""A rejection's reason as its sender's format names things (pure: no I/O).

The reasons the rules give are written for HL7, the channel most laboratories use: they name
its fields (``MSH-10``, ``OBX-4``, ``OBX-11 C``, ``PID-3``) and its result key (the order
and test). A JSON or FHIR sender has none of these. ``worded`` says each such phrase in the
words of the sender's channel, one table a channel: JSON's message id is ``message_id``, a
result's key its ``result_id``, a correction the status ``corrected``; FHIR's result key is
``Observation.identifier``, a correction ``Observation.status`` corrected or amended, the
patient ``Observation.subject``. A FHIR reason also names the element holding what it speaks
of (``Observation.effective[x]``, ``Observation.valueQuantity``), and ``fhir_element`` tells
the one element a reason names (an OperationOutcome issue's ``expression``). The service
layer words the answer, the kept rejection and its ``lab.rejected.v1`` event alike; HL7's
reasons are left as they are. A reason naming an HL7 field a table does not know is left as
it is (``speaks_hl7`` tells it: a test holds every reason in the code to it).

Wording is idempotent (a transaction's reason is worded as its entry's, then as its own): a
phrase whose words hold the phrase itself is not said again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from shared.contracts.events.lab import Channel

Phrases = tuple[tuple[str, str], ...]  # (as the rules write it, as the channel says it)

# longest first where one phrase holds another
_JSON: Final[Phrases] = (
    ("this message id (MSH-10)", "this message_id"),
    ("results under one order and test", "results under one result_id"),
    (
        "under the order number and sub-id (OBX-4) of the result it corrects",
        "under the result_id of the result it corrects",
    ),
    ("give each a sub-id (OBX-4) of its own", "give each a result_id of its own"),
    ("(OBX-11 C; status corrected)", "(status corrected)"),
    ("is corrected with status C)", "is corrected with status corrected)"),
    ("the order and test of this final result hold", "the result_id of this final result holds"),
    ("the order and test of this result hold", "the result_id of this result holds"),
    ("this order and test already hold", "this result_id already holds"),
    ("under this order and test", "under this result_id"),
    ("this order and test held", "this result_id held"),
    ("the result under its order and test", "the result under its result_id"),
    ("under a new order number", "under a new result_id"),
    ("an order number of its own", "a result_id of its own"),
    ("(OBX-11 F)", "(status final)"),
    ("no patient identifier (PID-3)", "no patient identifier (patient.identifier)"),
    ("(MSH-3^MSH-4)", "(source.application^source.facility)"),
    ("under the order and test it was stored under", "under the result_id it was stored under"),
    ("with status X, without a value", "with status cancelled, without a value"),
    ("a report time (OBR-22)", "a report time (reported_at)"),
    ("a report time (OBX-19)", "a report time (reported_at)"),
)

_IDENTIFIER: Final = "identifier (Observation.identifier)"
_TIME: Final = "(Observation.effective[x])"
_QUANTITY: Final = "(Observation.valueQuantity)"
_VALUE: Final = "(Observation.value[x]: a valueQuantity, with its unit)"
_HOLDS: Final = "result holds"
_STORED_UNDER: Final = f"under the {_IDENTIFIER} it was stored under"
_ISSUED: Final = "an issued time (Observation.issued)"
_SUBJECT: Final = "Observation.subject: its identifier, or its Patient's"
_MR: Final = "Observation.subject's Patient.identifier of type MR"
# a FHIR message id is made of its Observation's version (``fhir_identity``): only what that
# leaves out (a note's text) can differ under it
_REUSED_VERSION: Final = (
    "this version of the Observation (its identifier, status, value and times) was sent "
    "before saying something else: send what changed as a new version, with an issued time "
    "(Observation.issued) of its own"
)
_FHIR: Final[Phrases] = (
    (
        "this message id (MSH-10) was used before for a message with other results, values "
        "or statuses: send every message, a correction too, under an id of its own",
        _REUSED_VERSION,
    ),
    ("results under one order and test", f"results under one {_IDENTIFIER}"),
    (
        "under the order number and sub-id (OBX-4) of the result it corrects",
        f"under the {_IDENTIFIER} of the result it corrects",
    ),
    ("give each a sub-id (OBX-4) of its own", "give each an identifier of its own"),
    ("(OBX-11 C; status corrected)", "(Observation.status corrected or amended)"),
    ("is corrected with status C)", "is corrected with Observation.status corrected)"),
    ("the order and test of this final result hold", f"the {_IDENTIFIER} of this final {_HOLDS}"),
    ("the order and test of this result hold", f"the {_IDENTIFIER} of this {_HOLDS}"),
    ("this order and test already hold", f"this {_IDENTIFIER} already holds"),
    ("under this order and test", f"under this {_IDENTIFIER}"),
    ("this order and test held", f"this {_IDENTIFIER} held"),
    ("the result under its order and test", f"the result under its {_IDENTIFIER}"),
    ("under a new order number", "under a new identifier"),
    ("an order number of its own", "an identifier of its own"),
    ("the result under this key is", f"the result under this {_IDENTIFIER} is"),
    ("a new test needs a key of its own", "a new test needs an identifier of its own"),
    ("under a new message id", f"as a new version, with {_ISSUED} of its own"),
    ("(OBX-11 F)", "(Observation.status final)"),
    ("no patient identifier (PID-3)", f"no patient identifier ({_SUBJECT})"),
    ("(PID-3 MR, or the number of the", f"({_MR}, or the number of the"),
    ("(PID-3 MR)", f"({_MR})"),
    ("(MSH-3^MSH-4)", "(the token's sender)"),
    ("under the order and test it was stored under", _STORED_UNDER),
    ("with status X, without a value", "with status cancelled, without a value (no value[x])"),
    ("a report time (OBR-22)", "an issued time (Observation.issued)"),
    ("a report time (OBX-19)", "an issued time (Observation.issued)"),
    # what a reason speaks of without naming a field: the element that holds it
    ("has no collection time", f"has no collection time {_TIME}"),
    ("collection time is before", f"collection time {_TIME} is before"),
    ("collection time is more than", f"collection time {_TIME} is more than"),
    ("report time is more than", "report time (Observation.issued) is more than"),
    ("before the collection time:", f"before the collection time {_TIME}:"),
    # a valueString or valueInteger has no unit (review 121): where the value is sent
    ("no unit given for", f"no unit {_VALUE} given for"),
    (" value is empty", f" value {_VALUE} is empty"),
    (" cannot be converted to ", f" {_QUANTITY} cannot be converted to "),
    (" names units that disagree for", f" {_QUANTITY} names units that disagree for"),
    (" holds words about a unit", f" {_QUANTITY} holds words about a unit"),
    ("the reference range ", "the reference range (Observation.referenceRange) "),
    ("the abnormal flag ", "the abnormal flag (Observation.interpretation) "),
    ("result is flagged both", "result is flagged (Observation.interpretation) both"),
    ("contradicts its flag", "contradicts its flag (Observation.interpretation)"),
)  # fmt: skip
_WORDINGS: Final[Mapping[Channel, Phrases]] = {Channel.JSON: _JSON, Channel.FHIR: _FHIR}

_HL7_FIELD: Final = re.compile(r"\b(?:MSH|PID|PV1|ORC|OBR|OBX|NTE|SPM)-[0-9]+")
_HL7_STATUS: Final = re.compile(r"\bstatus '?[A-Z]'?(?![A-Za-z])")  # OBX-11's letters
_FHIR_ELEMENT: Final = re.compile(r"\bObservation(?:\.[a-z][A-Za-z]*(?:\[x\])?)+")


def worded(reason: str, channel: Channel) -> str:
    """``reason`` in ``channel``'s words (the same text for HL7's channels, and when it names
    nothing the channel's table knows)."""
    for phrase, said in _WORDINGS.get(channel, ()):
        if phrase in reason and not (phrase in said and said in reason):
            reason = reason.replace(phrase, said)
    return reason


def for_json(reason: str) -> str:
    """``reason`` in the JSON format's words."""
    return worded(reason, Channel.JSON)


def for_fhir(reason: str) -> str:
    """``reason`` in FHIR's words: its elements named."""
    return worded(reason, Channel.FHIR)


def fhir_element(reason: str) -> str | None:
    """The one Observation element ``reason`` names (``Observation.effective[x]``): where an
    OperationOutcome issue lies. None when it names none, or several (a changed final result
    is the identifier's or the status's fault: which, the sender knows)."""
    named = set(_FHIR_ELEMENT.findall(reason))
    return named.pop() if len(named) == 1 else None


def speaks_hl7(reason: str) -> bool:
    """Whether ``reason`` names an HL7 field (``OBX-4``), an OBX-11 status letter or HL7's
    result key."""
    return (
        bool(_HL7_FIELD.search(reason) or _HL7_STATUS.search(reason))
        or "order and test" in reason
        or "order number" in reason
    )
