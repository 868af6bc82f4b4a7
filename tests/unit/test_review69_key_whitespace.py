"""Review 69: a configured subject key with stray white space is validated stripped, used raw.

README.md lines 1053/1085-1087: `CACHEXIA_SUBJECT_HMAC_KEY` "at least 32 characters ...
Create the key once, keep it in your secret store and give the same key to every instance,
for the life of the trial: hospital numbers hashed under another key match no enrolment."
and line 1042: "an invalid value stops the process at once and names the variable".

The length check strips the value (`len(key.strip())`), and the key *file* is read stripped,
but a configured key is used as given. A secret mounted from a file usually ends in a newline
(a Kubernetes secret, `docker secret`, an editor's final newline), while the same key pasted
into `.env` does not: two instances given "the same key" then hash every hospital number
differently, and every result of the one whose key differs from the enrolling service's is
answered AA "not enrolled, discarded" and lost, with no error anywhere. The key must be used
as validated (stripped), or white space around it refused at start-up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.secrets import subject_hmac_key
from shared.settings import PlatformSettings

KEY = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


def _external(key: str, data_dir: Path) -> PlatformSettings:
    """External infrastructure: the configured key is the one used (nothing generated)."""
    return PlatformSettings(
        database_url="postgresql://db/cachexia", data_dir=data_dir, subject_hmac_key=key
    )


def test_a_key_with_a_trailing_newline_is_the_same_key_or_refused(tmp_path: Path) -> None:
    plain = subject_hmac_key(_external(KEY, tmp_path))
    try:
        settings = _external(KEY + "\n", tmp_path)
    except ValidationError:
        return  # refused at start-up, naming the variable: fine
    assert subject_hmac_key(settings) == plain, (
        "the key with a trailing newline was accepted and hashes differently"
    )


@pytest.mark.parametrize("padded", [" " + KEY, KEY + " ", KEY + "\r\n"])
def test_padding_never_yields_another_key(padded: str, tmp_path: Path) -> None:
    try:
        settings = _external(padded, tmp_path)
    except ValidationError:
        return
    assert subject_hmac_key(settings) == KEY.encode()
