"""Reading one value of a parsed HL7 v2 segment: unescaped, HL7's explicit null as none."""

from __future__ import annotations

from typing import Any

import hl7

from services.lab_ingestion.adapters.hl7_escapes import (
    UnreadableEscape,
    bounded_unescape,
    check_defined_escapes,
    decode_hex_runs,
)

NULL = '""'  # HL7's explicit null


class NestedValue(UnreadableEscape):
    """A component of one value (a patient's number, an order number, a code) written with
    sub-components: an unescaped ``&`` (``MRN4711&5``). Read as its first sub-component it
    is another value (another patient's number), so it is not read: the message is
    malformed, as one with an escape it cannot be read by (``field_value``'s ``single``)."""


def field_value(
    segment: hl7.Segment,
    field: int,
    repeat: int = 1,
    component: int = 1,
    *,
    hex_text: bool = False,
    subcomponent: int = 1,
    strict: bool = False,
    highlight_as_nothing: bool = False,
    single: bool = False,
) -> str:
    """Field/repetition/component (1-based) of a parsed segment, unescaped; "" if absent or
    HL7's explicit null ``""`` (an OBR-3 of ``""`` is no order number: the placer's is used).

    Walks python-hl7's containers directly (its ``extract_field`` builds an accessor per
    call, which doubles the cost of reading a message); a deeper value yields its first
    sub-component, as ``extract_field`` does, or the one ``subcomponent`` names. With
    ``hex_text``, ``\\X..\\`` hex escapes are read as UTF-8 bytes (else latin-1), not one
    character per byte as python-hl7 does. ``strict``: an escape HL7 does not define (which
    python-hl7 drops, joining what is around it) raises UnreadableEscape; for the fields a
    trial result's number and the patient's numbers are read from, where a dropped
    character is another value (another patient). ``highlight_as_nothing``: HL7's
    highlighting escapes read as nothing (``bounded_unescape``), for a trial result's value.
    ``single``: the component holds one value (HL7's data type has no sub-components there:
    CX-1, EI-1, a code): one written with sub-components raises NestedValue, even a trailing
    empty one, rather than being read as its first (``MRN4711&5`` as MRN4711).
    """
    if field >= len(segment):
        return ""
    repetitions = segment[field]
    if repeat > len(repetitions):
        return ""
    node: Any = repetitions[repeat - 1]
    if isinstance(node, str):
        value = node if component == 1 else ""
    elif component > len(node):
        return ""
    else:
        value = _component_value(segment, field, node[component - 1], subcomponent, single)
    if value.strip() == NULL:  # HL7's explicit null ("the value is deleted"): no value, never text
        return ""
    esc = segment.esc
    if esc in value:
        if strict:
            check_defined_escapes(value, esc, f"{segment[0]}-{field}")
        if hex_text and f"{esc}X" in value:
            value = decode_hex_runs(value, esc)
        value = bounded_unescape(segment, value, highlight_as_nothing=highlight_as_nothing)
    return str(value).strip()


def nested_value(segment: hl7.Segment, field: int) -> str | None:
    """Why a field whose components hold one value each (MSH-3's HD) cannot be read: a
    component of its first repetition written with sub-components (``LIS&OTHER``); None
    when none is. Nothing is unescaped (``field_value``'s ``single``, for every component)."""
    if field >= len(segment) or not len(segment[field]):
        return None
    node = segment[field][0]
    if isinstance(node, str):
        return None
    if any(not isinstance(value, str) and len(value) > 1 for value in node):
        return _nested(segment, field)
    return None


def refuse_nested(segment: hl7.Segment, field: int, components: tuple[int, ...]) -> None:
    """Raise NestedValue when one of ``components`` (1-based) of any repetition of the
    field is written with sub-components (an unescaped ``&``, even a trailing empty part):
    checked before the field is read at all, whatever it then names."""
    if has_subcomponents(segment, field, components):
        raise NestedValue(_nested(segment, field))


