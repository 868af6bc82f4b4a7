"""Patient matching by a keyed hash of the hospital identifier (PROTOCOL section 6).

Hospital numbers are unique only within their hospital: in a trial of several sites, the
number of one hospital's patient can be that of another hospital's enrolled subject. A sender
configured with its site is matched against that site's subjects only, and a hash that names
several enrolled subjects is never matched to one of them (the result would be another
person's): the message is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.records import EnrolledSubject


def match_subject(
    enrolled: Sequence[EnrolledSubject], site_id: str | None
) -> str | Rejected | None:
    """The subject a message is about: among those enrolled under its hashed identifier,
    the one at the sender's site (any site when the sender has none); None if nobody."""
    eligible = {s.subject_id for s in enrolled if site_id is None or s.site_id == site_id}
    if len(eligible) <= 1:
        return next(iter(eligible), None)
    where = f"at site {site_id}" if site_id else "at different sites"
    advice = (
        "correct the enrolment" if site_id else "give the sender its site (cachexia source add "
        "--site) or correct the enrolment"
    )  # fmt: skip
    return Rejected(
        RejectionCode.AMBIGUOUS_PATIENT,
        f"the patient identifier matches {len(eligible)} enrolled subjects {where}: {advice}",
    )
