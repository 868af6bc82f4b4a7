"""Which of a message's observations the trial keeps, and as what (pure: no I/O).

Result status (``result_status``): only a correction changes a final result (HL7 table 0085):
a final result never supersedes a final or corrected one, nor brings back one a cancellation
withdrew (``chain_checks.check_earlier_results``).
A trial result that cannot be used rejects the whole message; observations of analytes the
trial does not follow are ignored, as are those whose status says they hold no result
(``result_status.NO_RESULT``: pending, order detail only, not asked). An HL7 result whose only
trial code is a trial analyte's LOINC code under another system's name (``99LAB``) is no
other test's: it is a trial result that cannot be used (``_trial_code_misfiled``); nor is a
result of any channel named as a trial analyte (``CRP``) under a code the trial does not list
(``analyte_names``: review 155), nor a JSON result whose ``loinc`` is no LOINC code as written,
nor a JSON correction or withdrawal of the patient's stored trial result under a code of no
trial analyte (``json_codes``: review 197).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODES,
    LOINC_OID,
    SAME_TEST_CODES,
    identify_analyte,
    trial_code_elsewhere,
    trial_coding_elsewhere,
)
from services.lab_ingestion.domain.analyte_names import unlisted_refusal
from services.lab_ingestion.domain.chain_checks import PlannedResult, check_earlier_results
from services.lab_ingestion.domain.chain_contents import content_of, obtains_nothing
from services.lab_ingestion.domain.json_codes import misfiled_change, unreadable_loinc
from services.lab_ingestion.domain.legacy_keys import may_take_legacy_key
from services.lab_ingestion.domain.local_codes import coded_locally
from services.lab_ingestion.domain.model import (
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters, check_one_analyte, normalise
from services.lab_ingestion.domain.order_status import cancelled_order_refusal, order_contradicts
from services.lab_ingestion.domain.records import (
    EarlierResult,
)
from services.lab_ingestion.domain.result_status import (
    CANCELLING,
    EMITTED,
    FINAL_WITHOUT_VALUES,
    KNOWN_STATUSES,
    NEEDS_EARLIER_RESULT,
    carries_a_result,
    status_of,
)
from services.lab_ingestion.domain.sample_times import check_times, report_before_sample
from services.lab_ingestion.domain.shown import CODING_SYSTEM, RESULT_STATUS, shown
from shared.contracts.events.lab import Channel

_HL7 = frozenset({Channel.MLLP, Channel.HL7_HTTP})

__all__ = [
    "PlannedResult",
    "check_earlier_results",
    "check_repeated_version",
    "content_of",
    "needs_earlier_result",
    "obtains_nothing",
    "plan_results",
]


def plan_results(
    message: LabMessage,
    params: UnitParameters,
    received_at: datetime,
    held: Callable[[str], EarlierResult | None] = lambda key: None,
    *,
    subject_id: str = "",
) -> list[PlannedResult] | Rejected:
    """Each trial observation with its normalised value (None for a cancellation).
    ``held``: the trial result a result key holds (as read: a correction or cancellation is
    always read first), which a JSON one of the patient ``subject_id`` under a wrong code
    would leave standing (``json_codes.held_result``)."""
    planned: list[PlannedResult] = []
    for index, observation in enumerate(message.observations):
        if identify_analyte(observation.codes) is None or not carries_a_result(observation):
            misfiled = (
                _trial_code_misfiled(message, observation)
                or unlisted_refusal(observation, message.channel)
                or _json_code_refused(message, index, held, subject_id)
            )
            if misfiled is not None:  # a trial result that cannot be read: refused
                return misfiled.at(index)
            continue  # another test's, or no result (pending, not asked): left out
        # a cancellation too: of which test? of which stored result?
        ambiguous = check_one_analyte(observation) or _conflicting_keys(observation)
        if ambiguous is not None:
            return ambiguous.at(index)
        status = status_of(observation)
        refused = _status_refused(observation, status)
        if refused is not None:
            return refused.at(index)
        if status in CANCELLING:  # withdraws a stored result, whatever time it repeats
            planned.append((observation, None))
            continue
        implausible = check_times(observation, received_at) or report_before_sample(
            observation, received_at
        )
        normalised = implausible or normalise(observation, params)
        if isinstance(normalised, Rejected):
            return normalised.at(index)
        if normalised is not None:
            planned.append((observation, normalised))
    if not planned:
        return _no_trial_result(message)
    return planned


def _trial_code_misfiled(message: LabMessage, observation: ObservationInput) -> Rejected | None:
    """Why an HL7 result whose only trial code is a trial analyte's LOINC code under a coding
    system that is not LOINC's (``99LAB``, ``LOINC-2.7``: ``trial_coding_elsewhere``), and
    no mapping of the sender's names the test, cannot be used: it may well be the trial's
    (a lost CRP of 85 was answered AA), and is refused as FHIR refuses one (twenty-third
    session).
    Only the LOINC code (of the protocol's tables) is quoted, the system as ``shown``
    quotes one. Looked for only where no coding names a trial analyte, and the result
    holds one (as over FHIR: a cancellation or a preliminary result too)."""
    if message.channel not in _HL7 or not carries_a_result(observation):
        return None
    coding = trial_coding_elsewhere(observation.codes)
    if coding is None:
        return None
    code = coding.code.strip()
    analyte = LOINC_CODES.get(code) or SAME_TEST_CODES.get(code)
    named = f" ({analyte.value})" if analyte is not None else ""
    return Rejected(
        RejectionCode.UNKNOWN_ANALYTE,
        f"LOINC code {code!r}{named} under coding system "
        f"{shown((coding.system or '').strip(), CODING_SYSTEM)} is not read: OBX-3 is read as "
        f"LOINC under LN, LOINC, LNC (check digit right) or {LOINC_OID} only, and which "
        "test was meant cannot be told",
    )


def _json_code_refused(
    message: LabMessage,
    index: int,
    held: Callable[[str], EarlierResult | None],
    subject_id: str,
) -> Rejected | None:
    """Why the JSON result ``results[index]`` is not left out as another test's
    (``json_codes``, review 197): a correction or withdrawal whose ``result_id`` holds a
    trial result (the patient's, or another's: review 205), whatever its ``loinc`` says; a
    ``loinc`` that is no LOINC code as written."""
    observation = message.observations[index]
    if message.channel is not Channel.JSON or not observation.codes:
        return None
    code = observation.codes[0].code.strip()
    held_there = held(observation.result_key)
    changed = misfiled_change(status_of(observation), held_there, subject_id, index)
    return changed or unreadable_loinc(code, index)


def _conflicting_keys(observation: ObservationInput) -> Rejected | None:
    """Why the result's identifiers cannot tell which stored result it is a version of."""
    if observation.key_conflict is None:
        return None
    return Rejected(RejectionCode.CONFLICTING_IDENTIFIERS, f"result: {observation.key_conflict}")


def _no_trial_result(message: LabMessage) -> Rejected:
    """Why nothing of the message is the trial's: and, when an HL7 result is coded with
    the laboratory's own codes alone, how such a code is read (only HL7's are mapped; the
    codes themselves are in the kept copy, never in the reason: a sender's free text may be
    anything). An HL7 order cancelled as a whole with nothing under it is refused for what
    it is (``order_status``): the lab would take "no trial result" for of no interest."""
    cancelled = cancelled_order_refusal(message)
    if cancelled is not None:
        return cancelled
    reason = "the message holds no result of a trial analyte"
    hl7 = message.channel in _HL7
    if hl7 and any(carries_a_result(o) and coded_locally(o.codes) for o in message.observations):
        reason += (
            "; a result coded with the laboratory's own code alone is read once its sender's "
            "code is mapped to LOINC (cachexia source code add)"
        )
    if message.channel is Channel.FHIR and any(
        trial_code_elsewhere(o.codes) for o in message.observations
    ):
        reason += (
            "; a trial analyte's LOINC code is read under LOINC's coding system "
            "(http://loinc.org) only: which system was meant cannot be told"
        )
    return Rejected(RejectionCode.UNKNOWN_ANALYTE, reason)


def _status_refused(observation: ObservationInput, status: str) -> Rejected | None:
    """Why a result's status (as read: ``status``) is not applied: none the platform
    applies, or one holding a value under an order cancelled (OBR-25 X over OBX-11 F)."""
    if status not in KNOWN_STATUSES:
        return _status_not_applied(observation)
    return order_contradicts(observation, status)


def _status_not_applied(observation: ObservationInput) -> Rejected:
    """Why a result's status is none the platform applies (the instruction first: MSA-3
    shows 80 characters)."""
    if status_of(observation) == FINAL_WITHOUT_VALUES:
        reason = (
            "send the result again as final (OBX-11 F) with its values: result status 'U' "
            "(made final without sending the values again) is not applied"
        )
    else:
        reason = f"result status {shown(observation.status, RESULT_STATUS)} unknown"
    return Rejected(RejectionCode.UNKNOWN_STATUS, reason)


def needs_earlier_result(message: LabMessage) -> bool:
    """A correction or cancellation names the result it replaces: it needs a lookup; so does
    a result whose key changed in 7a953a8 (``legacy_keys``: stored under its old key?), and a
    FHIR result of several identifiers, or of an order number (``result_identifiers``)."""
    return any(
        status_of(o) in NEEDS_EARLIER_RESULT
        or may_take_legacy_key(o)
        or bool(o.other_keys or o.keys_before)  # which stored result do they name?
        for o in message.observations
    )


def check_repeated_version(
    message: LabMessage,
    heads: Mapping[tuple[str, str], EarlierResult],
    params: UnitParameters,
    subject_id: str | None = None,
) -> Rejected | None:
    """Why a stored FHIR version, sent again, cannot be answered as a resend: its chain
    holds something else now. A FHIR version's id is made of its content (its ``issued``
    time too), so it is then a late resend of an older version or a new version that says
    again what an older one said (a value corrected back, a result posted again after its
    cancellation, under the same ``issued`` time or none);
    dropped as a duplicate, the second would leave the old value standing while the lab is
    told it was stored. None: it says what its chains hold (or it is no FHIR version).
    ``subject_id``: whose the message is, when known (another patient's result standing
    under a key, a wrong-patient fix, is no result of theirs)."""
    if message.control_id_basis is None or all(
        _chain_holds(o, _patients(heads.get((message.source, o.result_key)), subject_id), params)
        for o in message.observations
    ):
        return None
    return Rejected(
        RejectionCode.AMBIGUOUS_VERSION,
        "this version of the Observation was stored before and its result has changed since: "
        "a late resend of an older version is not applied again; a new version needs an "
        "issued time of its own",
    )


def _patients(head: EarlierResult | None, subject_id: str | None) -> EarlierResult | None:
    """``head`` when it is the patient's result (or whose the message is is not known)."""
    if head is None or subject_id is None or head.subject_id == subject_id:
        return head
    return None


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
