"""What a message said, to tell a resend from another message under a reused id.

A lab resends a message under its id when it got no answer; a different message under an
id already used (a correction sent with the original id, say) is not a resend, and answered
as a duplicate it would be dropped unseen. The digest covers what the trial uses of each
trial result (key, test, value, unit, status, collection time, and the reference range and
abnormal flag its toxicity grade is read from) and the patient's keyed hash, never the
identifier itself (a plain digest of a hospital number can be reversed by trying them).
A result of a test the trial does not follow (``identify_analyte`` names none: a printed
report, a specimen id) is not covered: nothing of it is stored, and a rejected message's
kept copy holds it redacted (a document, base64 text), which must not keep the copy from
replaying. A message stored before held the digest of every result (``says_the_same``).
The report time is not covered: written without an offset (HL7 OBR-22, ``reported_local``)
it is read with MSH-7's offset of the moment, which a resend after a clock change changes;
and it is no part of the result the trial decides on.

Whether the laboratory commented on a result (``laboratory_comment``, never the comment's
text) is covered, and only when it did: the same id resent with a comment added is other
content (a reused id, not a resend whose comment would be dropped unseen), while the digest
of a message without comments is the one made before comments were read. A message stored
before that (migration 0023, ``messages.digest_covers_comments``) has a digest that never
covered them, even where the laboratory had commented: its resend is still known as that
message (``says_the_same``), as is a resend of one stored since that says nothing else.

The codes covered are those the sender wrote, never the LOINC codes a mapping of its local
codes added (``local_codes``); a result of a mapped local code is a trial result. A message
stored before its sender's code was mapped did not cover that result, and its resend is not
taken for it: the stored digest cannot tell whether the message held the result then (a
result added under a reused id would be dropped as a duplicate), so the resend is refused
as a reused id, kept and told (a rejection kept then still replays: ``replay``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC

from services.lab_ingestion.domain.abnormal_flags import is_off_scale
from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.legacy_keys import keyed_before
from services.lab_ingestion.domain.local_codes import as_sent
from services.lab_ingestion.domain.model import LabMessage, ObservationInput
from shared.contracts.events.lab import Channel

# Put before a stored digest made before comments were read (by the batch read: migration
# 0023), which is compared with this message's digest as made then
BEFORE_COMMENTS = "before-comments:"
# What marks a trial result's off-scale flags (OBX-8 ``<``/``>`` in any repetition, FHIR and
# JSON likewise): one in a later repetition makes the value a limit, and a message resent
# under its id with one added or removed says something else. Only where there is one: every
# message stored before has the digest it had (a trial result flagged off scale was refused
# then), and a rejection kept then is replayed against its digest made without them.
OFF_SCALE = "off-scale:"
# Put before a stored digest made before a trial result's OBX-7 split by a unit's plain caret
# was read whole (migration 0029): only such a digest is compared with the message's ranges
# as read then (``ranges_read_before``; review 129: a message stored since whose range was
# cut short after its power base, resent whole under its id, passed for a duplicate)
BEFORE_SPLIT_RANGES = "before-split-ranges:"
# Put before a stored digest made before OBX-3's second alternate coding (HL7 v2.7's CWE-10
# to 12) was read (migration 0040): only such a digest is compared with the message's codes
# as read then (``second_alternates_read_before``)
BEFORE_SECOND_ALTERNATES = "before-second-alternates:"


def versioned_control_id(basis: str, patient_hash: str) -> str:
    """The id of one version of a FHIR Observation (its duplicate check keys on it): the
    canonical JSON of the version's content (``basis``, no patient) with the keyed hash of
    the patient's number ("" when none could be chosen): the same content for another
    patient is another message."""
    version = json.loads(basis)
    version["patient"] = patient_hash
    canonical = json.dumps(version, sort_keys=True)
    return "fhir-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def content_digest(
    message: LabMessage, patient_hmac: str, *, comments: bool = True, off_scale: bool = True
) -> str:
    """The digest of what the message says; a JSON body's results in any order (each has a
    ``result_id`` of its own, so their order says nothing: a resend rebuilt from an unordered
    source is the same message). HL7 and FHIR keep their order (F then C under one key).
    ``comments=False``: as made before comments were read; ``off_scale=False``: before
    off-scale flags were (``OFF_SCALE``)."""
    ordered = message.channel is not Channel.JSON
    return _digest(message, patient_hmac, ordered=ordered, comments=comments, off_scale=off_scale)


def digest_of_every_result(
    message: LabMessage, patient_hmac: str, *, comments: bool = True, off_scale: bool = True
) -> str:
    """The digest as kept before it covered trial results only: of every result too."""
    ordered = message.channel is not Channel.JSON
    return _digest(
        message, patient_hmac, ordered=ordered, every=True, comments=comments,
        off_scale=off_scale,
    )  # fmt: skip


def says_the_same(stored: str | None, digest: str, message: LabMessage, patient_hmac: str) -> bool:
    """Whether a stored message's digest is this message's (None: stored before digests were
    kept). One stored before the digest covered trial results only has that of every result
    (``digest_of_every_result``); a JSON message stored before its results' order stopped
    counting, the digest of every result in the order sent; one stored before comments were
    read (``BEFORE_COMMENTS``), any of these as made without them; an HL7 message stored
    before 7a953a8 changed its result keys, any of these made with its keys as they were;
    one stored before eae8c09 read a range split by a unit's caret whole
    (``BEFORE_SPLIT_RANGES``), any of these made with that range as read then
    (``ranges_read_before``); one stored before OBX-3's second alternate coding was read
    (``BEFORE_SECOND_ALTERNATES``), any of these made without it, where leaving it out
    changes no result's test (``second_alternates_read_before``). Only looked at when the
    digest made now differs: a resend's usual path costs nothing more."""
    if stored is None:
        return True
    codes_before = stored.startswith(BEFORE_SECOND_ALTERNATES)
    stored = stored.removeprefix(BEFORE_SECOND_ALTERNATES)
    split_ranges_before = stored.startswith(BEFORE_SPLIT_RANGES)
    stored = stored.removeprefix(BEFORE_SPLIT_RANGES)
    if stored == digest or _reads_as(stored, message, patient_hmac, split_ranges_before):
        return True
    before = second_alternates_read_before(message) if codes_before else None
    return before is not None and (
        stored == content_digest(before, patient_hmac)
        or _reads_as(stored, before, patient_hmac, split_ranges_before)
    )


