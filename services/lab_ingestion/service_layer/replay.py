"""Replay a kept rejection once its cause is fixed (``cachexia replay``).

The kept, redacted copy is read again and ingested as its sender's message, as a lab's
resend would be, at the time it first arrived. Only what can be told safe is replayed: an
HL7 message (MLLP or ``POST /v1/hl7``) whose copy reads back as the message it was: the same
message id, the same patient's keyed hash, the same content digest, all recorded when it was
rejected (a redaction that changed what the message says is caught here). It then takes the
path every message takes: the allow-list as it is now, the subject as enrolled now, a
message stored since is a duplicate, chains checked, as of when it first arrived: under a
result key whose chain changed since (the lab corrected, cancelled or sent the result again
meanwhile), a result that would change it is not applied over the newer version, and the
replay is rejected again, ``ambiguous-version`` (``replayed_chains``). A replay that stores
nothing for want of an enrolled patient, or is rejected again, leaves the rejection open.

A rejected HL7 message is known by its copy's MSH-10 (``kept_message_id``), never by more than
the copy shows: a name, birth date or visit number its redaction scrubbed from the message id
is not put back in the rejection's control id, its event or ``cachexia rejection show``. A
copy whose message id was scrubbed is not replayed (stored under ``[redacted]``, the message
would not be known again when the lab resends it).

A rejection kept before a trial result's value read HL7's highlighting as nothing
(``\\H\\0.3\\N\\`` is 0.3; it read ``_0.3_``, refused ``non-numeric-value``) holds the
digest of that reading: its copy replays when, read with its highlighting as ``_`` again, it
says what the message said then (``highlighting_as_read_before``); it is replayed as read
now. The digest covers trial results only (``content_digest``): a copy whose redaction
changed another result (a printed report, a pointer, base64 text) replays; a rejection kept
before that holds the digest of every result, and replays when its copy changed none. One
kept before eae8c09 read a trial result's OBX-7 split by a unit's plain caret
(``1.8-7.5 x10^9/L``) as its first component alone: its copy replays when so read it has
the digest kept; one kept before OBX-3's second alternate coding (HL7 v2.7's CWE-10 to 12)
was read, when read without it (a CRP coded there alone, refused ``unknown-analyte`` then,
replays and is published). Any other difference is refused as before.

FHIR and JSON copies are not replayed: their copies hold the hash wherever the input held
the patient's number, ids included, so they cannot be read back as what was sent; the lab
resends them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.lab_ingestion.domain.kept_copy import (
    HL7_HASH_PREFIX,
    NOT_THE_TOKENS,
    is_kept_copy_identifier,
    kept_copy_hash,
)
from services.lab_ingestion.domain.message_identity import (
    content_digest,
    digest_of_every_result,
    ranges_read_before,
    without_second_alternates,
    without_translations,
)
from services.lab_ingestion.domain.model import LabMessage
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.domain.rejection_states import RejectionNotOpen
from services.lab_ingestion.service_layer.commands import (
    Ingest,
    IngestLabMessage,
    IngestOutcome,
    held_elsewhere_text,
)
from services.lab_ingestion.service_layer.kept_copy_text import (
    REPLAYABLE_CHANNELS,
    highlighting_as_read_before,
    kept_message_id,
)
from shared.jsonlog import REDACTED

ReadCopy = Callable[[KeptRejection], LabMessage]  # the copy parsed; ValueError: unreadable


class ReplayRefused(Exception):
    """Why a rejection is not replayed; ``str()`` is one line for the operator."""


@dataclass(frozen=True)
class Replayed:
    outcome: IngestOutcome
    settled: bool  # the message is stored (now, or before): the rejection is closed
    summary: str  # one line for the operator and the rejection's replay_outcome


def checked_copy(rejection: KeptRejection, read_copy: ReadCopy) -> LabMessage:
    """The kept copy read back as the message it was, or ReplayRefused saying why not."""
    if (settled := rejection.state.why_not_open()) is not None:  # replayed, or closed
        raise ReplayRefused(settled)
    if rejection.channel not in REPLAYABLE_CHANNELS:
        raise ReplayRefused(
            f"a {rejection.channel} input is not replayed (its copy holds the patient's hash "
            "in its ids too): ask the lab to resend it"
        )
    if NOT_THE_TOKENS in rejection.reason:
        raise ReplayRefused(
            "it was delivered by a token that may not deliver as its sender (the token is not "
            "kept: it cannot be checked again): ask the lab to resend it with its own token"
        )
    if rejection.patient_hmac is None or rejection.content_digest is None:
        raise ReplayRefused(
            "its copy cannot be checked (not read as one patient's message, kept without its "
            "copy, or kept before replays existed): ask the lab to resend it"
        )
    try:
        message = read_copy(rejection)
    except ValueError as error:
        raise ReplayRefused(
            f"its kept copy cannot be read ({error}): ask the lab to resend it"
        ) from None
    numbers = [c.value for c in message.identifier_candidates if c.value]
    if not numbers or not all(_is_hl7_hash(number) for number in numbers):
        raise ReplayRefused("its kept copy names no patient by a keyed hash")
    if REDACTED in message.control_id:
        raise ReplayRefused(
            "its message id (MSH-10) held a personal value, scrubbed from the kept copy: ask "
            "the lab to resend it"
        )
    patient = message.patient_identifier
    patient_hmac = kept_copy_hash(patient) if patient else None
    # the control id is the copy's MSH-10 as written there (as read, when kept before that)
    kept_ids = {message.control_id, kept_message_id(rejection.payload, message.control_id)}
    if (
        rejection.control_id not in kept_ids
        or patient_hmac is None
        or patient_hmac != rejection.patient_hmac
        or not _says_what_it_said(rejection, read_copy, message, patient_hmac)
    ):
        raise ReplayRefused(
            "its kept copy does not read as the message did (the redaction changed what it "
            "says): ask the lab to resend it"
        )
    return message


def _says_what_it_said(
    rejection: KeptRejection, read_copy: ReadCopy, message: LabMessage, patient_hmac: str
) -> bool:
    """Whether the copy, as read now, has the digest kept with the rejection; or, read as
    this service read HL7's highlighting before (``highlighting_as_read_before``: the digest
    of a rejection kept then), has it (only that reading's difference is forgiven). The
    digest covers trial results only (a document in another result, redacted, changes
    nothing); one kept before that covered every result (``digest_of_every_result``)."""
    if _has_the_digest(message, patient_hmac, rejection.content_digest):
        return True
    before = highlighting_as_read_before(rejection.payload)
    if before is None:
        return False
    try:
        as_read_before = read_copy(dataclasses.replace(rejection, payload=before))
    except ValueError:
        return False
    return _has_the_digest(as_read_before, patient_hmac, rejection.content_digest)


def _has_the_digest(message: LabMessage, patient_hmac: str, kept: str | None) -> bool:
    """Whether ``kept`` is the copy's digest, as made now or before comments or off-scale
    flags were read (a rejection kept then: one refused ``censored-value`` is replayed to
    publish its limit): the redaction keeps every NTE and never empties its text, so a copy
    says whether each result was commented on as the message did. Read without its sender's
    local code mappings too: a rejection kept before a code was mapped (``unknown-analyte``)
    is replayed to be read as mapped now. And with a range a unit's plain caret split read
    as its first component alone (``ranges_read_before``: a rejection kept before eae8c09).
    And without OBX-3's second alternate codings (``without_second_alternates``: one kept
    before fixer 267), whatever that changes: only the redaction is checked here, and a
    result that is a CRP only by its CWE-10 (``unknown-analyte`` then) is replayed to be
    read with it now, as one of a local code mapped since is. A resend's reading is guarded
    (``second_alternates_read_before``)."""
    digests = (content_digest, digest_of_every_result)
    untranslated = without_translations(message)
    reads = [message] if untranslated is message else [message, untranslated]
    reads += [b for read in reads if (b := without_second_alternates(read)) is not None]
    reads += [before for read in reads if (before := ranges_read_before(read)) is not None]
    return any(
        digest(read, patient_hmac, comments=comments, off_scale=off_scale) == kept
        for read in reads
        for digest in digests
        for comments in (True, False)
        for off_scale in (True, False)
    )


@dataclass(frozen=True)
class Replayer:
    """Replays kept rejections: ``read_copy`` parses a copy, ``ingest`` is a batch ingestor
    that reads kept copies' hashes (``BatchIngestor(reads_kept_copies=True)``)."""

    read_copy: ReadCopy
    ingest: Ingest

    def check(self, rejection: KeptRejection) -> LabMessage:
        """The copy read back as the message it was (ReplayRefused: why not)."""
        return checked_copy(rejection, self.read_copy)

    async def replay(self, rejection: KeptRejection) -> Replayed:
        """Ingest the rejection's checked copy as its sender's message, and mark the
        rejection with how it went in the ingest's unit of work (``mark_replay``): the
        replay and its mark are committed together, or neither is. The unit of work checks
        in that transaction, the rejection's row locked, that it is still open: one closed by
        an operator (or replayed by another replay) since ``rejection`` was read is not
        replayed, and nothing of this replay is committed (review 214)."""
        command = self._command(rejection)

        def mark(uow: Any, outcomes: Sequence[IngestOutcome]) -> None:
            (outcome,) = outcomes
            replayed = _replayed(outcome)
            uow.mark_replay(rejection.rejection_id, replayed.summary, settled=replayed.settled)

        try:
            (outcome,) = await self.ingest([command], before_commit=mark)
        except RejectionNotOpen as settled:
            why = settled.state.why_not_open() if settled.state is not None else None
            raise ReplayRefused(
                f"{why or 'no longer kept'}, while this replay ran: this replay stored nothing"
            ) from None
        return _replayed(outcome)

    async def dry_run(self, rejection: KeptRejection) -> Replayed:
        """What ``replay`` would do now, with nothing written (no row, no event, no mark on
        the rejection): the copy checked, then planned as the replay would be, from a read
        (the allow-list, the subject, the stored messages, the chains as of when it first
        arrived: ``ambiguous-version``). ``settled``: the replay would close the rejection;
        the summary says so, or which check would refuse it."""
        (outcome,) = await self.ingest([self._command(rejection)], dry_run=True)
        return Replayed(outcome, _replayed(outcome).settled, _dry_run_summary(outcome))

    def _command(self, rejection: KeptRejection) -> IngestLabMessage:
        """The rejection's checked copy as its sender's message, as first received."""
        message = self.check(rejection)
        return IngestLabMessage(
            message, lambda: rejection.payload, rejection.received_at,
            inherited_rejection_id=rejection.rejection_id,  # rejected again: the same one
        )  # fmt: skip


