"""Whether a message's results may continue the chains their keys hold (pure: no I/O).

A result key (source, order and test) holds a chain: a final result, the corrections that
replaced it, and a cancellation that withdrew them all. ``check_earlier_results`` tells which
of a message's planned results change a chain, which say again what it holds (duplicates,
left out), and which cannot be applied (the message is rejected whole).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from services.lab_ingestion.domain.chain_contents import SourceKey
from services.lab_ingestion.domain.message_chains import MessageChains
from services.lab_ingestion.domain.model import (
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
)
from services.lab_ingestion.domain.records import (
    Content,
    EarlierResult,
    PatientKey,
    WithdrawnVersion,
)
from services.lab_ingestion.domain.replayed_chains import FirstArrival, changed_since_kept
from services.lab_ingestion.domain.result_status import status_of

PlannedResult = tuple[ObservationInput, NormalisedResult | None]  # None: a cancellation


def check_earlier_results(
    message: LabMessage,
    planned: list[PlannedResult],
    subject_id: str,
    heads: Mapping[SourceKey, EarlierResult],
    preliminaries: Mapping[PatientKey, EarlierResult] | None = None,
    *,
    contents: Mapping[SourceKey, Content] | None = None,
    withdrawn: Mapping[SourceKey, frozenset[WithdrawnVersion]] | None = None,
    replayed: FirstArrival | None = None,
    copies: Collection[int] = frozenset(),
) -> list[PlannedResult] | Rejected:
    """The message's results to record, or why the message is rejected.

    A correction or cancellation needs the result it acts on, and that result must be the
    same patient's: a result key that holds another patient's result (a wrong-patient fix,
    or two orders sharing a number) is never superseded or withdrawn across patients, and
    a final or corrected result under a key holding no chain but another patient's
    preliminary result is refused alike (review 201: ``others_preliminary``). Nor
    across analytes: an ALT value never supersedes a CRP result, nor does a cancellation
    sent as ALT withdraw it (a key holds one test; HL7 keys name it, JSON ones need not).

    A final result never replaces a final or corrected one (HL7 table 0085: only a
    correction changes it, PROTOCOL section 3): under a key that holds one, a final result
    saying what it says (``contents``: the heads' contents where known) or what an earlier
    version of the chain said (``EarlierResult.superseded``: a delayed copy of the original)
    is a duplicate, left out of the results returned (nothing stored, nothing emitted), and
    any other (or one under a head whose content is not known) rejects the message. A final
    result after a preliminary one alone is a new final result.

    A correction of another message restating its chain (HL7 and JSON: a FHIR version's copy
    is known by its id) is told by report times (``correction_resends``): one restating the
    standing result is a duplicate when both were reported, and it not later (else stored,
    as a correction always was); one restating a version replaced since is a late copy (a
    duplicate) when reported when that version was or not after the standing result, a
    correction back to it when reported after, and rejects the message when report times
    cannot tell. Within one message, results under one key are taken in order as before.

    A patient's withdrawn chain (``withdrawn``: each key's cancelled versions, as stored or
    as this batch left them) stays withdrawn: a final or corrected result restating one of
    its versions is a late copy that rejects the message, under no chain, under the new one
    the patient has since (this message's own too), or under another patient's (the
    wrong-patient fix: told the result was withdrawn, not to change the other patient's);
    and its cancellation sent again is a duplicate, left out. Another value, another
    patient's result, or any result after a cancellation earlier in its message starts a
    new chain.

    An X under a key where nothing was ever stored, for anyone (``obtains_nothing``), is left
    out: a first report that the result cannot be obtained, with nothing to withdraw.

    ``heads`` holds each key's current result, as stored or as this batch left it; the
    message's own observations are taken in order (an F then its C in one message). A key
    that holds only a preliminary result of the patient (``preliminaries``: each patient's
    newest under a key) can be cancelled, not corrected.

    A replayed message (``replayed``: when it first arrived) is applied as of then: under a
    key whose chain changed since, only a duplicate passes (left out), and any other result
    rejects the message (``replayed_chains``).

    ``copies``: the positions of the message's final results left out as duplicates of the
    lab's other feed's result of their sample (``copy_outcomes.held_elsewhere``): checked
    against their own chains as any, but never refused for another patient's preliminary
    under their key, beside which nothing of them is stored (review 209).
    """
    chains = MessageChains(
        message, subject_id, heads, preliminaries or {}, dict(contents or {}), withdrawn or {}
    )
    kept: list[PlannedResult] = []
    for observation, normalised in planned:
        copy = bool(copies) and _position(message, observation) in copies
        verdict = chains.check(observation, normalised, copy=copy)
        key = (message.source, observation.result_key)
        if verdict is not False and replayed is not None and replayed.moved_on(key):
            verdict = changed_since_kept(status_of(observation))
        if isinstance(verdict, Rejected):
            return verdict.at(_position(message, observation))
        if verdict:
            kept.append((observation, normalised))
    return kept


def _position(message: LabMessage, observation: ObservationInput) -> int | None:
    """Where ``observation`` (one of ``message``'s, not a copy) stands in the message."""
    return next((i for i, o in enumerate(message.observations) if o is observation), None)
