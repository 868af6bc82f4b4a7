"""The cost of escape characters in a redacted copy (review 132): a megabyte of ``\\`` in a
note took 1.2 s to redact (1.4-1.7 s per request), ten times plain text, because
python-hl7's ``unescape`` reads a character at a time and calls a deprecated
``logger.warn`` for every empty sequence, and the escapes were then masked and their hex
runs decoded with a Python call per sequence. Now each costs about what plain text does
(``bench/redaction_cost.py`` times it; here the Python steps are counted, which no load of
the machine changes); what is read and kept is what it was, for every input (the former
functions, kept in ``escape_oracles``, are the oracle)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import Hl7InputError, parse_oru, redact
from services.lab_ingestion.adapters.hl7_escape_masks import masked_escapes
from services.lab_ingestion.adapters.hl7_escapes import (
    MAX_FORMATTING_REPEAT,
    UnreadableEscape,
    bounded_unescape,
    decode_hex_runs,
)
from services.lab_ingestion.adapters.hl7_pid3 import escaped_text
from services.lab_ingestion.adapters.text_positions import folded_text, strictly_inside
from tests.python_steps import StepBudgetExceeded, python_steps
from tests.unit.lab_ingestion.escape_oracles import (
    old_bounded_unescape,
    old_decode_hex_runs,
    old_folded,
    old_masked_escapes,
)
from tests.unit.lab_ingestion.hl7_samples import FAST, fake_hash

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
PID = "PID|1||MRN4711^^^HOSP^MR||HUBERMANN^ROSWITHA||19510317|F"
OBR = "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120081500+0100"
CRP = "OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F|||20261120081500+0100"
SEPARATORS = ("|", "^", "~", "\\", "&")
OTHER_SEPARATORS = ("|", "^", "~", "#", "&")  # another escape character (MSH-2 ^~#&)
# what the probes sent, and the sequences each step handles one by one
UNITS = ["\\", "\\.", "\\X", "a\\", "\\X41\\a", "\\ZZ\\", "\\X4\\", "\\E\\", "\\^",
         "\\Z^", "\\H\\", "\\.sp5\\", "\\XC3A9\\", "\\C\\", "\\a", "é", "é\\E\\"]  # fmt: skip


# The Python steps (``tests.python_steps``) each function may take per escape character in
# its input: the former ones took 10-26 (unescaping: a character at a time), 3.5-12
# (masking) and 2-7 (hex runs) on the inputs below; these take at most 0.5, 1.4 and 1.5,
# the rest of their work done by regular expressions, splits and joins (in C)
STEP_BUDGETS: dict[str, float] = {"unescape": 1.0, "mask": 2.0, "hex": 1.75}
CONTAINER = hl7.parse("MSH|^~\\&")


def _steps_per_escape(function: Callable[[str], object], text: str, per_escape: float) -> float:
    escapes = text.count("\\")
    budget = int(per_escape * escapes) + 200
    return python_steps(lambda: function(text), budget) / max(escapes, 1)


FUNCTIONS: dict[str, Callable[[str], object]] = {
    "unescape": lambda text: bounded_unescape(CONTAINER, text),
    "mask": lambda text: masked_escapes(text, SEPARATORS, ["19510317"]),
    "hex": lambda text: decode_hex_runs(text, "\\"),
}
OLD_FUNCTIONS: dict[str, Callable[[str], object]] = {
    "unescape": lambda text: old_bounded_unescape(CONTAINER, text),
    "mask": lambda text: old_masked_escapes(text, SEPARATORS, ["19510317"]),
    "hex": lambda text: old_decode_hex_runs(text, "\\"),
}


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("step", sorted(STEP_BUDGETS))
def test_escape_characters_cost_no_python_call_of_their_own(step: str, unit: str) -> None:
    """A megabyte of escape characters costs about what plain text does (the seconds:
    ``bench/redaction_cost.py``): no function reads it a character at a time."""
    text = unit * (100_000 // len(unit))
    _steps_per_escape(FUNCTIONS[step], text, STEP_BUDGETS[step])


@pytest.mark.parametrize("step", sorted(STEP_BUDGETS))
def test_the_step_budgets_tell_the_former_functions_apart(step: str) -> None:
    """The budgets are tight enough to fail the per-character code review 132 replaced."""
    with pytest.raises(StepBudgetExceeded), contextlib.suppress(UnreadableEscape, ValueError):
        _steps_per_escape(OLD_FUNCTIONS[step], "\\" * 20_000, STEP_BUDGETS[step])


def test_a_megabyte_of_escape_characters_is_read_and_its_copy_redacted() -> None:
    """What the benchmark times is what is kept: the name after the note is masked."""
    for unit in ("\\", "\\ZZ\\", "\\X4\\"):
        note = unit * (1_000_000 // len(unit))
        message = "\r".join([MSH, PID, OBR, CRP, f"NTE|1||{note} ROSWITHA"]) + "\r"
        with contextlib.suppress(Hl7InputError):  # refused or not, it is kept redacted
            parse_oru(message)
        assert "ROSWITHA" not in redact(message, fake_hash)


# --- the same output as before ------------------------------------------------------------

ESCAPE_TEXT = st.text(alphabet="\\#^&~XZCMEFSTRHNP.spbrcefinti+-0123456789aAbB é\r", max_size=60)


def _outcome(function: Callable[..., str], *args: Any, **kwargs: Any) -> str | type[ValueError]:
    try:
        return function(*args, **kwargs)
    except ValueError as error:  # what is refused is refused alike (UnreadableEscape too)
        return type(error)


@FAST
@given(text=ESCAPE_TEXT, highlight=st.booleans(), other=st.booleans())
def test_unescaping_reads_as_python_hl7_reads(text: str, highlight: bool, other: bool) -> None:
    separators = OTHER_SEPARATORS if other else SEPARATORS
    container = hl7.parse("MSH" + separators[0] + "".join(separators[1:]))
    new = _outcome(bounded_unescape, container, text, highlight_as_nothing=highlight)
    if _line_breaks_over_the_limit(text, separators[3]):  # python-hl7 would write them all
        assert new is UnreadableEscape
    else:
        assert new == _outcome(
            old_bounded_unescape, container, text, highlight_as_nothing=highlight
        )


def _line_breaks_over_the_limit(text: str, escape: str) -> bool:
    """Whether ``text`` holds ``\\.br`` or ``\\.ce`` with a count over the limit (now
    refused, as the other formatting escapes are; python-hl7 would write them all)."""
    return any(
        sequence[:3] in (".br", ".ce") and _count(sequence[3:]) > MAX_FORMATTING_REPEAT
        for sequence in text.split(escape)[1::2]
    )


def _count(text: str) -> int:
    try:
        return abs(int(text))
    except ValueError:
        return 0


@FAST
@given(text=ESCAPE_TEXT, other=st.booleans())
def test_hex_runs_are_decoded_as_before(text: str, other: bool) -> None:
    escape = "#" if other else "\\"
    assert decode_hex_runs(text, escape) == old_decode_hex_runs(text, escape)


@FAST
@given(
    text=ESCAPE_TEXT,
    other=st.booleans(),
    in_hex=st.lists(st.sampled_from(["19510317", "4711815", "c0ffee12", "0319998877"])),
)
def test_escapes_are_masked_as_before(text: str, other: bool, in_hex: list[str]) -> None:
    separators = OTHER_SEPARATORS if other else SEPARATORS
    new = masked_escapes(text, separators, in_hex)
    assert new == old_masked_escapes(text, separators, in_hex)


@pytest.mark.parametrize(
    "text",
    ["\\Z^\\", "a\\b^c\\d\\e", "\\X1951031\\7\\", "\\XC0FFEE12\\", "\\xc0ffee12\\", "\\\\Z\\",
     "\\.sp999\\", "\\.br\\\\.ce1\\", "\\M19510317\\", "\\ZZ&\\Z~\\", "\\C0FFE\\E1\\"],
)  # fmt: skip
def test_escapes_are_masked_as_before_in_known_shapes(text: str) -> None:
    in_hex = ["19510317", "c0ffee12"]
    assert masked_escapes(text, SEPARATORS, in_hex) == old_masked_escapes(text, SEPARATORS, in_hex)


def test_a_line_break_escape_repeated_past_the_limit_is_refused() -> None:
    """``\\.br99999999\\`` (and ``\\.ce``) was read as 100 million line breaks: refused as
    the other formatting escapes repeated past MAX_FORMATTING_REPEAT are."""
    container = hl7.parse("MSH|^~\\&")
    for code in (".br", ".ce"):
        assert bounded_unescape(container, f"a\\{code}2\\b") == "a\r\rb"
        with pytest.raises(UnreadableEscape, match="repeats more than"):
            bounded_unescape(container, f"a\\{code}99999999\\b")


@FAST
@given(text=st.text(max_size=40) | ESCAPE_TEXT)
def test_text_is_folded_as_before(text: str) -> None:
    folded, origin = folded_text(text)
    old, old_origin = old_folded(text)
    assert folded == old
    positions = range(len(folded))
    new_indices = [origin[p] for p in positions] if origin is not None else list(positions)
    assert new_indices == (old_origin if old_origin is not None else list(positions))


@FAST
@given(text=st.text(max_size=40) | ESCAPE_TEXT, other=st.booleans())
def test_text_is_escaped_as_python_hl7_escapes(text: str, other: bool) -> None:
    """Separators, the escape character and line breaks as python-hl7 writes them; any other
    character outside printable ASCII as its UTF-8 bytes, never as python-hl7 writes it (its
    code point unpadded: ``\\X 9\\``, ``\\X2265\\``; review 207)."""
    text = "".join(c for c in text if c == "\r" or 0x20 <= ord(c) <= 0x7E)
    separators = OTHER_SEPARATORS if other else SEPARATORS
    container = hl7.parse("MSH" + separators[0] + "".join(separators[1:]))
    assert escaped_text(text, separators) == str(hl7.util.escape(container, text))


@FAST
@given(text=ESCAPE_TEXT, position=st.integers(0, 61))
def test_positions_inside_escape_sequences_are_found_as_before(text: str, position: int) -> None:
    protected = re.compile(r"\\(?:[FSTRE]|X(?:[0-9A-Fa-f]{2})+)\\|(a)(b)?")  # groups of its own
    old = bytearray(len(text) + 1)
    for match in protected.finditer(text):
        old[match.start() + 1 : match.end()] = b"\x01" * (len(match.group()) - 1)
    position = min(position, len(text))
    assert strictly_inside(protected, text)(position) == bool(old[position])
