"""The patient identifier of a kept (redacted) copy of a rejected message.

A copy names its patient by the keyed hash of the hospital number: ``HMAC:`` and 64 hex
digits in HL7, the bare hash in FHIR and JSON copies. That is no hospital number: hashed
again it matches nobody, so a copy sent in through a lab interface would be discarded as
not enrolled, silently. The live path refuses it (``is_kept_copy_identifier``); only a replay
reads it, taking the hash as already computed (``kept_copy_hash``).
"""

from __future__ import annotations

import re

HL7_HASH_PREFIX = "HMAC:"
_KEPT_COPY_IDENTIFIER = re.compile(r"(?:HMAC:)?[0-9a-f]{64}")
# said in the reason of a rejection whose sender its token may not deliver as: such a copy
# is never replayed (the token is not kept, so a replay could not check it again)
NOT_THE_TOKENS = "one this token may deliver results as"
KEPT_COPY_REASON = (
    "the patient identifier is a keyed hash: this is the kept copy of a rejected message; "
    "replay it with `cachexia replay`, or have the lab resend the original"
)


def is_kept_copy_identifier(value: str | None) -> bool:
    return value is not None and _KEPT_COPY_IDENTIFIER.fullmatch(value.strip()) is not None


def kept_copy_hash(value: str) -> str:
    """The keyed hash an HL7 copy's identifier is (``HMAC:`` taken off); a replay hashes
    nothing: any other identifier is refused (ValueError)."""
    stripped = value.strip()
    if not stripped.startswith(HL7_HASH_PREFIX) or not is_kept_copy_identifier(stripped):
        raise ValueError("not a kept copy's identifier")
    return stripped.removeprefix(HL7_HASH_PREFIX)
