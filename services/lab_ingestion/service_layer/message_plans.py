"""Plan one message of a batch: its results read in the sender's zone and checked against
the chains they continue, before the batch records them."""

from __future__ import annotations

from datetime import datetime

from services.lab_ingestion.domain.copies_elsewhere import said_by
from services.lab_ingestion.domain.copy_outcomes import held_elsewhere
from services.lab_ingestion.domain.fhir_cancellations import observation_parts
from services.lab_ingestion.domain.json_codes import held_result, ids_held_checked
from services.lab_ingestion.domain.legacy_keys import on_legacy_keys
from services.lab_ingestion.domain.model import LabMessage, Rejected, ResultStatusCode, StaleBatch
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import check_earlier_results, plan_results
from services.lab_ingestion.domain.replayed_chains import FirstArrival
from services.lab_ingestion.domain.result_status import status_of
from services.lab_ingestion.domain.unobtained import as_not_obtained, not_obtained_count
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.recording import PlannedMessage, head_contents
from services.lab_ingestion.service_layer.subjects import in_sender_time


def plan_message(
    context: BatchContext,
    message: LabMessage,
    subject_id: str,
    received_at: datetime,
    bundle: tuple[LabMessage, ...],
    *,
    params: UnitParameters,
) -> PlannedMessage | Rejected:
    """The message's results to record, read in the sender's zone and checked against
    the chains they continue, and whether any it leaves out says again what its chain
    holds (none left: a resend, unless it held only results that cannot be obtained,
    ``obtains_nothing``); or why they cannot be used."""
    message = on_legacy_keys(
        message, context.unused, lambda key: context.analytes_held(key, subject_id)
    )
    sited = in_sender_time(context, message, received_at)
    if isinstance(sited, Rejected):
        return sited
    # results that change nothing read as X (left out); on assumptions their keys are
    # taken to be unused, and the write checks that (``BatchAssumptions``)
    sited, unused = as_not_obtained(sited, context.never_held, bundle)
    context.assumed_unused.extend(unused if context.assumed else ())
    # a JSON result of another test is refused where its result_id holds a trial result
    # (``json_codes``): on assumptions its result_id is taken to hold nothing, and the write
    # checks that (whether the message is refused or not: the reason may be that one)
    if context.assumed:
        context.assumed_unused.extend((sited.source, key) for key in ids_held_checked(sited))
    # what the result keys hold (as read: a correction or cancellation is read first),
    # which a JSON one under a wrong code would leave standing (``json_codes``)
    planned = plan_results(
        sited, params, received_at,
        lambda key: held_result(
            (sited.source, key), subject_id, context.latest, context.preliminary
        ),
        subject_id=subject_id,
    )  # fmt: skip
    if isinstance(planned, Rejected):
        return planned
    # a result finding no final result under its own key, while the patient's result of its
    # sample sharing its identifier stands over the lab's other feed (HL7 or FHIR): refused,
    # never stored as a second copy nor left out; one saying what that result says is a
    # duplicate, left out; a final saying what a withdrawn one said is refused
    # (``copies_elsewhere``, ``copy_outcomes``). On assumptions only the batch's own
    # results are known, and the write checks the stored ones
    said = {id(o): said_by(n.value, n.unit, n.comparator) for o, n in planned if n is not None}
    feeds = {m.message_id: (m.channel, m.feed_of) for m in context.messages}
    elsewhere = held_elsewhere(
        sited, subject_id, context.stored_elsewhere,
        lambda key, status: context.unheld(key, status, subject_id),
        planned=[(r, *feeds.get(r.message_id, (None, None))) for r in context.results],
        parts_of=lambda o: observation_parts(o, sited.channel),
        said_of=lambda o: said.get(id(o)), preliminary=context.holds_preliminary,
        withdrawn_ids=frozenset(w.result_id for w in context.cancellations),
        withdrew_preliminary=lambda key, status: context.withdrew_preliminary(
            key, status, subject_id
        ),
    )  # fmt: skip
    if elsewhere and context.assumed:
        raise StaleBatch("a result must be read before it is refused as held elsewhere")
    if isinstance(elsewhere, Rejected):
        return elsewhere
    left_out = [sited.observations[i] for i in elsewhere]
    copies = {id(o) for o in left_out}
    # a correction or withdrawal left out so never reaches its own (empty) key's chain,
    # which would refuse it as changing nothing (review 192)
    changes = {id(o) for o in left_out if status_of(o) != ResultStatusCode.FINAL}
    # a replay's message is applied as of when it first arrived (``replayed_chains``)
    replayed = None if context.changed_at is None else FirstArrival(received_at, context.changed_at)
    checked = check_earlier_results(
        sited, [p for p in planned if id(p[0]) not in changes], subject_id, context.latest,
        context.preliminary, contents=head_contents(context, sited),
        withdrawn=context.withdrawn_versions, replayed=replayed, copies=elsewhere,
    )  # fmt: skip
    # on assumptions, read first before rejecting, or before answering a message as a
    # restatement (only its id is written, and the write's guard checks result keys)
    # (the keys of results read as X are checked by the guard: they are left out)
    if context.assumed and (
        isinstance(checked, Rejected) or len(checked) < len(planned) - len(unused)
    ):
        raise StaleBatch("a result key's chain must be read before rejecting or dropping")
    if isinstance(checked, Rejected):
        return checked
    held = sum(1 for o, _ in checked if id(o) in copies) + len(changes)
    checked = [(o, n) for o, n in checked if id(o) not in copies]
    kept = {id(o) for o, _ in checked}
    unobtained = [
        o for o, _ in planned
        if id(o) not in kept and id(o) not in copies
        and status_of(o) == ResultStatusCode.CANNOT_OBTAIN
        and context.never_held((sited.source, o.result_key))
    ]  # fmt: skip
    restated = len(planned) - len(checked) > len(unobtained)
    recorded = [o for o, _ in checked]
    counted = not_obtained_count([o for o, _ in planned], recorded, unobtained)
    return PlannedMessage(sited, checked, restated, counted, held)
