"""A withdrawn result stays withdrawn (pure: no I/O): a result key's versions that a
cancellation (X, D or W) withdrew, each patient's, are not brought back by a late copy, and
their cancellation sent again changes nothing (``planning.check_earlier_results``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from services.lab_ingestion.domain.model import (
    LabMessage,
    Rejected,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.records import Content, EarlierResult, WithdrawnVersion
from services.lab_ingestion.domain.result_status import CANCELLING, EMITTED, status_of

SourceKey = tuple[str, str]


def withdrawn_contents(
    versions: frozenset[WithdrawnVersion], subject_id: str, analyte: str
) -> frozenset[Content | None]:
    """What the patient's withdrawn versions of ``analyte`` under a key said (None: a
    preliminary one); empty: the patient never held such a result there."""
    return frozenset(
        v.content for v in versions if v.subject_id == subject_id and v.analyte == analyte
    )


def finds_no_chain(
    key: SourceKey,
    status: str,
    subject_id: str,
    heads: Mapping[SourceKey, EarlierResult],
    withdrawn: Mapping[SourceKey, frozenset[WithdrawnVersion]],
) -> bool:
    """Whether a result of ``status`` for ``subject_id`` under ``key`` finds no chain there
    the chain checks answer for (``check_earlier_results``), so that the lab's other feed's
    result of its sample is looked at (``copy_outcomes.held_elsewhere``): no standing final
    or corrected result (``heads``: anyone's; another patient's is refused
    result-of-another-patient there, as a final is) and, for a correction or withdrawal,
    none of the patient's own withdrawn final or corrected versions (a change of those is told so, a
    withdrawal of them is their resend). Another patient's withdrawn versions are nothing
    the patient's change could act on (review 219: B's withdrawn result under a shared order
    left A's HL7 W "cancellation of nothing stored" while A's FHIR final stood, and A's
    correction "send the final result first"). Nor is the patient's own withdrawn
    preliminary (never published: review 226, D5: HL7 P 12 then W, then the FHIR final 12,
    and an HL7 W was a "duplicate" while the FHIR 12 stood), only a final or corrected one:
    the copy rule answers for that preliminary's chain only where the other feed published
    something of the sample (``withdrew_preliminary``; review 233).
    A final result is compared whatever was withdrawn there (review 209). So is a
    withdrawal of the patient's withdrawn preliminary under another patient's head
    (``resends_beside``): the other feed decides whether it is a resend (review 245)."""
    if key in heads:
        return resends_beside(heads[key], status, subject_id, withdrawn.get(key, frozenset()))
    if status == ResultStatusCode.FINAL.value:
        return True
    return not any(
        v.subject_id == subject_id and v.content is not None for v in withdrawn.get(key, ())
    )


def resends_beside(
    head: EarlierResult, status: str, subject_id: str, withdrawn: frozenset[WithdrawnVersion]
) -> bool:
    """Whether a withdrawal for ``subject_id`` under a key another patient's result heads
    (``head``: a wrong-patient fix) finds there, of the patient's withdrawn versions
    (``withdrawn``, the key's), only preliminary ones: their chain, withdrawn, whose resend
    it is unless the lab's other feed published the patient's result of the sample
    (``copy_outcomes.held_elsewhere``, ``withdrew_preliminary``). Review 244: after A's P 12
    and W, A's FHIR final 12 and B's HL7 F 30 under the shared order, A's HL7 W was a
    "duplicate" while A's FHIR 12 stood (now refused naming the FHIR sender); review 245:
    without A's FHIR 12 it was refused result-of-another-patient, telling the lab to correct
    B's result, where it is a duplicate, as without B's. A correction there is the chain
    checks' (another patient's result), as with nothing of the patient's withdrawn."""
    if status not in CANCELLING or head.subject_id == subject_id:
        return False
    own = [v for v in withdrawn if v.subject_id == subject_id]
    return bool(own) and all(v.content is None for v in own)


def withdrawn_beside(
    messages: Iterable[LabMessage],
    heads: Mapping[SourceKey, EarlierResult],
    withdrawn: Mapping[SourceKey, frozenset[WithdrawnVersion]],
) -> frozenset[SourceKey]:
    """The keys, headed by a patient's result when the batch was read (``heads``), where a
    withdrawal of the batch may find only another patient's withdrawn preliminaries
    (``resends_beside``, whoever its patient is: it is not matched yet), so that the other
    feed's results of its sample are read for them too (review 245)."""
    return frozenset(
        key
        for message in messages
        for observation in message.observations
        if status_of(observation) in CANCELLING
        and (key := (message.source, observation.result_key)) in heads
        and any(
            resends_beside(heads[key], status_of(observation), v.subject_id, withdrawn[key])
            for v in withdrawn.get(key, ())
        )
    )


