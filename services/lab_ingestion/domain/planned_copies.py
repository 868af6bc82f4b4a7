"""The batch's results a result finding nothing under its own key is another copy of, or
may be meant for (pure: no I/O): results planned earlier in the same commit batch count as
stored ones do (``copies_elsewhere``, whose rules these mirror for ``ResultRecord``), so one
batch answers as the same messages one at a time (reviews 202, 237, 241)."""

from __future__ import annotations

from collections.abc import Iterable

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.copies_elsewhere import (
    HL7_CHANNELS,
    across_feeds,
    of_one_laboratory,
    same_sample,
)
from services.lab_ingestion.domain.model import ObservationInput, ResultStatusCode
from services.lab_ingestion.domain.records import ResultRecord
from services.lab_ingestion.domain.result_status import EMITTED, status_of
from shared.contracts.events.lab import Channel

_FINAL = ResultStatusCode.FINAL.value


def planned_elsewhere(
    source: str,
    subject_id: str,
    observation: ObservationInput,
    parts: frozenset[str],
    planned: Iterable[tuple[ResultRecord, str | None, str | None]],
    *,
    channel: Channel,
    feed: str | None = None,
) -> list[ResultRecord]:
    """The batch's results (each with the channel its message came over and its message's
    ``feed_of``), planned before this one, of the same patient, that it is another copy of
    or may be meant for as ``copies_of`` tells of stored ones: of its analyte and sample
    (``parts`` as written shared), over the other feed of its laboratory
    (``of_one_laboratory``; ``feed``: its own message's) or, for a FHIR token's change, its
    own under another key (review 241: left out in one batch, refused one at a time); final
    or corrected ones for a final result, preliminary ones too for a change (review 237: an
    HL7 X after the FHIR feed's preliminary of the batch was left out, refused across
    batches); those a withdrawal earlier in it withdrew (``cancelled_at`` set) as withdrawn
    ones."""
    identified = identify_analyte(observation.codes)
    if identified is None or not parts:
        return []
    final = status_of(observation) == _FINAL
    fhir = channel is Channel.FHIR
    keys = _keys_as_sent(observation)
    return [
        r for r, by, by_feed in planned
        if r.subject_id == subject_id
        and (r.status in EMITTED or not final)
        and (
            across_feeds(channel, by) and of_one_laboratory(source, feed, r.source, by_feed)
            if r.source != source else fhir and not final and r.result_key not in keys
        )
        and r.result.analyte.value == identified[0].value
        and same_sample(r.collected_at, observation.collected_at)
        and (r.result_key in keys or not r.identifier_parts.isdisjoint(parts))
    ]  # fmt: skip


def planned_sharing(
    source: str,
    subject_id: str,
    observation: ObservationInput,
    parts: frozenset[str],
    planned: Iterable[tuple[ResultRecord, str | None, str | None]],
    *,
    feed: str | None = None,
) -> list[ResultRecord]:
    """The batch's results, planned before it, that a FHIR ``cancelled`` without a value
    (``cancelled_before_resulting``) may be meant for, as ``holding_senders`` tells of stored
    ones (``fhir_cancellations.sharing_senders``): the patient's results of its analyte under
    another sender's name, or its own under another key, whose key is one of its keys or
    shares a part with them, whatever their time or status, never another laboratory's HL7
    result than its token's (review 241: HL7's F 12 collected 08:15, then the cancellation
    effective 10:15, or another token's FHIR F 12, in one batch: left out, 200, the 12
    standing; one at a time refused naming the holder)."""
    identified = identify_analyte(observation.codes)
    if identified is None or not parts:
        return []
    keys = _keys_as_sent(observation)
    return [
        r for r, by, _ in planned
        if r.subject_id == subject_id
        and r.result.analyte.value == identified[0].value
        and not (r.source == source and r.result_key in keys)
        and (by not in HL7_CHANNELS or of_one_laboratory(source, feed, r.source, None))
        and (r.result_key in keys or not r.identifier_parts.isdisjoint(parts))
    ]  # fmt: skip


def _keys_as_sent(observation: ObservationInput) -> frozenset[str]:
    """Every key a result is stored or named under, as written (``StoredElsewhere.keys_of``)."""
    return frozenset((observation.result_key, *observation.other_keys, *observation.keys_before))
