"""The platform's keyed-hash secret for patient matching (PROTOCOL section 6).

``CACHEXIA_SUBJECT_HMAC_KEY`` sets it in production (every service that hashes hospital
identifiers must use the same key). Without it, the embedded platform keeps a random key in
``<data dir>/secrets/subject-hmac.key`` (created once, readable by its owner only).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from shared.settings import PlatformSettings

KEY_FILE = Path("secrets") / "subject-hmac.key"


def subject_hmac_key(settings: PlatformSettings) -> bytes:
    configured = settings.subject_hmac_key.get_secret_value()
    if configured:
        return configured.encode()
    path = settings.data_dir / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as key_file:
            key_file.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
