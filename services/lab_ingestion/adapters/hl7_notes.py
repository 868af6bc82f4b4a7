"""Which results of an ORU^R01 a laboratory commented on (NTE segments), never what it wrote.

An NTE's text (NTE-3) is free text: "Platelet clumps seen" after a platelet count (falsely
low: it would grade and hold a dose), "Sample haemolysed" after an order, and sometimes a
name. Its text is not read further than to tell whether there is any; what the platform
carries is only that a comment concerns a result (``ObservationInput.laboratory_comment``),
so that a clinician reads it in the hospital's system before acting on the value.

An NTE concerns what it follows (HL7 v2 ORU^R01's groups):

- after an OBX (and before the next OBX, OBR, ORC, SPM or PID): that result alone;
- after an OBR, or after the specimen (SPM) of its order: every result of that order;
- after an ORC, before its OBR: every result of the order the ORC opens (an ORC precedes
  its OBR; some senders write the order's notes there);
- after PID (or MSH, PD1, PV1..., before any ORC or OBR): every result of the message. It is
  a note about the patient (HL7's PATIENT group), written into this report by the
  laboratory; the platform cannot tell what it says, and a flag that is not raised when it
  mattered costs more than one raised when it did not (a clinician reads a comment). A
  sender that writes a note about the patient into every message flags every result.

Other segments (TQ1, CTD, FT1, Z-segments...) leave the NTE's reference as it was. An NTE
counts when NTE-3 holds text: blank, HL7's explicit null ``""`` or formatting and highlighting
escapes alone (``\\.br\\``, ``\\H\\``) are no comment; any other escape, readable or not
(``\\F\\``, ``\\X41\\``, ``\\Xzz\\``), is taken for one (something was written there). The text
is read as written, never unescaped: a note, however broken its escapes, never costs the
message its results.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import hl7

from services.lab_ingestion.adapters.hl7_fields import NULL

_MESSAGE = -1  # a note before any order: every result of the message


def has_text(nte: hl7.Segment) -> bool:
    """Whether NTE-3 (any repetition, component or sub-component) holds text. Read as
    written, never unescaped: python-hl7 raises on some escapes (``\\.in+x\\``) and logs
    the field around others, and a note must never cost the message its results."""
    if len(nte) <= 3:
        return False
    blank = _blank_escapes(nte.esc)
    return any(_is_text(leaf, blank) for leaf in _leaves(nte[3]))


def _leaves(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    assert isinstance(node, list)  # python-hl7's containers are lists
    return [leaf for child in node for leaf in _leaves(child)]


@functools.cache
def _blank_escapes(esc: str) -> re.Pattern[str]:
    """HL7's escapes that stand for no text: formatting commands and highlighting."""
    quoted = re.escape(esc)
    return re.compile(rf"{quoted}(?:\.(?:br|fi|nf|ce)|\.(?:sp|in|ti|sk)[^{quoted}]*|[HN]){quoted}")


def _is_text(raw: str, blank: re.Pattern[str]) -> bool:
    """Whether a value holds text: anything but blanks, HL7's explicit null and escapes
    that stand for no text (any other escape, readable or not, was written for a reader)."""
    value = raw.strip()
    return bool(value) and value != NULL and bool(blank.sub("", value).strip())


@dataclass
class Notes:
    """What the NTE segments of one message concern, read in segment order alongside the
    results: ``segment`` for each segment, then ``commented`` for each result."""

    _orders: int = 0  # OBR segments read so far
    _result_orders: list[int] = field(default_factory=list)  # each result's order
    _target: tuple[str, int] = ("order", _MESSAGE)  # what an NTE here is about
    _results: set[int] = field(default_factory=set)  # results commented on
    _noted_orders: set[int] = field(default_factory=set)  # orders commented on

    def segment(self, kind: str, segment: hl7.Segment) -> None:
        if kind == "OBX":
            self._target = ("result", len(self._result_orders))
            self._result_orders.append(self._orders - 1)
        elif kind == "OBR":
            self._orders += 1
            self._target = ("order", self._orders - 1)
        elif kind == "ORC":  # the order it opens: its OBR is next
            self._target = ("order", self._orders)
        elif kind == "SPM":  # the specimen of the current order
            self._target = ("order", self._orders - 1)
        elif kind == "PID":
            self._target = ("order", _MESSAGE)
        elif kind == "NTE" and has_text(segment):
            what, which = self._target
            (self._results if what == "result" else self._noted_orders).add(which)

    def commented(self, result: int) -> bool:
        """Whether a comment concerns the message's ``result``-th result (0-based)."""
        order = self._result_orders[result]
        return (
            result in self._results or _MESSAGE in self._noted_orders or order in self._noted_orders
        )
