"""Reading one OBX segment's test codes, value and flags (python-hl7 containers)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import hl7

from services.lab_ingestion.adapters.hl7_fields import (
    field_value,
    has_subcomponents,
    later_repetitions,
    refuse_nested,
    repeats,
    whole_value,
)
from services.lab_ingestion.domain.model import Coding
from services.lab_ingestion.domain.unit_carets import ends_in_power_base, range_split

_PLAIN = re.compile(r"[<>=]*[0-9]*[.,]?[0-9]+")  # what would be read as one number
# HL7 SN.1 (comparator): one of these or empty; anything else there is no comparator
SN_COMPARATORS = frozenset({"", "<", ">", "<=", ">=", "=", "<>"})


def value_of(obx: hl7.Segment, value_type: str, *, trial: bool) -> str:
    """OBX-5 as text: a structured numeric (SN) one as its number is written (``<^5`` is
    ``<5``); a trial result's whole; any other its first component (as this service stored,
    and digested, it before: an unchanged resend of a stored message stays a duplicate).
    A trial result's is read strictly (``field_value``): an escape HL7 does not define
    raises UnreadableEscape rather than joining the digits around it; HL7's highlighting
    (``\\H\\0.3\\N\\``: a critical value shown in bold) is read as nothing there."""
    if value_type == "SN":
        return _structured_numeric(obx, trial=trial)
    if trial:
        return _plain_value(obx)
    return field_value(obx, 5, hex_text=True)


def flags_of(obx: hl7.Segment, *, strict: bool = False) -> tuple[str, ...]:
    """The abnormal flags of every OBX-8 repetition (table 0078)."""
    return tuple(field_value(obx, 8, r, strict=strict) for r in range(1, _repetitions(obx, 8) + 1))


# what a trial result's field written with sub-components is told (review 179)
_NESTED = "written with sub-components (an unescaped '&'): write '&' as \\T\\"


def flag_refusal(obx: hl7.Segment) -> str | None:
    """Why a trial result's abnormal flags cannot be read (None: they can): the code of an
    OBX-8 repetition (its first component, the one read) written with sub-components,
    even with nothing on one side of the ``&``: ``&lt;`` (an XML entity a converter left)
    read as its first part was no flag, and a value below the scale was stored as measured
    (review 179). Which flag was meant cannot be told: the result is refused."""
    if has_subcomponents(obx, 8, (1,)):
        return "its abnormal flag (OBX-8) is " + _NESTED
    return None


def value_refusal(obx: hl7.Segment, value_type: str) -> str | None:
    """Why a trial result's OBX-5 holds no one number (``ObservationInput.not_a_number``: the
    result is refused with it, never read as empty or by a part; None: its text is read):
    a component of any repetition written with sub-components, even with nothing on one
    side of the ``&`` (an SN ``&lt;^50`` was read as 50 without its comparator, ``&lt;0.5``
    as empty and left out as not obtained; review 179); an SN whose first number (SN.2) is
    empty beside a separator or second number (``^^-^0.5`` was refused as negative); an SN
    with a component after its four (``^12^^^99``: read as 12, the 99 dropped; review 259)."""
    if has_subcomponents(obx, 5):
        return _NESTED
    if value_type == "SN":
        _, number, separator, second = (field_value(obx, 5, 1, c) for c in range(1, 5))
        if not number and (separator or second):
            return "an SN without its first number (SN.2) before its separator or second number"
        if _beyond_sn(obx):
            return "an SN with more than its four components (SN.1 to SN.4)"
    return None


def ranges_of(obx: hl7.Segment, *, trial: bool = False) -> tuple[str | None, str | None]:
    """OBX-7, the reference range; and, where a unit's caret split it (below), as read
    before eae8c09 (None: the same), its first component alone: the digest of a message
    stored then was made of that (``message_identity.ranges_read_before``).

    A trial result's repetitions are kept, joined by ``~`` (``<33 U/L (F)~<41 U/L (M)``:
    one range per sex, which the normaliser reads as none): read as its first alone, the
    women's range would grade every patient. Another test's is read as before (its first
    repetition: a stored message's resend stays a duplicate). A trial result's split by a
    unit's plain caret (``1.8-7.5 x10^9/L``) is read whole, as written escaped
    (``unit_carets.range_split``): its first component alone held no unit. Its second
    component is looked at only when the first ends in a power base, the one case the
    rejoin needs, and only to tell whether it starts with an exponent: the range is then
    read whole, strictly. A second component the range is not joined with is never read
    strictly (``0-10^\\Zab\\`` is the range 0-10 it always was, and so is
    ``0 - 10^\\Zab\\``: no exponent there). A trial result's OBX-7 written with
    sub-components, in any component or repetition (``<41 U/L (M) & <33 U/L (F)``: read as
    its first part, the men's limit graded every patient; review 179), is no range: dropped,
    as a text listing several ranges is."""
    if trial and has_subcomponents(obx, 7):
        return None, None  # dropped, as a text listing several ranges is (review 179)
    first = field_value(obx, 7, hex_text=True, strict=trial)
    before = None
    if (
        trial
        and ends_in_power_base(first)
        and range_split(first, field_value(obx, 7, 1, 2, hex_text=True))
    ):
        before, first = first, whole_value(obx, 7, strict=True) or first
    if trial and repeats(obx, 7):
        later = [parts[0] for parts in later_repetitions(obx, 7, 1, strict=True)]
        first = "~".join([first, *later])
        before = None if before is None else "~".join([before, *later])
    return first or None, None if before == first else before


# OBX-3's identifiers and coding systems (CWE-1, 3, 4, 6; CWE-10, 12: v2.7's second
# alternate): one value each
CODE_COMPONENTS = (1, 3, 4, 6, 10, 12)
# where each coding triplet starts (identifier ^ text ^ coding system): CWE-1, 4 and 10
_TRIPLETS = (1, 4, 10)
_SECOND_ALTERNATE = 10


def refuse_nested_codes(obx: hl7.Segment) -> None:
    """Raise NestedValue (the message is malformed) when an identifier or coding system of
    OBX-3, of any triplet and any repetition, holds an unescaped ``&`` (``4548-4&1988-5``):
    read as its first part it names another test, and a CRP behind it would be left out
    unseen. Checked for every OBX, before it is known to be a trial result's: which test it
    is cannot be told. Its texts (CWE-2, 5, 9, 11) may hold one (``Na & K``: a name, never
    read to tell the test, read as its first part as before)."""
    refuse_nested(obx, 3, CODE_COMPONENTS)


def codes_of(obx: hl7.Segment, *, strict: bool = False) -> list[Coding]:
    """OBX-3's identifier, alternate identifier and second alternate identifier (CWE-10 to
    12, HL7 v2.7: ``second_alternate``; never read before fixer 267, so that a platelet
    code there beside a CRP's in CWE-1 was passed over), of every repetition (OBX-3 does
    not repeat: a sender that repeats it may name another test, and the result is then not
    one). ``strict``: codes and coding systems read as ``field_value`` reads them strictly
    (a trial result's: ``1988\\Q\\-5`` is no CRP code); the display text never is.
    Sub-components in a code or coding system are refused before (``refuse_nested_codes``)."""
    codes = []
    for repeat in range(1, max(_repetitions(obx, 3), 1) + 1):
        for first in _TRIPLETS:  # identifier ^ text ^ coding system, three times
            code = field_value(obx, 3, repeat, first, strict=strict)
            if code or (repeat == 1 and first == 1):
                system = field_value(obx, 3, repeat, first + 2, strict=strict)
                text = field_value(obx, 3, repeat, first + 1) or None
                second = first == _SECOND_ALTERNATE
                codes.append(Coding(code, system or None, text, second_alternate=second))
    return codes


# OBX-3's texts (CWE-2, 5; CWE-9, the original text): what the sender names the test
NAME_COMPONENTS = (2, 5, 9)
# HL7 v2.7's second alternate text (CWE-11, read since fixer 267): kept apart, as it may
# add a refusal, never take one away (``analyte_names.unlisted_analyte``)
SECOND_ALTERNATE_NAME = (11,)


def names_of(obx: hl7.Segment, components: tuple[int, ...] = NAME_COMPONENTS) -> tuple[str, ...]:
    """OBX-3's texts, of every repetition, that are not empty (``CRP``, ``C-reactive
    protein``): read leniently, only to tell a trial analyte sent under a code the trial
    does not read (``analyte_names``). ``components``: CWE-2, 5 and 9, else which."""
    return tuple(
        text
        for repeat in range(1, max(_repetitions(obx, 3), 1) + 1)
        for component in components
        if (text := field_value(obx, 3, repeat, component, hex_text=True).strip())
    )


def key_code(codes: Sequence[Coding]) -> str:
    """The code a result key names the test by: the first code the sender wrote in OBX-3
    (``codes_of``), its identifier, else its alternate identifier (``^Neut^^751-8^Neut^LN``:
    every such result of an order was keyed by "" alone, and the second refused as the
    first's test changed); never a translation a mapping of the sender's added, so that
    corrections find the result. A second alternate identifier (CWE-10) only where no
    repetition holds another: a result keyed before CWE-10 was read keeps its key, and one
    keyed by "" then (``ORDER||``) is found by its legacy key (``hl7_observation``). ""
    when OBX-3 holds no code."""
    sent = [c for c in codes if c.code and not c.translated]
    return next((c.code for c in sent if not c.second_alternate), sent[0].code if sent else "")


def _plain_value(obx: hl7.Segment) -> str:
    """OBX-5 of a trial analyte, of any type but SN: one value. Components or sub-components
    (``12^5``, ``5^-^10``, ``10^Above 10^99LAB``: a range, a coded answer) stay text as sent,
    no number (a trial result is then rejected), never read as their first part."""
    return whole_value(obx, 5, strict=True, highlight_as_nothing=True) or field_value(
        obx, 5, hex_text=True, strict=True, highlight_as_nothing=True
    )


def codes_repeat_or_nest(obx: hl7.Segment) -> bool:
    """Whether OBX-3 repeats, or a code or coding system in it (CWE-1, 3, 4, 6, 10, 12) holds
    sub-components (``CRP&HS^hs-CRP^L``, read as ``CRP``; refused before the OBX is read
    since review 118, ``refuse_nested_codes``): then which code names the test is a guess
    (``ObservationInput.codes_repeat_or_nest``). Its texts may hold an unescaped ``&``
    (``Na & K``): they are not looked at."""
    count = _repetitions(obx, 3)
    if count > 1:
        return True
    if count == 0:
        return False
    sub = obx.separators[4] if len(obx.separators) > 4 else "&"
    repetition = obx[3][0]
    if isinstance(repetition, str):
        return sub in repetition
    return any(sub in str(repetition[c - 1]) for c in CODE_COMPONENTS if c - 1 < len(repetition))


def _repetitions(segment: hl7.Segment, field: int) -> int:
    return len(segment[field]) if field < len(segment) else 0


def _structured_numeric(obx: hl7.Segment, *, trial: bool) -> str:
    """OBX-5 of type SN (comparator ^ number ^ separator/suffix ^ number): ``<^5`` is "<5",
    ``^12.5`` is "12.5"; a ratio or range (``^1^:^2``, and ``^1^.^5``: no decimal in HL7)
    stays text as sent, which is no number. So does a trial result's whose comparator is
    none of SN.1's (``12^5``, ``1^.5``, ``+^5``): joined, a digit or sign there became part
    of the number (platelets 125 for ``12^5``); another test's is read (and digested) as
    before. A trial result's is read strictly (``field_value``). A trial result's with a
    component after SN.4 that is not empty (``^12^^^99``) stays text as sent too: read by
    its first four, the rest was dropped and 12 published (review 259); empty trailing
    components (``^12^^``) are nothing."""
    comparator, number, separator, second = (
        field_value(obx, 5, 1, c, hex_text=True, strict=trial, highlight_as_nothing=trial)
        for c in range(1, 5)
    )
    whole = whole_value(obx, 5, strict=trial, highlight_as_nothing=trial)
    if whole is None:  # one value alone (``12.5``): read as NM's
        return comparator
    nested = has_subcomponents(obx, 5) if trial else _parts_nested(obx)
    if nested or (trial and (comparator not in SN_COMPARATORS or _beyond_sn(obx))):
        return whole  # ``^9&5``, ``&lt;^50``, ``12^5``, ``^12^^^99`` (``value_refusal``)
    if separator or second:
        joined = f"{comparator}{number}{separator}{second}"
        if _PLAIN.fullmatch(joined):  # ^1^.^5 is no 1.5: HL7 writes a decimal in Num1
            return "^".join((comparator, number, separator, second))
        return joined
    return number if comparator == "=" and number else f"{comparator}{number}"


def _beyond_sn(obx: hl7.Segment) -> bool:
    """Whether OBX-5's first repetition holds a component after SN.4 that is not empty (read
    as the value's are, highlighting as nothing: ``\\H\\\\N\\`` there is empty)."""
    node = obx[5][0] if len(obx) > 5 and len(obx[5]) else ""
    count = 1 if isinstance(node, str) else len(node)
    return any(
        field_value(obx, 5, 1, c, hex_text=True, highlight_as_nothing=True)
        for c in range(5, count + 1)
    )


def _parts_nested(obx: hl7.Segment) -> bool:
    """Whether a component of another test's OBX-5 holds two sub-components that are not
    empty (``^9&5``): read so since before review 179, for its digest's sake."""
    node = obx[5][0] if len(obx) > 5 and len(obx[5]) else ""
    return not isinstance(node, str) and any(
        not isinstance(value, str) and sum(1 for s in value if s) > 1 for value in node
    )