def _nested(segment: hl7.Segment, field: int) -> str:
    """The reason (it fits MSA-3's 80 characters, and quotes nothing of the value)."""
    return f"{segment[0]}-{field} holds sub-components where one value belongs: it cannot be read"


def _component_value(
    segment: hl7.Segment, field: int, node: Any, subcomponent: int, single: bool
) -> str:
    """A component's first sub-component, or the one ``subcomponent`` names, as written."""
    if single and not isinstance(node, str) and len(node) > 1:
        raise NestedValue(_nested(segment, field))
    if subcomponent > 1:
        if isinstance(node, str) or subcomponent > len(node):
            return ""
        node = node[subcomponent - 1]
    while not isinstance(node, str):
        node = node[0] if len(node) else ""
    return str(node)


def repeats(segment: hl7.Segment, field: int) -> bool:
    return field < len(segment) and len(segment[field]) > 1


def later_repetitions(
    segment: hl7.Segment, field: int, components: int, *, strict: bool = False
) -> list[tuple[str, ...]]:
    """The components of each repetition of a field after its first (empty ones left out)."""
    later = []
    for repeat in range(2, len(segment[field]) + 1):
        parts = tuple(
            field_value(segment, field, repeat, c, hex_text=True, strict=strict)
            for c in range(1, components + 1)
        )
        if any(parts):
            later.append(parts)
    return later


def later_subcomponents(
    segment: hl7.Segment, field: int, components: int, *, strict: bool = False
) -> list[str]:
    """The sub-components after the first of each of a field's first ``components``
    components, of every repetition (empty ones left out), unescaped as ``field_value``."""
    later = []
    for repeat, node in enumerate(segment[field] if field < len(segment) else (), start=1):
        parts = [] if isinstance(node, str) else list(node)[:components]
        for component, value in enumerate(parts, start=1):
            for sub in range(2, (1 if isinstance(value, str) else len(value)) + 1):
                text = field_value(
                    segment, field, repeat, component, hex_text=True, subcomponent=sub,
                    strict=strict,
                )  # fmt: skip
                if text:
                    later.append(text)
    return later


def whole_value(
    segment: hl7.Segment, field: int, *, strict: bool = False, highlight_as_nothing: bool = False
) -> str | None:
    """A field's first repetition with every component and sub-component, unescaped (hex as
    UTF-8) as ``field_value`` reads them, as written (``12^5``, ``9&5``); None when it holds
    one value alone (trailing empty parts aside)."""
    if field >= len(segment) or not len(segment[field]):
        return None
    node = segment[field][0]
    if isinstance(node, str):
        return None
    parts = []
    for component, value in enumerate(node, start=1):
        count = 1 if isinstance(value, str) else max(len(value), 1)
        subs = [
            field_value(
                segment, field, 1, component, hex_text=True, subcomponent=s, strict=strict,
                highlight_as_nothing=highlight_as_nothing,
            )
            for s in range(1, count + 1)
        ]  # fmt: skip
        parts.append("&".join(subs).rstrip("&"))
    text = "^".join(parts).rstrip("^")
    return text if ("^" in text or "&" in text) else None


def has_subcomponents(
    segment: hl7.Segment, field: int, components: tuple[int, ...] | None = None
) -> bool:
    """Whether a component (one of ``components``, 1-based; None: any) of any repetition of
    the field is written with sub-components: an unescaped ``&``, even with nothing on one
    side of it (``&lt;``, ``^&0.5``, ``5&``), where its first part alone reads as something
    else (``&lt;^50`` as 50, ``&lt;0.5`` as empty: review 179)."""
    for node in segment[field] if field < len(segment) else ():
        if isinstance(node, str):
            continue
        for component, value in enumerate(node, start=1):
            if components is not None and component not in components:
                continue
            if not isinstance(value, str) and len(value) > 1:
                return True
    return False
