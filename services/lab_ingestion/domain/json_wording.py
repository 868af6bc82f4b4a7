"""A rejection's reason as a JSON sender reads it (pure: no I/O).

The reasons the rules give are written for HL7, the channel most laboratories use: they name
its fields (``MSH-10``, ``OBX-4``, ``OBX-11 C``, ``PID-3``) and its result key (the order
and test). A JSON sender has none of these: its message id is ``message_id``, a result's key
its ``result_id``, a correction the status ``corrected``. ``for_json`` says each such phrase
in the JSON format's words, in the answer, the kept rejection and its ``lab.rejected.v1``
event alike. A reason naming an HL7 field it does not know is left as it is (and
``speaks_hl7`` tells it: a test holds every reason a JSON message can get to it).
"""

from __future__ import annotations

import re
from typing import Final

# longest first where one phrase holds another
_PHRASES: Final = (
    ("this message id (MSH-10)", "this message_id"),
    ("results under one order and test", "results under one result_id"),
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
)
_HL7_FIELD: Final = re.compile(r"\b(?:MSH|PID|PV1|ORC|OBR|OBX|NTE|SPM)-[0-9]+")


def for_json(reason: str) -> str:
    """``reason`` in the JSON format's words (the same text when it names nothing of HL7)."""
    for hl7, json in _PHRASES:
        if hl7 in reason:
            reason = reason.replace(hl7, json)
    return reason


def speaks_hl7(reason: str) -> bool:
    """Whether ``reason`` names an HL7 field (``OBX-4``) or HL7's result key."""
    return (
        bool(_HL7_FIELD.search(reason)) or "order and test" in reason or "order number" in (reason)
    )
