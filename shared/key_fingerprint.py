"""The patient-matching key's fingerprint, recorded in the platform's database (review 69).

Two processes with different keys fail silently: every result the one hashes matches no
enrolment the other made, and is answered "not enrolled, discarded". So the first process
that uses a key on a database records its fingerprint (an HMAC of a fixed label under the
key: it tells keys apart and reveals nothing of the key), and every process that hashes
hospital identifiers compares its own with it and stops, naming both, on a difference.
"""

from __future__ import annotations

import hashlib
import hmac

import asyncpg

from shared.secrets import KEY_VARIABLE, SubjectKeyError

FINGERPRINT_LABEL = b"cachexia subject key fingerprint"
SHOWN_DIGITS = 16  # of a fingerprint, in a message: enough to tell two apart


class SubjectKeyMismatch(SubjectKeyError):
    """This process's key is not the one the platform's data was hashed with."""


def key_fingerprint(key: bytes) -> str:
    """HMAC-SHA256(key, FINGERPRINT_LABEL), hex."""
    return hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


async def check_key_fingerprint(
    conn: asyncpg.Connection, key: bytes, origin: str, *, record: bool = True
) -> bool:
    """Record ``key``'s fingerprint if the database has none; raise SubjectKeyMismatch if it
    has another. True if recorded now. ``origin``: where the key came from, for the message.
    ``record=False`` (an operator's command): never record, and raise SubjectKeyError when
    nothing is recorded yet (a command run with a wrong key must not make it the platform's
    key, which the platform's next start would then refuse).

    Several services start at once: the INSERT of the second waits for the first's to
    commit, then does nothing, and the SELECT after it sees the row that won."""
    mine = key_fingerprint(key)
    if not record:
        return await _checked(conn, mine, origin)
    inserted = await conn.fetchval(
        """INSERT INTO subject_key.subject_key_fingerprint (fingerprint) VALUES ($1)
           ON CONFLICT (singleton) DO NOTHING RETURNING true""",
        mine,
    )
    if inserted:
        return True
    return await _checked(conn, mine, origin)


async def _checked(conn: asyncpg.Connection, mine: str, origin: str) -> bool:
    row = await conn.fetchrow(
        "SELECT fingerprint, recorded_at FROM subject_key.subject_key_fingerprint"
    )
    if row is None:
        raise SubjectKeyError(
            "the platform has not recorded its patient-matching key yet: start it first "
            "(`cachexia up`, or lab-ingestion), then run this command again"
        )
    if hmac.compare_digest(row["fingerprint"], mine):
        return False
    raise SubjectKeyMismatch(
        "the patient-matching key differs from the one this platform's data was hashed with: "
        f"this process's key (from {origin}) has the fingerprint {mine[:SHOWN_DIGITS]}..., "
        f"the database records {row['fingerprint'][:SHOWN_DIGITS]}... (since "
        f"{row['recorded_at']:%Y-%m-%d %H:%M:%S %Z}). With another key no result matches an "
        "enrolment: use the platform's key (run with the platform's CACHEXIA_DATA_DIR, or set "
        f"{KEY_VARIABLE} to the key it was started with)"
    )
