"""The keyed hash of a hospital identifier, as every service must compute it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.contracts.identity import hospital_id_hmac, normalise_hospital_identifier

KEY = b"k" * 32


FULL_WIDTH = "".join(chr(ord(c) + 0xFEE0) for c in "MRN004711")  # as some IMEs type it


@pytest.mark.parametrize("written", ["mrn004711", " MRN004711 ", "MRN 004 711", FULL_WIDTH])
def test_the_same_number_written_differently_is_the_same_patient(written: str) -> None:
    assert hospital_id_hmac(KEY, written) == hospital_id_hmac(KEY, "MRN004711")


def test_another_number_or_key_is_another_hash() -> None:
    assert hospital_id_hmac(KEY, "MRN004711") != hospital_id_hmac(KEY, "MRN004712")
    assert hospital_id_hmac(KEY, "MRN004711") != hospital_id_hmac(b"x" * 32, "MRN004711")


@given(st.text(max_size=40))
def test_normalising_is_idempotent(identifier: str) -> None:
    once = normalise_hospital_identifier(identifier)
    assert normalise_hospital_identifier(once) == once


def test_a_lone_surrogate_is_hashed_and_valid_text_hashes_as_utf8() -> None:
    """JSON may carry "\\ud800"; hashing it to redact the input must not fail."""
    import hashlib  # noqa: PLC0415 - this test's own reference computation
    import hmac  # noqa: PLC0415 - likewise

    assert len(hospital_id_hmac(KEY, "MRN\ud800")) == 64
    plain = hmac.new(KEY, b"MRN004711", hashlib.sha256).hexdigest()
    assert hospital_id_hmac(KEY, "MRN004711") == plain
