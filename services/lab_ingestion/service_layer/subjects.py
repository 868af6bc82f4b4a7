"""Whose a message is, and its times read in its sender's zone: what a batch decides about
each message before planning its results."""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

from services.lab_ingestion.domain.matching import match_subject
from services.lab_ingestion.domain.model import LabMessage, Rejected
from services.lab_ingestion.domain.planning import in_site_time
from services.lab_ingestion.domain.withdrawal import subject_with_withdrawn
from services.lab_ingestion.service_layer.batch_context import BatchContext


def in_sender_time(context: BatchContext, message: LabMessage) -> LabMessage | Rejected:
    """Local collection and report times read in the sender's zone, when one is configured."""
    sender = context.allowed.get((message.source_application, message.source_facility))
    zone = sender.time_zone if sender else None
    return in_site_time(message, site_zone(zone)) if zone else message


def subject_of(
    context: BatchContext, message: LabMessage, patient_hmac: str, received_at: datetime
) -> str | Rejected | None:
    """The subject the message is about: the one enrolled under its identifier at the
    sender's site, unless subjects withdrawn under it (read on the careful path only) may
    own it (``subject_with_withdrawn``); a rejection when that cannot be told, or when its
    collection times cannot be read or are missing or implausible (never discarded unseen);
    None: nobody's."""
    sender = context.allowed.get((message.source_application, message.source_facility))
    site = sender.site_id if sender else None
    active = match_subject(context.subjects.get(patient_hmac, ()), site)
    withdrawn = context.withdrawn.get(patient_hmac)
    if isinstance(active, Rejected) or not withdrawn:
        return active
    sited = in_sender_time(context, message)
    if isinstance(sited, Rejected):
        return sited
    heads = {**context.preliminary, **context.latest}
    return subject_with_withdrawn(sited, active, withdrawn, heads, site, received_at=received_at)


@functools.cache
def site_zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)  # names are checked when a sender is added