def _reads_as(stored: str, message: LabMessage, patient_hmac: str, split_ranges: bool) -> bool:
    """Whether ``stored`` is ``message``'s digest as an earlier version made it (but the one
    made now: ``says_the_same`` has compared it)."""
    if _said_before(stored, message, patient_hmac):
        return True
    return any(
        stored == content_digest(before, patient_hmac) or _said_before(stored, before, patient_hmac)
        for before in _read_before(message, ranges=split_ranges)
    )


def second_alternates_read_before(message: LabMessage) -> LabMessage | None:
    """``message`` with each result's codes as read before fixer 267, without those of
    OBX-3's second alternate triplet (``without_second_alternates``), as a message stored
    then was digested; None when no such code was read, or when leaving them out changes
    which results are trial results or which analyte (and code) one is: a result that is a
    CRP only by its CWE-10 was another test's then, and the digest kept then cannot tell
    whether the message held it (its resend is refused as a reused id and kept, as a result
    of a local code mapped since is). The codes CWE-1 to 6 name a result by are never
    changed by CWE-10 (``identify_analyte``): only a result they name none of can change."""
    before = without_second_alternates(message)
    if before is None:
        return None
    for now, then in zip(message.observations, before.observations, strict=True):
        if then is not now and identify_analyte(then.codes) != identify_analyte(now.codes):
            return None
    return before


def without_second_alternates(message: LabMessage) -> LabMessage | None:
    """``message`` with each result's codes as read before fixer 267: without those of
    OBX-3's second alternate triplet (HL7 v2.7's CWE-10 to 12, ``Coding.second_alternate``,
    and the translations of such codes alone), whatever that changes; None when no such
    code was read. Unguarded: a replay's reading of a copy kept then (``replay``), which
    only checks that the redaction changed nothing; a resend's is guarded
    (``second_alternates_read_before``)."""
    if not any(c.second_alternate for o in message.observations for c in o.codes):
        return None
    observations = tuple(
        o
        if not any(c.second_alternate for c in o.codes)
        else replace(o, codes=tuple(c for c in o.codes if not c.second_alternate))
        for o in message.observations
    )
    return replace(message, observations=observations)


