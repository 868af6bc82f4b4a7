"""Encoded data in the text of a kept copy (HL7, FHIR and JSON alike): a laboratory's printed
report or a scanned form, base64 and so one decode away from the patient's name, is no text
any scrubbing reads, and is replaced whole.

What is taken for base64 is a run of 24 or more characters of its alphabet (18 bytes, a
name's worth), with upper and lower case letters (as encoded bytes have), that also
holds a digit, a ``+`` or a ``/``, or ends in ``=`` padding, or is 40 characters or more long:
encoded text almost always has one of them. A run of letters alone is taken for a code's
text (``CReactiveProteinSerumPlasma``, a local code's alternate identifier) and kept.
"""

from __future__ import annotations

import re

from services.lab_ingestion.adapters.scrub import REDACTED

_RUN = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")  # 18 bytes or more
_LONG = 40  # characters: 30 bytes, or more
_ENCODED_SIGNS = frozenset("0123456789+/=")


def masked_base64(text: str) -> str:
    """``text`` with every run of base64 in it (see above) as ``[redacted]``."""
    return _RUN.sub(_masked, text) if len(text) >= 24 else text


def _masked(run: re.Match[str]) -> str:
    text = run.group()
    mixed = any(c.isupper() for c in text) and any(c.islower() for c in text)
    encoded = len(text) >= _LONG or any(c in _ENCODED_SIGNS for c in text)
    return REDACTED if mixed and encoded else text
