"""Which of a message's observations the trial keeps, and as what (pure: no I/O).

Result status (``result_status``): only a correction changes a final result (HL7 table 0085):
a final result never supersedes a final or corrected one, nor brings back one a cancellation
withdrew (``check_earlier_results``).
A trial result that cannot be used rejects the whole message; observations of analytes the
trial does not follow are ignored.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from services.lab_ingestion.domain.analytes import identify_analyte
from services.lab_ingestion.domain.model import (
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
    ResultStatusCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters, check_one_analyte, normalise
from services.lab_ingestion.domain.records import (
    Content,
    EarlierResult,
    WithdrawnVersion,
    result_content,
)
from services.lab_ingestion.domain.result_status import (
    CANCELLING,
    EMITTED,
    KNOWN_STATUSES,
    NEEDS_EARLIER_RESULT,
    status_of,
)
from services.lab_ingestion.domain.sample_times import check_times
from services.lab_ingestion.domain.shown import RESULT_STATUS, shown
from services.lab_ingestion.domain.withdrawn_chains import (
    cancels_withdrawn_chain,
    nothing_to_change,
    restates_withdrawn,
    withdrawn_contents,
    withdrawn_result,
)

PlannedResult = tuple[ObservationInput, NormalisedResult | None]  # None: a cancellation
_NEW = uuid.UUID(int=0)  # a result this message itself adds (its id is not known yet)


def plan_results(
    message: LabMessage, params: UnitParameters, received_at: datetime
) -> list[PlannedResult] | Rejected:
    """Each trial observation with its normalised value (None for a cancellation)."""
    planned: list[PlannedResult] = []
    for index, observation in enumerate(message.observations):
        if identify_analyte(observation.codes) is None:
            continue
        ambiguous = check_one_analyte(observation)  # a cancellation too: of which test?
        if ambiguous is not None:
            return ambiguous.at(index)
        status = status_of(observation)
        if status not in KNOWN_STATUSES:
            return Rejected(
                RejectionCode.UNKNOWN_STATUS,
                f"result status {shown(observation.status, RESULT_STATUS)} unknown",
            ).at(index)
        if status in CANCELLING:  # withdraws a stored result, whatever time it repeats
            planned.append((observation, None))
            continue
        implausible = check_times(observation, received_at)
        if implausible is not None:
            return implausible.at(index)
        normalised = normalise(observation, params)
        if isinstance(normalised, Rejected):
            return normalised.at(index)
        if normalised is not None:
            planned.append((observation, normalised))
    if not planned:
        return Rejected(
            RejectionCode.UNKNOWN_ANALYTE, "the message holds no result of a trial analyte"
        )
    return planned


def _analyte_of(observation: ObservationInput) -> str:
    identified = identify_analyte(observation.codes)
    assert identified is not None  # plan_results keeps trial analytes only
    return identified[0].value


def needs_earlier_result(message: LabMessage) -> bool:
    """A correction or cancellation names the result it replaces: it needs a lookup."""
    return any(status_of(o) in NEEDS_EARLIER_RESULT for o in message.observations)


def content_of(result: NormalisedResult, collected_at: datetime | None) -> Content:
    """What the trial uses of a result (its test, value and unit, reference range, abnormal
    flag and sample), as ``content_digest`` tells a resent message: a final result that says
    it again is a duplicate, one that says anything else is no restatement."""
    reference = (result.reference_low, result.reference_high)
    return result_content(
        result.loinc, result.value, result.unit, reference,
        abnormal_flag=result.abnormal_flag, collected_at=collected_at,
    )  # fmt: skip


def check_repeated_version(
    message: LabMessage, heads: Mapping[tuple[str, str], EarlierResult], params: UnitParameters
) -> Rejected | None:
    """Why a stored FHIR version, sent again, cannot be answered as a resend: its chain
    holds something else now. A FHIR version's id is made of its content (its ``issued``
    time too), so it is then a late resend of an older version or a new version that says
    again what an older one said (a value corrected back, a result posted again after its
    cancellation, under the same ``issued`` time or none);
    dropped as a duplicate, the second would leave the old value standing while the lab is
    told it was stored. None: it says what its chains hold (or it is no FHIR version)."""
    if message.control_id_basis is None or all(
        _chain_holds(o, heads.get((message.source, o.result_key)), params)
        for o in message.observations
    ):
        return None
    return Rejected(
        RejectionCode.AMBIGUOUS_VERSION,
        "this version of the Observation was stored before and its result has changed since: "
        "a late resend of an older version is not applied again; a new version needs an "
        "issued time of its own",
    )


def _chain_holds(
    observation: ObservationInput, head: EarlierResult | None, params: UnitParameters
) -> bool:
    """Whether the chain of ``observation``'s key holds what it says (a cancellation: no
    standing result; a final or corrected result: the head's content, when it is known)."""
    status = status_of(observation)
    if identify_analyte(observation.codes) is None or status not in EMITTED | CANCELLING:
        return True  # nothing a consumer holds
    if status in CANCELLING:
        return head is None
    normalised = normalise(observation, params)
    if head is None or not isinstance(normalised, NormalisedResult):
        return False
    return head.content is None or head.content == content_of(normalised, observation.collected_at)


