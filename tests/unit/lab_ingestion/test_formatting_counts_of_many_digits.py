"""A formatting escape's count of more digits than Python reads as a number (4,300): review
213, ``\\.sp999...\\`` was refused as "a count that is no number" (``int()`` refuses so
many digits); it repeats more than 100 times, as any big count, and a count padded with
thousands of zeros reads as its value."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import Hl7InputError, parse_oru
from services.lab_ingestion.adapters.hl7_pid3 import decoded_text
from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.hl7_samples import join, msh, seg

SEPARATORS = ("|", "^", "~", "\\", "&")


def _message(app: str) -> str:
    return join([
        msh(app=app),
        seg("PID", {1: "1", 3: "MRN1^^^HOSP^MR"}),
        seg("OBR", {1: "1", 2: "PL1", 3: "FL1", 4: "PANEL^Panel^L"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "5", 6: "mg/L", 11: "F",
                    14: "20261102080000+0000"}),
    ])  # fmt: skip


@pytest.mark.parametrize(
    "count",
    ["9" * 5000, "1" + "0" * 4300, "-" + "9" * 4400, "0" * 5000 + "101", "+" + "0" * 4301 + "7777"],
)
def test_a_count_of_thousands_of_digits_repeats_more_than_100_times(count: str) -> None:
    with pytest.raises(Hl7InputError) as refused:
        parse_oru(_message(f"LAB\\.sp{count}\\"))
    assert refused.value.code is RejectionCode.MALFORMED
    assert refused.value.reason == "an HL7 formatting escape (.sp) repeats more than 100 times"


@settings(max_examples=30, deadline=None)
@given(
    escape=st.sampled_from([(".sp", "\r"), (".in", "    "), (".sk", " ")]),
    zeros=st.one_of(st.integers(0, 50), st.integers(4290, 6000)),
    count=st.integers(0, 100),
)
def test_a_count_padded_with_zeros_reads_as_its_value(
    escape: tuple[str, str], zeros: int, count: int
) -> None:
    code, reads = escape
    text = f"a\\{code}{'0' * zeros}{count}\\b"
    assert decoded_text(text, SEPARATORS) == f"a{reads * count}b"


@pytest.mark.parametrize("escape", ["\\.in:\\", "\\.sp x\\", "\\.ti-\\", "\\.sp9 9\\"])
def test_a_count_that_is_no_number_is_still_said_so(escape: str) -> None:
    with pytest.raises(Hl7InputError) as refused:
        parse_oru(_message(f"LAB{escape}"))
    assert "has a count that is no number" in refused.value.reason, refused.value.reason
