"""How a hospital identifier becomes the keyed hash on `trial.subjects.v1` (PROTOCOL 6).

Part of the contract: the service that enrols subjects and every service that matches
patients (lab-ingestion) must hash alike, or nobody is ever matched. The identifier is
normalised first, so that the same number written differently is the same patient:
compatibility forms folded (full-width digits, ligatures: Unicode NFKC), surrounding and
inner white space removed, letters upper-cased.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata


def normalise_hospital_identifier(identifier: str) -> str:
    """NFKC, no white space, upper case, repeated until nothing changes: removing a space can
    leave a combining mark next to a letter it then composes with, and upper-casing can
    decompose (two rounds settle every identifier seen; the bound is a guard)."""
    current = identifier
    for _ in range(8):
        settled = "".join(unicodedata.normalize("NFKC", current).split()).upper()
        if settled == current:
            break
        current = settled
    return current


def hospital_id_hmac(key: bytes, hospital_identifier: str) -> str:
    """HMAC-SHA256 (hex) of the normalised hospital identifier; the identifier is never kept."""
    normalised = normalise_hospital_identifier(hospital_identifier)
    # surrogatepass: a lone surrogate (JSON's "\ud800") is no identifier anyone enrols, but
    # hashing it for redaction must not fail; every valid string encodes as plain UTF-8
    return hmac.new(key, normalised.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
