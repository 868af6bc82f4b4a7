"""Text helpers of the scrubber: ``holds_letter_or_digit`` is ``str.isalnum`` of any
character, for every code point (the redaction decides with it which removed values are
searched for: one it misjudged would be left in the copy)."""

from __future__ import annotations

import sys

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.text_positions import holds_letter_or_digit


def test_a_letter_or_digit_is_what_isalnum_says_for_every_code_point() -> None:
    differing = [
        code
        for code in range(sys.maxunicode + 1)
        if holds_letter_or_digit(chr(code)) != chr(code).isalnum()
    ]
    assert differing == []


@given(st.text())
def test_a_text_holds_a_letter_or_digit_when_one_of_its_characters_is(text: str) -> None:
    assert holds_letter_or_digit(text) == any(c.isalnum() for c in text)
