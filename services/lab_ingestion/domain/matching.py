"""Patient matching by a keyed hash of the hospital identifier (PROTOCOL section 6)."""

from __future__ import annotations

import hashlib
import hmac


def hospital_id_hmac(key: bytes, hospital_identifier: str) -> str:
    """HMAC-SHA256 (hex) of a normalised hospital identifier; the identifier is never kept."""
    normalised = hospital_identifier.strip().upper()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()