def ranges_read_before(message: LabMessage) -> LabMessage | None:
    """``message`` with each trial result's OBX-7 as read before eae8c09 (None: none read
    otherwise): a range a unit's plain caret split (``1.8-7.5 x10^9/L``) was read as its
    first component alone (``1.8-7.5 x10``, ``ObservationInput.range_before``), and a
    message stored or a rejection kept then was digested so; its resend after the upgrade
    (a lost ACK) is the same message, and its kept copy replays."""
    if not any(o.range_before is not None for o in message.observations):
        return None
    observations = tuple(
        o if o.range_before is None else replace(o, reference_range=o.range_before)
        for o in message.observations
    )
    return replace(message, observations=observations)


def _read_before(message: LabMessage, *, ranges: bool = True) -> Iterator[LabMessage]:
    """``message`` as earlier versions read it, where they read it otherwise: keyed as
    before 7a953a8 (``legacy_keys``), and, when ``ranges``, its ranges as before eae8c09, and
    both."""
    keyed = keyed_before(message)
    if not ranges:
        yield from (r for r in (keyed,) if r is not None)
        return
    both = None if keyed is None else ranges_read_before(keyed)
    yield from (r for r in (keyed, ranges_read_before(message), both) if r is not None)


def without_translations(message: LabMessage) -> LabMessage:
    """``message`` as read without its sender's local code mappings (the same object when
    none applied): a mapped result is then another test's, as it was before the mapping (a
    kept copy's reading then: ``replay``)."""
    if not any(c.translated for o in message.observations for c in o.codes):
        return message
    observations = tuple(replace(o, codes=as_sent(o.codes)) for o in message.observations)
    return replace(message, observations=observations)


def _said_before(stored: str, message: LabMessage, patient_hmac: str) -> bool:
    """Whether ``stored`` is a digest of ``message`` as made by an earlier version."""
    comments = not stored.startswith(BEFORE_COMMENTS)
    stored = stored.removeprefix(BEFORE_COMMENTS)
    if not comments and stored == content_digest(message, patient_hmac, comments=False):
        return True
    if stored == digest_of_every_result(message, patient_hmac, comments=comments):
        return True
    return message.channel is Channel.JSON and stored == _digest(
        message, patient_hmac, every=True, comments=comments
    )


def _digest(
    message: LabMessage,
    patient_hmac: str,
    *,
    ordered: bool = True,
    every: bool = False,
    comments: bool = True,
    off_scale: bool = True,
) -> str:
    results = [
        [
            o.result_key, sorted([c.code, c.system or ""] for c in as_sent(o.codes)),
            o.value.strip(),
            [u.strip() for u in o.unit], o.status.strip().upper(),
            _collected(o), (o.reference_range or "").strip(), (o.abnormal_flag or "").strip(),
            # only when true: a result without a comment has the digest it had before
            *(["laboratory-comment"] if comments and o.laboratory_comment else []),
            *(_off_scale_flags(o) if off_scale else []),
        ]
        for o in message.observations
        if every or identify_analyte(o.codes) is not None
    ]  # fmt: skip
    if not ordered:
        results.sort(key=lambda result: json.dumps(result, separators=(",", ":")))
    canonical = json.dumps([patient_hmac, results], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _off_scale_flags(observation: ObservationInput) -> list[str]:
    """A trial result's off-scale flags in any repetition (``OFF_SCALE``), only when it has
    any: none else."""
    flags = (observation.abnormal_flag, *observation.flags)
    found = sorted({f.strip() for f in flags if f is not None and is_off_scale(f)})
    if not found or identify_analyte(observation.codes) is None:
        return []
    return [OFF_SCALE + "".join(found)]


def _collected(observation: ObservationInput) -> str:
    """The collection time as written when it has no offset (a resend after a clock change
    reads it with another MSH-7 offset: the same sample), else its instant in UTC (the same
    instant written with another offset is the same sample)."""
    if observation.collected_local is not None:
        return observation.collected_local.isoformat()
    if observation.collected_at is None:
        return ""
    try:
        return observation.collected_at.astimezone(UTC).isoformat()
    except OverflowError:  # year 1 or 9999: rejected anyway (implausible-time)
        return observation.collected_at.isoformat()