def withdrew_preliminary(
    key: SourceKey,
    status: str,
    subject_id: str,
    withdrawn: Mapping[SourceKey, frozenset[WithdrawnVersion]],
) -> bool:
    """Whether a correction or withdrawal for ``subject_id`` under ``key`` finds there, of
    the patient's withdrawn versions, only preliminary ones (``finds_no_chain`` is True for
    it): their chain, withdrawn, that it acts on (a withdrawal of it is its resend, a
    correction is told it was withdrawn) unless the lab's other feed holds a standing final
    or corrected result of the sample (``copy_outcomes.held_elsewhere``; review 226, D5).
    The other feed's preliminary never makes it a copy there (review 233, D-A: HL7 P 12 and
    W, the FHIR preliminary 12, then the W again was refused naming the FHIR sender)."""
    if status == ResultStatusCode.FINAL.value:
        return False
    own = [v for v in withdrawn.get(key, ()) if v.subject_id == subject_id]
    return bool(own) and all(v.content is None for v in own)


def freed_in_batch(
    messages: Iterable[LabMessage], heads: Collection[SourceKey]
) -> frozenset[SourceKey]:
    """The keys holding a chain when the batch was read (``heads``: a standing final or
    corrected result, anyone's) that a result of the batch may find freed: the batch
    withdraws there, and holds another result under the key. ``finds_no_chain`` was False
    for them at the read, and may be True when that result is planned (review 226: another
    patient's head withdrawn earlier in the batch, then the patient's result under the
    shared order was never compared with the lab's other feed), so the other feed's results
    are read for them too. None for a batch withdrawing nothing, or withdrawing alone."""
    seen: dict[SourceKey, int] = {}
    withdrawing: set[SourceKey] = set()
    for message in messages:
        for observation in message.observations:
            key = (message.source, observation.result_key)
            if key in heads:
                seen[key] = seen.get(key, 0) + 1
                if status_of(observation) in CANCELLING:
                    withdrawing.add(key)
    return frozenset(key for key in withdrawing if seen[key] > 1)


def cancels_withdrawn_chain(
    status: str, head: EarlierResult | None, subject_id: str, gone: frozenset[Content | None]
) -> bool:
    """A cancellation where the patient's chain was withdrawn before (``gone``) and nothing
    of theirs stands under the key (``head``: none, or another patient's, a wrong-patient
    fix): a resend under a new message id, a duplicate that changes nothing. Where that
    chain held only a preliminary and the lab's other feed published the patient's result of
    the sample, the copy rule refuses it first (``resends_beside``, ``copy_outcomes``;
    review 244), and a resend beside nothing there is a duplicate (review 245)."""
    return (
        status in CANCELLING and bool(gone)
        and (head is None or head.subject_id != subject_id)
    )  # fmt: skip


def restates_withdrawn(
    message: LabMessage, status: str, content: Content | None, gone: frozenset[Content | None]
) -> bool:
    """A final or corrected result under a message id of the sender's (HL7 MSH-10, JSON
    ``message_id``) saying what a withdrawn version said: an interface engine's late copy
    (of the original, or of a correction the cancellation withdrew too), which would make
    the withdrawn value (perhaps another patient's, posted as wrong) stand again. A FHIR
    version's id is made of its content (``issued`` too): a new one is posted again on
    purpose, and a late copy is known as stored (``planning.check_repeated_version``)."""
    return (
        message.control_id_basis is None and status in EMITTED
        and content is not None and content in gone
    )  # fmt: skip


def withdrawn_result() -> Rejected:
    """A late copy of a withdrawn result (the instruction first: MSA-3 shows 80 characters)."""
    return Rejected(
        RejectionCode.AMBIGUOUS_VERSION,
        "this result was withdrawn: a new result needs an order number of its own (this order "
        "and test held the same result, since cancelled; a late copy of it is not stored or "
        "published again, nor taken as a correction of a result standing there now)",
    )


# review 133: labs followed "send the final result first" for a correction whose original was
# stored under another filler number or OBX-4 sub-id, leaving two final results of one sample
CORRECTED_UNDER_ITS_KEY = (
    "a correction goes under the order number and sub-id (OBX-4) of the result it corrects,"
    " never as a new final result under others: that would leave two results of one sample"
)


# a cancellation (X, D, W) finding nothing of the patient's, none ever withdrawn: "send the
# final result first" cannot be followed for a test never resulted (review 157)
NOTHING_TO_WITHDRAW = (
    "cancellation of nothing stored under this order and test: withdraw a result under the "
    "order and test it was stored under (a test never resulted is sent with status X, "
    "without a value)"
)


def nothing_to_change(status: str, gone: frozenset[Content | None]) -> Rejected:
    """A correction or cancellation with no result of the patient standing under its key:
    none was ever stored (a cancellation is told where to withdraw, and how a test never
    resulted is sent), or (a correction) the one stored was withdrawn."""
    action = "cancellation" if status in CANCELLING else "correction"
    if gone:
        reason = (
            f"{action} of a withdrawn result: a new result needs an order number of its own "
            "(this order and test held a result, since cancelled, which nothing brings back)"
        )
    elif action == "cancellation":  # review 157: no final result comes for a test not done
        reason = NOTHING_TO_WITHDRAW
    else:
        reason = (
            f"{action} of a result that is not stored (no final result under this order and "
            "test): send the final result first"
        )
        if action == "correction":  # the lab's first report may have had no value
            reason += (
                " (a count first reported without a value, e.g. CLUMPED, is sent as final;"
                f" {CORRECTED_UNDER_ITS_KEY})"
            )
    return Rejected(RejectionCode.UNKNOWN_CORRECTED_RESULT, reason)
