"""Review 69: the operator commands that hash ids must use the platform's key, never a new one.

README.md line 1027: "Each works against the platform `make run` started, with no further
settings." and lines 437-438: "without it the embedded platform keeps a random key in
`.data/secrets/subject-hmac.key`"; line 1054 (`CACHEXIA_DATA_DIR` default `.data`).

`cachexia message show` and `cachexia replay` hash the sender's message id and result keys
with a key derived from the subject key. On embedded infrastructure they reach the platform's
PostgreSQL over TCP (127.0.0.1:55432) from any directory, but read the key from `.data`
relative to the *current* directory; where there is none they silently generate a new random
key there and carry on. `message show` then answers "no message ... is stored" for a message
that is stored, and `replay` stores the replayed message's id and result keys under the wrong
key: the lab's resend is not recognised as a duplicate and its corrections and cancellations
no longer find the result (`unknown-corrected-result`). A command other than `cachexia up`
must never create the platform's key: with no key file it must stop, naming the path and
CACHEXIA_DATA_DIR / CACHEXIA_SUBJECT_HMAC_KEY.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from cachexia.cli import main
from shared.embedded.postgres import EmbeddedPostgres
from shared.secrets import KEY_FILE, subject_hmac_key
from shared.settings import PlatformSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def platform_database(pg_server: EmbeddedPostgres) -> None:
    """The database the embedded platform uses (`/cachexia` on its port)."""
    conn = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await conn.execute("DROP DATABASE IF EXISTS cachexia")
        await conn.execute("CREATE DATABASE cachexia")
    finally:
        await conn.close()


def test_message_show_from_another_directory_does_not_invent_a_key(
    pg_server: EmbeddedPostgres,
    platform_database: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    platform_dir = tmp_path / "repo" / ".data"  # where `make run` keeps the key
    subject_hmac_key(
        PlatformSettings(data_dir=platform_dir, embedded_postgres_port=pg_server.port), create=True
    )  # as `cachexia up` does
    elsewhere = tmp_path / "home"  # the operator's shell is in another directory
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for variable in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "CACHEXIA_SUBJECT_HMAC_KEY",
                     "CACHEXIA_DATA_DIR"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CACHEXIA_EMBEDDED_POSTGRES_PORT", str(pg_server.port))

    code = main(["message", "show", "MSG-1", "--source", "LIS^HOSP"])

    assert not (elsewhere / ".data" / KEY_FILE).exists(), (
        "a new patient-matching key was generated in the operator's directory and used"
    )
    assert code == 2, capsys.readouterr().err
