"""What a message's result finding nothing under its own key becomes beside the lab's other
feed's results of its sample (pure: no I/O; which results those are: ``copies_elsewhere``):
refused naming the sender holding them, left out as a duplicate of what they say, or
stored (nothing of the sample's there).

The other feed's results are taken as the batch left them, whether stored or planned
earlier in it (review 202, defect 4): a chain the batch withdrew is withdrawn, a result
it withdrew is no standing copy (``as_batch_left``). A final result saying what a
withdrawn one said is that result's late copy (``withdrawn_saying``): refused
``ambiguous-version`` as over one feed (``withdrawn_chains``), never stored and published
again (review 202, defect 2)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Sequence

from services.lab_ingestion.domain.changes_in_message import acts_in_message, corrects_in_message
from services.lab_ingestion.domain.copies_elsewhere import (
    Said,
    SourceKey,
    StoredElsewhere,
    checked_elsewhere,
    copies_of,
    feed_of,
    holding_senders,
    said_by,
)
from services.lab_ingestion.domain.copy_refusals import (
    copy_refusal,
    withdrawn_copy,
    withdrawn_correction,
)
from services.lab_ingestion.domain.fhir_cancellations import (
    StandingResult,
    cancelled_before_resulting,
)
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    Rejected,
    ResultStatusCode,
)
from services.lab_ingestion.domain.planned_copies import planned_elsewhere, planned_sharing
from services.lab_ingestion.domain.records import ResultRecord
from services.lab_ingestion.domain.result_status import CANCELLING, EMITTED, status_of

_FINAL = ResultStatusCode.FINAL.value
_CORRECTED = ResultStatusCode.CORRECTED.value
_NO_KEYS: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


def _holds_no_preliminary(_: SourceKey, __: str | None) -> bool:
    return False


def said_by_record(record: ResultRecord) -> Said:
    """What a result the batch planned says (``copies_elsewhere.said_by``)."""
    return said_by(record.result.value, record.result.unit, record.result.comparator)


def as_batch_left(
    standing: Iterable[StandingResult],
    withdrawn: Iterable[StandingResult],
    withdrawn_ids: Collection[uuid.UUID],
) -> tuple[list[StandingResult], list[StandingResult]]:
    """A patient's stored results (standing, withdrawn) as the batch left them: each version
    of a chain (sender and key) one of whose versions the batch withdrew (``withdrawn_ids``:
    a withdrawal withdraws its whole chain, and names at least its head) is withdrawn."""
    standing, withdrawn = list(standing), list(withdrawn)
    chains = {
        (r.source, r.stored_key)
        for r in standing if r.result_id is not None and r.result_id in withdrawn_ids
    }  # fmt: skip
    if not chains:
        return standing, withdrawn
    gone = [r for r in standing if (r.source, r.stored_key) in chains]
    return [r for r in standing if (r.source, r.stored_key) not in chains], withdrawn + gone


def withdrawn_saying(
    said: Said | None, gone: Iterable[StandingResult], in_batch: Iterable[ResultRecord]
) -> frozenset[str]:
    """The senders of the other feed's withdrawn final or corrected results of the sample
    (``gone``: stored; ``in_batch``: the batch's, withdrawn earlier in it) that said what a
    final result says (``said``): it is their late copy. A withdrawn preliminary result was
    never published, and is no such copy."""
    if said is None:
        return frozenset()
    return frozenset(
        {g.source for g in gone if g.status in EMITTED and g.said == said}
        | {r.source for r in in_batch if r.status in EMITTED and said_by_record(r) == said}
    )


def says_again(
    observation: ObservationInput,
    said: Said | None,
    copies: Sequence[StandingResult],
    withdrawn: Sequence[StandingResult],
    in_batch: Sequence[ResultRecord],
    *,
    withdrawn_in_batch: Sequence[ResultRecord] = (),
) -> bool:
    """Whether a result finding nothing under its own key says what the other feed's
    result of its sample says already (``copies_elsewhere``), a duplicate to leave out:
    ``copies``, the standing results it is a copy of or may be meant for (``copies_of``),
    ``withdrawn``, the withdrawn ones so, ``in_batch``, the batch's standing ones
    (``planned_elsewhere``), ``withdrawn_in_batch``, those the batch withdrew.

    A final result saying what one of them says (any version: a delayed copy of the
    original); a correction saying what the head of each chain among ``copies`` says
    (review 192); a withdrawal finding only withdrawn ones, a final or corrected one among
    them (the published chain withdrawn already; a withdrawn preliminary is none: review 233),
    unless it has a result of its own to act on (``held_elsewhere``: the patient's
    preliminary under its key, or its key's result earlier in its message: task 220)."""
    status = status_of(observation)
    if status == _FINAL:
        return said is not None and (
            any(c.said == said for c in copies) or any(said_by_record(r) == said for r in in_batch)
        )
    if in_batch:  # the batch's own versions: what its chain says by then is not known here
        return False
    if status == _CORRECTED:
        heads = [c for c in copies if c.head and c.status in EMITTED]
        return said is not None and bool(heads) and all(c.said == said for c in heads)
    # a withdrawn preliminary (never published) is nothing a withdrawal repeats (review 233)
    gone = [w.status for w in withdrawn] + [r.status for r in withdrawn_in_batch]
    return status in CANCELLING and not copies and any(was in EMITTED for was in gone)


def held_elsewhere(
    message: LabMessage,
    subject_id: str,
    stored: StoredElsewhere,
    checked: Callable[[SourceKey, str], bool],
    *,
    planned: Sequence[tuple[ResultRecord, str | None, str | None]],
    parts_of: Callable[[ObservationInput], frozenset[str]],
    said_of: Callable[[ObservationInput], Said | None],
    preliminary: Callable[[SourceKey, str | None], bool] = _holds_no_preliminary,
    withdrawn_ids: Collection[uuid.UUID] = frozenset(),
    withdrew_preliminary: Callable[[SourceKey, str], bool] = _holds_no_preliminary,
) -> Rejected | frozenset[int]:
    """Why one of the message's results, finding nothing under its own key (``checked``:
    whether its key holds no final or corrected result, nor a withdrawn one of the
    patient's: ``withdrawn_chains.finds_no_chain``, review 219; ``preliminary``:
    whether it holds the patient's own preliminary one, never another patient's: review
    209; with None, anyone's), is refused: the patient holds a result over the other feed it
    is a copy of, or may be meant for (``holding_senders``, ``planned_elsewhere``;
    ``planned``: the batch's results, each with its channel and ``feed_of``; only its laboratory's:
    ``of_one_laboratory``), a final result is a withdrawn one's late copy
    (``withdrawn_saying``), or a correction would act on a withdrawn one
    (``withdrawn_under``; not after a final or corrected result of its key the message
    stores: ``corrects_in_message``, review 219); else the positions of its results
    that are duplicates of such a result (``says_again``; ``said_of``: what each says), to
    leave out: never a withdrawal after its key's result in its message, which acts on that
    result (``acts_in_message``; task 220: F 13 then W, the W left out as a duplicate of the
    other feed's withdrawal of its 12, left F 13 standing). The other feed's preliminary
    results (never published) count for a change finding nothing at all, never for one
    after its key's result in its message (review 226, D2: [F 12, C 13] was refused whole
    beside the FHIR feed's preliminary 12) nor where that feed's published result of the
    sample was withdrawn (D3), stored or planned earlier in the batch alike (review 237:
    an HL7 X after the FHIR feed's preliminary of the batch was left out). Its keys and
    parts are of all its identifiers, whatever key it was planned under
    (``StoredElsewhere.keys_of``). ``withdrawn_ids``: the stored results the batch withdrew
    so far (``as_batch_left``). ``withdrew_preliminary``: whether a change (key, status)
    finds only the patient's withdrawn preliminary under its key (``withdrawn_chains``):
    their chain's to answer unless the other feed's published result stands (review 233)."""
    duplicates: set[int] = set()
    source, channel, feed = message.source, message.channel, feed_of(message)
    standing, withdrawn = as_batch_left(
        stored.standing.get(subject_id, ()), stored.withdrawn.get(subject_id, ()), withdrawn_ids
    )
    for index, observation in enumerate(message.observations):
        status = status_of(observation)
        key = (source, observation.result_key)
        if not checked_elsewhere(observation, channel) or not checked(key, status):
            continue
        # a correction or withdrawal under a key holding only the patient's preliminary
        # result acts on it, unless the other feed's published result of the sample stands
        # (review 202); another patient's is nothing it could act on (review 209)
        pending = status != _FINAL and preliminary(key, subject_id)
        # any patient's preliminary there, or its key's result earlier in its message (which
        # it acts on: review 226, D2): only the other feed's standing final or corrected
        # results are looked at, never its preliminaries nor the sender's own under other
        # keys (review 165's), stored or planned in the batch (one batch answers as one at
        # a time)
        shared = status != _FINAL and (
            preliminary(key, None) or acts_in_message(message, index, duplicates)
        )
        batch = planned_elsewhere(
            source, subject_id, observation, parts_of(observation), planned, channel=channel,
            feed=feed,
        )  # fmt: skip
        in_batch = [r for r in batch if r.cancelled_at is None]
        # the other feed's only, as ``gone`` (the token's own withdrawn ones: review 165's)
        gone_in_batch = [r for r in batch if r.cancelled_at is not None and r.source != source]
        mine = stored.keys_of(source, observation, channel) if standing or withdrawn else _NO_KEYS
        copies = copies_of(source, channel, observation, standing, mine, feed=feed)
        # the patient's own withdrawn preliminary is the chain a change acts on while nothing
        # the other feed published stands (review 233, D-A: its preliminary refused a resent W)
        if (
            withdrew_preliminary(key, status)
            and not any(c.status in EMITTED for c in copies)
            and not any(r.status in EMITTED for r in in_batch)
        ):  # fmt: skip
            continue
        if shared:
            copies = [c for c in copies if c.source != source and c.status in EMITTED]
            in_batch = [r for r in in_batch if r.source != source and r.status in EMITTED]
        said = said_of(observation)
        gone: list[StandingResult] = []
        # the other feed's only (a FHIR token's own results under other keys: review 165's)
        if (
            not cancelled_before_resulting(observation, channel)
            and all(c.source != source for c in copies)
            and all(r.source != source for r in in_batch)  # as stored (review 241)
        ):
            gone = [
                g for g in copies_of(source, channel, observation, withdrawn, mine, feed=feed)
                if g.source != source
            ]  # fmt: skip
            # the sample's published result withdrawn over the other feed: a preliminary it
            # holds (never published), stored or planned in the batch, is nothing a change
            # here is meant for (review 226, D3)
            published = [g.status for g in gone] + [r.status for r in gone_in_batch]
            if any(was in EMITTED for was in published):
                shared, copies = True, [c for c in copies if c.status in EMITTED]
                in_batch = [r for r in in_batch if r.status in EMITTED]
            # a withdrawal over a preliminary, or after its key's result in its message,
            # has that to withdraw: never a duplicate (task 220)
            acts = pending or acts_in_message(message, index, duplicates)
            if not (acts and status in CANCELLING) and says_again(
                observation, said, copies, gone, in_batch, withdrawn_in_batch=gone_in_batch
            ):
                duplicates.add(index)
                continue
        if status == _FINAL or shared:
            others = frozenset(c.source for c in copies)
        else:
            others = holding_senders(source, channel, observation, standing, mine, feed=feed)
            if cancelled_before_resulting(observation, channel):  # as stored ones (review 241)
                in_batch = [
                    r for r in planned_sharing(
                        source, subject_id, observation, parts_of(observation), planned, feed=feed
                    ) if r.cancelled_at is None
                ]  # fmt: skip
        others |= {r.source for r in in_batch}
        if others:
            stands = any(c.status in EMITTED for c in copies) or any(
                r.status in EMITTED for r in in_batch
            )
            return copy_refusal(status, others, channel, published=stands, sender=source).at(index)
        refused = _withdrawn_refusal(
            message, index, said, gone=gone, gone_in_batch=gone_in_batch, left_out=duplicates
        )
        if refused is not None:
            return refused
    return frozenset(duplicates)


def _withdrawn_refusal(
    message: LabMessage,
    index: int,
    said: Said | None,
    *,
    gone: Sequence[StandingResult],
    gone_in_batch: Sequence[ResultRecord],
    left_out: Collection[int],
) -> Rejected | None:
    """A final result saying what the other feed's withdrawn one said (a late copy), or a
    correction of the other feed's withdrawn result (not after a result of its key its
    message stores: ``corrects_in_message``): refused; else None."""
    status = status_of(message.observations[index])
    late = withdrawn_saying(said, gone, gone_in_batch) if status == _FINAL else frozenset()
    if late:
        return withdrawn_copy(late).at(index)
    withdrawn_from = withdrawn_under(status, gone, gone_in_batch)
    if withdrawn_from and not corrects_in_message(message, index, left_out):
        return withdrawn_correction(withdrawn_from).at(index)
    return None


def withdrawn_under(
    status: str, gone: Iterable[StandingResult], in_batch: Iterable[ResultRecord]
) -> frozenset[str]:
    """The senders of the other feed's withdrawn final or corrected results of the sample
    (``gone``: stored; ``in_batch``: the batch's, withdrawn earlier in it) a correction
    finding nothing under its key would act on: refused, told the result was withdrawn
    (review 209: "send the final result first" led to a late copy). Not a withdrawal (a
    duplicate: ``says_again``), nor a final result (``withdrawn_saying``)."""
    if status != _CORRECTED:
        return frozenset()
    return frozenset(
        {g.source for g in gone if g.status in EMITTED}
        | {r.source for r in in_batch if r.status in EMITTED}
    )