def check_earlier_results(
    message: LabMessage,
    planned: list[PlannedResult],
    subject_id: str,
    heads: Mapping[tuple[str, str], EarlierResult],
    preliminaries: Mapping[tuple[str, str], EarlierResult] | None = None,
    *,
    contents: Mapping[tuple[str, str], Content] | None = None,
    withdrawn: Mapping[tuple[str, str], frozenset[WithdrawnVersion]] | None = None,
) -> list[PlannedResult] | Rejected:
    """The message's results to record, or why the message is rejected.

    A correction or cancellation needs the result it acts on, and that result must be the
    same patient's: a result key that holds another patient's result (a wrong-patient fix,
    or two orders sharing a number) is never superseded or withdrawn across patients. Nor
    across analytes: an ALT value never supersedes a CRP result, nor does a cancellation
    sent as ALT withdraw it (a key holds one test; HL7 keys name it, JSON ones need not).

    A final result never replaces a final or corrected one (HL7 table 0085: only a
    correction changes it, PROTOCOL section 3): under a key that holds one, a final result
    saying what it says (``contents``: the heads' contents where known) or what an earlier
    version of the chain said (``EarlierResult.superseded``: a delayed copy of the original)
    is a duplicate, left out of the results returned (nothing stored, nothing emitted), and
    any other (or one under a head whose content is not known) rejects the message. A final
    result after a preliminary one alone is a new final result.

    A patient's withdrawn chain (``withdrawn``: each key's cancelled versions, as stored or
    as this batch left them) stays withdrawn: with nothing standing under the key, a final
    result restating one of its versions is a late copy that rejects the message, and its
    cancellation sent again is a duplicate, left out. Another value, another patient's result
    (a wrong-patient fix), or a final result after a cancellation in its message starts a
    new chain.

    ``heads`` holds each key's current result, as stored or as this batch left it; the
    message's own observations are taken in order (an F then its C in one message). A key
    that holds only a preliminary result (``preliminaries``) can be cancelled, not corrected.
    """
    own: dict[tuple[str, str], EarlierResult | None] = {}
    # what each key's head says (None: not known), as this message's results leave it
    said: dict[tuple[str, str], Content | None] = dict(contents or {})
    kept: list[PlannedResult] = []
    for observation, normalised in planned:
        key = (message.source, observation.result_key)
        head = own[key] if key in own else heads.get(key)
        status = status_of(observation)
        if head is None and status in CANCELLING and key not in own:
            head = (preliminaries or {}).get(key)
        analyte = _analyte_of(observation)
        gone = withdrawn_contents((withdrawn or {}).get(key, frozenset()), subject_id, analyte)
        if cancels_withdrawn_chain(status, head, subject_id, gone):
            # the patient's chain was withdrawn before: a resend that changes nothing, after
            # which (nothing standing) a final result in this message starts a new chain
            own[key] = head
            continue
        other_chain = _another_chain(head, subject_id, analyte)
        if other_chain is not None:
            return other_chain.at(_position(message, observation))
        content = None if normalised is None else content_of(normalised, observation.collected_at)
        if _restates_superseded(head, status, content, within_message=key in own):
            continue  # a delayed copy of a version its correction replaced: nothing changes
        # a late copy of a withdrawn version, under no chain or under the new one the
        # patient has since (saying what the standing result says is a plain duplicate)
        late = key not in own and (head is None or content != said.get(key))
        if late and restates_withdrawn(message, status, content, gone):
            return withdrawn_result().at(_position(message, observation))
        if _another_sample(head, status, observation.collected_at):
            return Rejected(
                RejectionCode.OTHER_SAMPLES_RESULT,
                "the order and test of this final result hold a result collected at another "
                "time: a new sample needs an order number of its own (a wrong collection time "
                "is corrected with status C)",
            ).at(_position(message, observation))
        if head is None and status in NEEDS_EARLIER_RESULT:
            return nothing_to_change(status, gone).at(_position(message, observation))
        if head is not None and status == ResultStatusCode.FINAL.value:
            if said.get(key) != content:
                changed = _changed_final(within_message=key in own)
                return changed.at(_position(message, observation))
            continue  # a duplicate of the standing result
        if status in EMITTED:
            earlier = head.result_id if head else _NEW
            own[key] = EarlierResult(earlier, subject_id, analyte, observation.collected_at)
            said[key] = content
        elif status in CANCELLING:
            own[key] = None
        kept.append((observation, normalised))
    return kept


