"""A configured patient-matching key is used exactly as given, white space included.

Review 69 found a key validated stripped but used raw; refusing white space then (review 71)
had the operator of an upgraded platform strip the final newline of a key mounted from a
file: another key, recorded as the platform's on its first start, every result "not
enrolled". The key is the bytes configured: two processes given different spellings differ,
and the fingerprint check (``shared.key_fingerprint``) stops the second, naming both."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.key_fingerprint import key_fingerprint
from shared.secrets import subject_hmac_key
from shared.settings import PlatformSettings

KEY = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


def _external(key: str, data_dir: Path) -> PlatformSettings:
    return PlatformSettings(
        database_url="postgresql://db/cachexia", data_dir=data_dir, subject_hmac_key=key
    )


@pytest.mark.parametrize("padded", [KEY + "\n", " " + KEY, KEY + "\r\n"])
def test_a_padded_key_is_used_as_given_and_told_apart_by_its_fingerprint(
    padded: str, tmp_path: Path
) -> None:
    used = subject_hmac_key(_external(padded, tmp_path))
    assert used == padded.encode()
    assert key_fingerprint(used) != key_fingerprint(KEY.encode())