def _is_hl7_hash(number: str) -> bool:
    """A PID-3 number as an HL7 copy writes the keyed hash (``HMAC:`` and 64 hex digits)."""
    return number.strip().startswith(HL7_HASH_PREFIX) and is_kept_copy_identifier(number)


def _replayed(outcome: IngestOutcome) -> Replayed:
    return Replayed(outcome, outcome.accepted and outcome.enrolled, _summary(outcome))


def _dry_run_summary(outcome: IngestOutcome) -> str:
    if outcome.transient:
        return "not checked: a passing failure; try again"
    if not outcome.accepted:
        code = outcome.code.value if outcome.code else ""
        return f"not replayable now: it would be rejected again: {code}: {outcome.reason}"
    if outcome.duplicate and outcome.held_elsewhere:  # as the ACK says it (review 214)
        return (
            f"replayable: {held_elsewhere_text(outcome.held_elsewhere)}; the replay would close it"
        )
    if outcome.duplicate:
        return "replayable: already stored (the lab resent it); the replay would close it"
    if not outcome.enrolled:
        return "not replayable yet: the patient is not enrolled (yet); nothing would be stored"
    return (
        f"replayable: it would store {outcome.results} result(s), cancel {outcome.cancelled}"
        f"{_held_too(outcome)}"
    )


def _summary(outcome: IngestOutcome) -> str:
    if outcome.transient:
        return "not stored: a passing failure; replay it again"
    if not outcome.accepted:
        return f"rejected again: {outcome.code.value if outcome.code else ''}: {outcome.reason}"
    if outcome.duplicate and outcome.held_elsewhere:  # as the ACK says it (review 214)
        return held_elsewhere_text(outcome.held_elsewhere)
    if outcome.duplicate:
        return "already stored: the lab resent it"
    if not outcome.enrolled:
        return "not stored: the patient is not enrolled (yet); replay it again once they are"
    return f"stored: {outcome.results} result(s), {outcome.cancelled} cancelled{_held_too(outcome)}"


def _held_too(outcome: IngestOutcome) -> str:
    """Of a message stored, its results left out as the other feed's, as the ACK adds them."""
    return f"; {held_elsewhere_text(outcome.held_elsewhere)}" if outcome.held_elsewhere else ""
