"""A phone in a kept copy's free text, however it is written (review 108): PID-13 in XTN's
components (v2.5: area code in XTN-6, local number in XTN-7) is searched for as one number,
and a number in a note is found with its digits grouped by blanks, dots, dashes, slashes or
parentheses, with or without a country code (``+41``, ``0041``). Before, only XTN-1, -4,
-7 and -12 as written and as their digits were searched, as whole words."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import redact
from services.lab_ingestion.adapters.phone_numbers import (
    MIN_PHONE_DIGITS,
    phone_numbers,
    phone_spans,
)
from tests.unit.lab_ingestion.hl7_samples import FAST, fake_hash, join, msh, seg

WRITTEN = ["0311234567", "031 123 45 67", "031.123.45.67", "031-123-45-67", "031/123 45 67",
           "(031) 123 45 67", "+41 31 123 45 67", "+41311234567", "0041 31 123 45 67",
           "0041311234567", "+41 (0)31 123-45-67", "31 123 45 67"]  # fmt: skip
PID13 = ["0311234567", "031 123 45 67", "+41 31 123 45 67", "^PRN^PH^^^031^1234567",
         "^PRN^PH^^41^31^1234567", "^PRN^PH" + "^" * 9 + "0041311234567"]  # fmt: skip


def _kept_note(phone: str, note: str, field: int = 13) -> str:
    pid = seg("PID", {1: "1", 3: "MRN4711^^^HOSP^MR", 5: "HUBERMANN^ROSWITHA", field: phone})
    text = join([msh(), pid, seg("NTE", {1: "1", 3: note})])
    return redact(text, fake_hash).split("\r")[-1]


def _digits_kept(kept: str) -> str:
    return re.sub(r"[ ./()+-]", "", kept)


@pytest.mark.parametrize("phone", PID13)
@pytest.mark.parametrize("written", WRITTEN)
def test_a_phone_is_found_in_a_note_however_either_writes_it(phone: str, written: str) -> None:
    kept = _kept_note(phone, f"Rueckruf {written} bitte")
    assert "1234567" not in _digits_kept(kept), kept
    assert kept.startswith("NTE|1||Rueckruf ") and kept.endswith(" bitte")


@pytest.mark.parametrize(
    ("note", "kept"),
    [
        ("call 031 123 45 67, ok", "call [redacted], ok"),
        ("call +41 31 123 45 67", "call +41 [redacted]"),  # the country code is no one's
        ("call 0041311234567", "call 0041[redacted]"),
        ("call (031) 123 45 67", "call ([redacted]"),
    ],
)
def test_the_number_is_replaced_from_its_first_digit_to_its_last(note: str, kept: str) -> None:
    assert _kept_note("^PRN^PH^^^031^1234567", note) == f"NTE|1||{kept}"


@pytest.mark.parametrize(
    "note",
    [
        "1031 123 45 67",  # more digits in its first group
        "031 123 45 678",  # and in its last
        "10311234567 and 03112345670",  # run into other digits (run into letters it is
        # the number: fix111, ``test_phone_run_into_letters``)
        "031 12 34 56, 123 45 6",  # too few digits
        "CRP 12.5 mg/L, Tc 250 000/uL, Lc 9.9 G/L, 06.12.2026 08:15, range 3.5-5.0",
    ],
    ids=["longer-first-group", "longer-last-group", "run-in-digits", "other-number", "lab-values"],
)
def test_what_is_not_the_number_is_kept(note: str) -> None:
    assert _kept_note("0311234567", note) == f"NTE|1||{note}"


@pytest.mark.parametrize("field", [13, 14])
def test_a_phone_of_xtn_components_in_pid14_is_searched_for_too(field: int) -> None:
    kept = _kept_note("^WPN^PH^^41^79^7654321", "Arbeit: 079 765 43 21", field)
    assert kept == "NTE|1||Arbeit: [redacted]"


def test_another_persons_phone_in_components_is_searched_for_too() -> None:
    pid = seg("PID", {1: "1", 3: "MRN4711^^^HOSP^MR"})
    nk1 = seg("NK1", {1: "1", 2: "X", 5: "^PRN^PH^^^044^5556677"})
    text = join([msh(), pid, nk1, seg("NTE", {1: "1", 3: "Tochter: 044 555 66 77"})])
    assert redact(text, fake_hash).split("\r")[-1] == "NTE|1||Tochter: [redacted]"


def test_the_forms_of_a_number_are_its_national_and_subscriber_digits() -> None:
    assert phone_numbers(["", "PRN", "PH", "", "41", "31", "9998877"]) == {
        "0319998877", "319998877", "9998877"
    }  # fmt: skip
    assert phone_numbers(["+41 79 765 43 21"]) == {"41797654321", "797654321", "0797654321"}
    assert phone_numbers(["", "PRN", "PH", "", "", "", "1234"]) == set()  # too short
    assert all(len(form) >= MIN_PHONE_DIGITS for form in phone_numbers(["+41797654321"]))


def test_a_separator_of_the_message_never_parts_a_phones_groups() -> None:
    """A message whose escape character is ``/``: ``031/123`` is an escape's edge there."""
    assert phone_spans("031/123 45 67", {"0311234567"}, excluded="|^~/&") == []
    assert phone_spans("031/123 45 67", {"0311234567"}) == [(0, 13)]


_SEPARATOR = st.sampled_from([" ", ".", "-", "/", " / ", "-", ""])


@FAST
@given(
    subscriber=st.from_regex(r"[1-9][0-9]{8}", fullmatch=True),
    prefix=st.sampled_from(["0", "+41 ", "+41", "0041 ", "0041", "+41 (0)"]),
    cuts=st.lists(st.integers(min_value=1, max_value=8), max_size=4, unique=True),
    separator=_SEPARATOR,
    components=st.booleans(),
)
def test_any_phone_written_in_any_grouping_is_gone_from_the_copy(
    subscriber: str, prefix: str, cuts: list[int], separator: str, components: bool
) -> None:
    """A Swiss number (``0`` and nine digits) in PID-13 as one number or in components;
    the note writes it with a trunk or country prefix and its digits in any groups."""
    phone = f"^PRN^PH^^41^{subscriber[:2]}^{subscriber[2:]}" if components else f"0{subscriber}"
    groups = [subscriber[a:b] for a, b in itertools.pairwise([0, *sorted(cuts), 9])]
    kept = _kept_note(phone, f"Tel. {prefix}{separator.join(groups)} (abends)")
    assert subscriber not in _digits_kept(kept), kept
    assert kept.startswith("NTE|1||Tel. ") and kept.endswith(" (abends)")


@FAST
@given(values=st.lists(st.from_regex(r"[0-9]{1,6}", fullmatch=True), min_size=1, max_size=6))
def test_numbers_of_fewer_digits_than_a_phone_are_kept(values: list[str]) -> None:
    note = "Werte " + ", ".join(values)
    assert _kept_note("0311234567", note) == f"NTE|1||{note}"
