"""What a message said, to tell a resend from another message under a reused id.

A lab resends a message under its id when it got no answer; a different message under an
id already used (a correction sent with the original id, say) is not a resend, and answered
as a duplicate it would be dropped unseen. The digest covers what the trial uses of each
result (key, test, value, unit, status, collection time) and the patient's keyed hash, never
the identifier itself (a plain digest of a hospital number can be reversed by trying them).
"""

from __future__ import annotations

import hashlib
import json

from services.lab_ingestion.domain.model import LabMessage


def content_digest(message: LabMessage, patient_hmac: str) -> str:
    results = [
        [
            o.result_key, sorted([c.code, c.system or ""] for c in o.codes), o.value.strip(),
            [u.strip() for u in o.unit], o.status.strip().upper(),
            str(o.collected_at or o.collected_local or ""),
        ]
        for o in message.observations
    ]  # fmt: skip
    canonical = json.dumps([patient_hmac, results], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
