"""The chains of one message's result keys, as its observations, taken in order, leave them
(pure: no I/O): what each observation acts on, and whether it changes its chain, says again
what it holds, or cannot be applied (``chain_checks.check_earlier_results`` runs them)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.chain_contents import SourceKey, content_of, obtains_nothing
from services.lab_ingestion.domain.chain_refusals import (
    another_chain,
    changed_final,
    nothing_to_apply,
    others_preliminary,
)
from services.lab_ingestion.domain.correction_resends import issued_before, resent_correction
from services.lab_ingestion.domain.fhir_cancellations import cancelled_before_resulting
from services.lab_ingestion.domain.model import (
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    ResultStatusCode,
)
from services.lab_ingestion.domain.records import (
    Content,
    EarlierResult,
    PatientKey,
    WithdrawnVersion,
)
from services.lab_ingestion.domain.report_fields import ReportField
from services.lab_ingestion.domain.result_status import (
    CANCELLING,
    EMITTED,
    status_of,
)
from services.lab_ingestion.domain.withdrawn_chains import (
    cancels_withdrawn_chain,
    restates_withdrawn,
    withdrawn_contents,
    withdrawn_result,
)
from shared.contracts.events.lab import Channel

_NEW = uuid.UUID(int=0)  # a result this message itself adds (its id is not known yet)


class _Observed(NamedTuple):
    """One observation as its chain sees it."""

    key: SourceKey
    status: str
    head: EarlierResult | None  # the result it acts on (None: none standing)
    analyte: str
    content: Content | None  # what it says (None: a cancellation)
    collected_at: datetime | None
    gone: frozenset[Content | None]  # what the patient's withdrawn versions under it said
    reported_at: datetime | None  # when the lab reported it (None: not said)
    report_field: ReportField | None  # the field ``reported_at`` was read from
    analysed_at: datetime | None  # HL7 OBX-19 beside an OBR-22 report time (None: not said)
    report_time_written: bool  # a report time was sent (``reported_at`` None: dropped)


@dataclass
class MessageChains:
    """The chains of one message's result keys, as its observations, taken in order, leave
    them."""

    message: LabMessage
    subject_id: str
    heads: Mapping[SourceKey, EarlierResult]
    preliminaries: Mapping[PatientKey, EarlierResult]
    said: dict[SourceKey, Content]  # what each key's head says, where known
    withdrawn: Mapping[SourceKey, frozenset[WithdrawnVersion]]
    own: dict[SourceKey, EarlierResult | None] = field(default_factory=dict)  # this message's
    cleared: set[SourceKey] = field(default_factory=set)  # by a cancellation in this message
    # keys whose last observation in this message so far is a cancellation
    just_cancelled: set[SourceKey] = field(default_factory=set)
    # the patient's preliminary result this message added under a key, standing
    own_preliminary: dict[SourceKey, EarlierResult] = field(default_factory=dict)
    # a final left out as the other feed's duplicate, last under its key: stored nowhere, it
    # is the head a later final of the message says again or changes, never one a
    # correction or cancellation acts on (review 226)
    copied: dict[SourceKey, tuple[EarlierResult, Content | None]] = field(default_factory=dict)

    def check(
        self,
        observation: ObservationInput,
        normalised: NormalisedResult | None,
        *,
        copy: bool = False,
    ) -> Rejected | bool:
        """Whether the observation changes its chain (False: a duplicate, left out), or why
        it cannot. ``copy``: the other feed's result's duplicate, left out (``copy_outcomes``):
        stored nowhere, beside no other patient's preliminary (review 209), and nothing a
        correction or cancellation after it in the message acts on (review 226: one was
        planned as correcting the left-out final, and stored superseding none)."""
        seen = self._observe(observation, normalised)
        if cancels_withdrawn_chain(seen.status, seen.head, self.subject_id, seen.gone):
            # the patient's chain was withdrawn before: a resend that changes nothing, after
            # which (nothing standing) a final result in this message starts a new chain
            self.own[seen.key] = seen.head
            self.cleared.add(seen.key)
            self.just_cancelled.add(seen.key)
            return False
        if seen.status in CANCELLING and (
            seen.key in self.just_cancelled or self._obtains_nothing(seen, observation)
        ):
            # the key's last observation in this message, said again; or nothing to withdraw
            return False
        if self._late_copy(seen):
            return withdrawn_result()
        refused = another_chain(seen.head, self.subject_id, seen.analyte)
        if refused is None and seen.head is None and seen.status in EMITTED and not copy:
            beside = others_preliminary(self.preliminaries, seen.key, self.subject_id)
            refused = another_chain(beside, self.subject_id, seen.analyte)
        if refused is not None:
            return refused
        restated = self._restates(seen)
        if restated is not False:
            return False if restated is True else restated
        if copy and seen.status == ResultStatusCode.FINAL.value:
            self.copied[seen.key] = (
                EarlierResult(_NEW, self.subject_id, seen.analyte, seen.collected_at),
                seen.content,
            )
        else:
            self._apply(seen)
        return True

    def _observe(
        self, observation: ObservationInput, normalised: NormalisedResult | None
    ) -> _Observed:
        key = (self.message.source, observation.result_key)
        status = status_of(observation)
        analyte = _analyte_of(observation)
        versions = self.withdrawn.get(key, frozenset())
        collected_at = observation.collected_at
        return _Observed(
            key, status, self._head(key, status), analyte,
            None if normalised is None else content_of(normalised, collected_at), collected_at,
            withdrawn_contents(versions, self.subject_id, analyte), observation.reported_at,
            observation.report_field, observation.analysed_at, observation.report_time_written,
        )  # fmt: skip

    def _head(self, key: SourceKey, status: str) -> EarlierResult | None:
        """The result an observation acts on: the key's head as this message left it, else
        as stored or as the batch left it (a cancellation's: a preliminary one too); a
        final's: a copy this message left out too (``copied``)."""
        if key in self.copied and status == ResultStatusCode.FINAL.value:
            return self.copied[key][0]
        if key in self.own:
            own = self.own[key]
            if own is None and status in CANCELLING:
                return self.own_preliminary.get(key)
            return own
        head = self.heads.get(key)
        if head is None and status in CANCELLING:  # the message's own preliminary is newer
            own_preliminary = self.own_preliminary.get(key)
            return own_preliminary or self.preliminaries.get((*key, self.subject_id))
        return head

    def _obtains_nothing(self, seen: _Observed, observation: ObservationInput) -> bool:
        """An X under a key where nothing was ever stored (``obtains_nothing``), nor added by
        this message: nothing to withdraw, nothing to record. Over FHIR only a `cancelled`
        without a value (a test cancelled before it was resulted: ``fhir_cancellations``),
        or one read as X beside a result of its Bundle that acts (``unobtained``): a FHIR
        result is kept under its token's name (review 67), so a `cancelled` with a value, or
        an `entered-in-error`, finding nothing may be meant for a result sent under another
        (a replaced token's, or over HL7): refused (the lab is told), never taken as a no-op
        (one whose patient holds a result under its identifier under another sender's name
        is refused before: ``fhir_cancellations.cancelled_elsewhere``)."""
        channel = self.message.channel
        if channel is Channel.FHIR and not (
            observation.read_as_not_obtained or cancelled_before_resulting(observation, channel)
        ):
            return False
        if seen.key in self.own or seen.key in self.own_preliminary:
            return False
        return obtains_nothing(
            seen.key, seen.status, self.heads, self.preliminaries, self.withdrawn
        )

    def _late_copy(self, seen: _Observed) -> bool:
        """A late copy of a withdrawn version (``restates_withdrawn``) under no chain, under
        another patient's, or under the patient's new one (where saying what its head says
        is a plain duplicate, and what a version its correction replaced said, a delayed
        copy of that): unless a cancellation earlier in this message cleared the key."""
        if seen.key in self.cleared or not restates_withdrawn(
            self.message, seen.status, seen.content, seen.gone
        ):
            return False
        if seen.head is None or seen.head.subject_id != self.subject_id:
            return True
        return seen.content != self._said(seen) and not self._restates_superseded(seen)

    def _said(self, seen: _Observed) -> Content | None:
        """What the head ``seen`` acts on says (a final's: a copy left out, ``copied``)."""
        if seen.key in self.copied and seen.status == ResultStatusCode.FINAL.value:
            return self.copied[seen.key][1]
        return self.said.get(seen.key)

    def _restates(self, seen: _Observed) -> bool | Rejected:
        """Whether a result of the patient's says again what its chain says or said (True:
        a duplicate), or why it cannot be applied to the chain (a final result of another
        sample, or saying anything else, under the standing one; a correction or
        cancellation with nothing to act on; a correction restating a version replaced
        since, which report times do not tell as a copy or a correction back to it). False:
        it changes its chain."""
        if self._restates_superseded(seen):
            return True  # a delayed copy of a version its correction replaced
        refused = nothing_to_apply(seen.head, seen.status, seen.collected_at, seen.gone)
        if refused is not None:
            return refused
        if seen.head is None or seen.status not in EMITTED:
            return False
        said_again = self._said(seen) == seen.content
        if seen.status == ResultStatusCode.FINAL.value:
            # a duplicate of the standing result, or a change only a correction makes
            within = seen.key in self.own or seen.key in self.copied
            return True if said_again else changed_final(within_message=within)
        if seen.key in self.own:  # said twice in one message, it is one correction
            return said_again
        return self._resent(seen, seen.head)

    def _resent(self, seen: _Observed, head: EarlierResult) -> bool | Rejected:
        """Whether a correction of another message than its chain's head says again what the
        chain says or said, sent again under a new message id, late or not (True: a
        duplicate), or cannot be told from a correction back (``correction_resends``). A
        FHIR version's copy is known as stored (``planning.check_repeated_version``); another
        version is judged as HL7's and JSON's are, by its ``issued`` time (review 181: a
        correction issued before the standing one, delivered last, stood over it)."""
        if seen.content is None:
            return False
        if self.message.control_id_basis is not None:  # a FHIR version
            return issued_before(
                head, seen.content, seen.reported_at, written=seen.report_time_written
            )
        return resent_correction(
            head,
            self.said.get(seen.key),
            seen.content,
            seen.reported_at,
            seen.report_field,
            analysed_at=seen.analysed_at,
            written=seen.report_time_written,
        )

    def _restates_superseded(self, seen: _Observed) -> bool:
        """A final result saying what an earlier version of its chain said, one a
        correction has since replaced: a delayed copy of the original (resent under a new
        message id), not news. It changes nothing (the correction stands) and is answered
        as a duplicate; rejecting it would ask the lab for a correction that could undo the
        standing one. Within one message, results under one key that disagree still reject
        it."""
        return (
            seen.head is not None and seen.key not in self.own
            and seen.status == ResultStatusCode.FINAL.value
            and seen.content is not None and seen.content in seen.head.superseded
        )  # fmt: skip

    def _apply(self, seen: _Observed) -> None:
        self.just_cancelled.discard(seen.key)
        if seen.status in EMITTED or seen.status in CANCELLING:
            self.copied.pop(seen.key, None)  # a result stored, or none standing, after it
        if seen.status in EMITTED:
            earlier = seen.head.result_id if seen.head else _NEW
            self.own[seen.key] = EarlierResult(
                earlier, self.subject_id, seen.analyte, seen.collected_at
            )
            if seen.content is not None:
                self.said[seen.key] = seen.content
        elif seen.status in CANCELLING:
            self.own[seen.key] = None
            self.own_preliminary.pop(seen.key, None)
            self.cleared.add(seen.key)
            self.just_cancelled.add(seen.key)
        else:  # a preliminary result: only a cancellation acts on it
            self.own_preliminary[seen.key] = EarlierResult(
                _NEW, self.subject_id, seen.analyte, seen.collected_at
            )


def _analyte_of(observation: ObservationInput) -> str:
    identified = identify_analyte(observation.codes)
    assert identified is not None  # plan_results keeps trial analytes only
    return identified[0].value
