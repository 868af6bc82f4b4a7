"""The shape of a trial site's id, as a site token is bound to it (`token create --site`)."""

from __future__ import annotations

import unicodedata

from shared.contracts.events.trial import SITE_ID_MAX_LENGTH


def site_id_problem(text: str) -> str | None:
    """Why ``text`` cannot be a site id, or None. A site id is what enrolments carry
    (``SubjectEnrolled.site_id``, at most ``SITE_ID_MAX_LENGTH`` characters), compared as
    written: not blank, no whitespace at its ends, no control characters."""
    if not text.strip():
        return "a site id is not blank (e.g. CH-01)"
    if text != text.strip():
        return f"{text!r}: a site id has no spaces at its ends (e.g. CH-01)"
    if len(text) > SITE_ID_MAX_LENGTH:
        return f"{text!r}: a site id has at most {SITE_ID_MAX_LENGTH} characters"
    if any(unicodedata.category(c).startswith("C") for c in text):
        return f"{text!r}: a site id has no control characters"
    return None