def _another_chain(head: EarlierResult | None, subject_id: str, analyte: str) -> Rejected | None:
    """Why a result cannot continue the chain ``head`` heads: another patient's, or another
    test's (None: it can, or there is none)."""
    if head is not None and head.subject_id != subject_id:
        return Rejected(
            RejectionCode.OTHER_PATIENTS_RESULT,
            "the order and test of this result hold another patient's result: correct or "
            "cancel it for that patient, then send this one under a new order number",
        )
    if head is not None and head.analyte != analyte:
        return Rejected(
            RejectionCode.OTHER_ANALYTES_RESULT,
            f"the result under this key is {head.analyte}, not {analyte}: a correction or "
            "cancellation must name the same test, and a new test needs a key of its own",
        )
    return None


def _position(message: LabMessage, observation: ObservationInput) -> int | None:
    """Where ``observation`` (one of ``message``'s, not a copy) stands in the message."""
    return next((i for i, o in enumerate(message.observations) if o is observation), None)


def _restates_superseded(
    head: EarlierResult | None, status: str, content: Content | None, *, within_message: bool
) -> bool:
    """A final result saying what an earlier version of its chain said, one a correction
    has since replaced: a delayed copy of the original (resent under a new message id),
    not news. It changes nothing (the correction stands) and is answered as a duplicate;
    rejecting it would ask the lab for a correction that could undo the standing one. Within
    one message, results under one key that disagree still reject it."""
    return (
        head is not None and not within_message and status == ResultStatusCode.FINAL.value
        and content is not None and content in head.superseded
    )  # fmt: skip


def _changed_final(*, within_message: bool) -> Rejected:
    """A final result under a key whose final or corrected result it does not restate (the
    instruction first: MSA-3 shows 80 characters)."""
    if within_message:
        reason = (
            "results under one order and test disagree in this message: give each a sub-id "
            "(OBX-4) of its own, or send a changed result as a correction (OBX-11 C; status "
            "corrected)"
        )
    else:
        reason = (
            "send a changed final result as a correction (OBX-11 C; status corrected): this "
            "order and test already hold a final or corrected result, which only a correction "
            "changes (a new result needs an order number of its own)"
        )
    return Rejected(RejectionCode.OTHER_SAMPLES_RESULT, reason)


def _another_sample(head: EarlierResult | None, status: str, collected_at: datetime | None) -> bool:
    """A final result restating the head of its key is of the same sample: under an order
    number that already holds another collection's result, it would supersede (and so hide)
    that earlier sample's value."""
    return (
        head is not None and status == ResultStatusCode.FINAL.value
        and head.collected_at is not None and collected_at is not None
        and head.collected_at != collected_at
    )  # fmt: skip
