"""The platform's keyed-hash secret for patient matching (PROTOCOL section 6).

``CACHEXIA_SUBJECT_HMAC_KEY`` sets it (at least 32 random characters, see
``shared.settings``); every process that hashes hospital identifiers must use the same key,
or hashes stop matching enrolments. With external infrastructure (``DATABASE_URL`` or
``KAFKA_BOOTSTRAP_SERVERS`` set), where processes on other machines have other data
directories, it is required: nothing is generated. On embedded infrastructure alone, the
platform keeps a random key in ``<data dir>/secrets/subject-hmac.key``: created once, by
`cachexia up` only (``create=True``), atomically (a crash leaves no empty or partial key),
readable by its owner only. Every other process that needs the key and finds no file stops:
an operator command run from another directory would otherwise hash under a new key of its
own and find nothing (review 69). ``shared.key_fingerprint`` then checks that the key is
the one the platform's data was hashed with.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from shared.secret_files import create_secret_file
from shared.settings import (
    SUBJECT_HMAC_KEY_MIN_DISTINCT,
    SUBJECT_HMAC_KEY_MIN_LENGTH,
    PlatformSettings,
)

KEY_FILE = Path("secrets") / "subject-hmac.key"
KEY_VARIABLE = "CACHEXIA_SUBJECT_HMAC_KEY"


class SubjectKeyError(Exception):
    """The key is missing where it must be configured, or its file is unusable."""


def check_subject_hmac_key(settings: PlatformSettings) -> None:
    """Raise SubjectKeyError if no key may be used: with external infrastructure the key
    must be configured (a key generated in each data directory would differ per machine)."""
    if settings.subject_hmac_key.get_secret_value() or not settings.uses_external_infrastructure:
        return
    raise SubjectKeyError(
        f"{KEY_VARIABLE} is not set: with external infrastructure (DATABASE_URL or "
        "KAFKA_BOOTSTRAP_SERVERS set) every service that hashes hospital identifiers must "
        f"share one key; set it to the deployment's key (at least {SUBJECT_HMAC_KEY_MIN_LENGTH}"
        " random characters, e.g. `openssl rand -hex 32`, created once and kept)"
    )


def subject_hmac_key(settings: PlatformSettings, *, create: bool = False) -> bytes:
    """The configured key; else (embedded infrastructure only) the data directory's key,
    created if missing when ``create`` (`cachexia up`, the platform's start, only). Raises
    SubjectKeyError: see ``check_subject_hmac_key``; no key file and not ``create``."""
    check_subject_hmac_key(settings)
    configured = settings.subject_hmac_key.get_secret_value()
    if configured:
        return configured.encode()
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        if not create:
            raise SubjectKeyError(
                f"no patient-matching key: {path.resolve()} does not exist (only `cachexia up` "
                "creates it). Set CACHEXIA_DATA_DIR to the platform's data directory (the "
                f"default, .data, is relative to the current directory) or {KEY_VARIABLE} to "
                "the platform's key"
            )
        create_secret_file(path, secrets.token_hex(32))
    return _read_key_file(path)


def existing_subject_hmac_key(settings: PlatformSettings) -> bytes | None:
    """The key as ``subject_hmac_key`` reads it, checked; None when `cachexia up` is to
    create it (embedded infrastructure, no key file yet): it checks the key before it starts
    anything and creates it only once its ports are found free (review 156)."""
    check_subject_hmac_key(settings)
    if settings.subject_hmac_key.get_secret_value() or (settings.data_dir / KEY_FILE).exists():
        return subject_hmac_key(settings)
    return None


def subject_key_origin(settings: PlatformSettings) -> str:
    """Where this process's key comes from, for a message (never the key itself)."""
    if settings.subject_hmac_key.get_secret_value():
        return KEY_VARIABLE
    return str((settings.data_dir / KEY_FILE).resolve())


def _read_key_file(path: Path) -> bytes:
    key = path.read_text().strip()
    if len(key) < SUBJECT_HMAC_KEY_MIN_LENGTH or len(set(key)) < SUBJECT_HMAC_KEY_MIN_DISTINCT:
        state = "is empty" if not key else "holds too short or weak a key"
        raise SubjectKeyError(
            f"the patient-matching key file {path} {state} (left by an interrupted first start "
            "or edited by hand). If no subject was enrolled or result matched with it, delete "
            f"it and start again to generate a new key; otherwise restore it, or set {KEY_VARIABLE}"
        )
    return key.encode()
