"""MSA-3 (ST, 80 characters) cut at a word, marked ``...`` (review 92): a v2.3 or v2.4
ACK, whose only reason is MSA-3, read ``...cannot be converted to mg/L for cr``."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_ack import MSA3_LENGTH, shortened
from services.lab_ingestion.adapters.hl7_codec import build_ack
from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.hl7_samples import FAST
from tests.unit.lab_ingestion.test_hl7_ack import NOW, SENDER, field, parse_ack, raw_field

REASON = "unit 'umol/L' (written as micromol per litre) cannot be converted to mg/L for creatinine"


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5.1"])
def test_a_long_reason_is_cut_at_the_last_word_that_fits(version: str) -> None:
    ack = build_ack(replace(SENDER, version=version), "AE", text=REASON,
                    error=RejectionCode.UNCONVERTIBLE_UNIT, control_id="A", now=NOW)  # fmt: skip
    msa3 = field(parse_ack(ack), "MSA", 3)
    assert msa3 == REASON[: REASON.index(" creatinine")] + "..."
    assert msa3.endswith("cannot be converted to mg/L for...")
    assert len(msa3) <= MSA3_LENGTH


def test_the_whole_reason_is_still_in_err8_from_v25() -> None:
    ack = build_ack(replace(SENDER, version="2.5.1"), "AE", text=REASON,
                    error=RejectionCode.UNCONVERTIBLE_UNIT, control_id="A", now=NOW)  # fmt: skip
    assert field(parse_ack(ack), "ERR", 8) == REASON


def test_a_reason_that_fits_is_not_cut() -> None:
    reason = REASON[:MSA3_LENGTH]
    ack = build_ack(SENDER, "AE", text=reason, error=RejectionCode.MALFORMED, control_id="A")
    assert field(parse_ack(ack), "MSA", 3) == reason


@pytest.mark.parametrize(
    ("reason", "msa3_raw"),
    [
        # a hex escape a reason quotes, across the 77th character: kept out whole
        ("x" * 72 + "\\X0D0A\\" + "y" * 10, "x" * 72 + "..."),
        # ...and kept whole when it ends within
        ("x" * 70 + "\\X0D0A\\" + "y" * 10, "x" * 70 + "\\E\\X0D0A\\E\\..."),
        ("x" * 75 + "\\F\\" + "y" * 10, "x" * 75 + "..."),
        # a separator the ACK escapes is one character of the text: never split
        ("x" * 76 + "|" + "y" * 10, "x" * 76 + "\\F\\..."),
        ("word " * 15 + "|" + "y" * 10, ("word " * 15).rstrip() + "..."),
    ],
)
def test_an_escape_sequence_is_never_cut(reason: str, msa3_raw: str) -> None:
    ack = build_ack(SENDER, "AE", text=reason, error=RejectionCode.MALFORMED,
                    control_id="A", now=NOW)  # fmt: skip
    assert raw_field(ack, "MSA", 3) == msa3_raw


def test_a_blank_too_early_is_no_place_to_cut() -> None:
    """Cut at the only blank, the reason would say almost nothing: within the word then."""
    assert shortened("no " + "x" * 100, MSA3_LENGTH) == "no " + "x" * 74 + "..."


def test_trailing_punctuation_is_left_before_the_ellipsis() -> None:
    assert shortened("y" * 60 + "; then: " + "z" * 30, MSA3_LENGTH) == "y" * 60 + "; then..."


@FAST
@given(text=st.text(alphabet=st.sampled_from("ab \\XF|;.\r"), max_size=160))
def test_a_shortened_text_fits_and_begins_as_the_text_did(text: str) -> None:
    short = shortened(text, MSA3_LENGTH)
    assert len(short) <= MSA3_LENGTH
    if len(text) <= MSA3_LENGTH:
        assert short == text
    else:
        assert short.endswith("...") and text.startswith(short[:-3])
