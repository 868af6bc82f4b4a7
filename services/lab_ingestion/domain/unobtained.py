"""Trial results that change nothing where their key never held anything, read as ``X``
("results cannot be obtained") and so left out (``chain_checks.obtains_nothing``):

- a result reported final or preliminary without a value: an empty one (a CBC's
  manual-differential field) or one made only of what laboratory systems write for a count
  they could not make (``CLUMPED``, ``TNP``, ``QNS``, ``See comment``, ``Pending``, and the
  German, French and Italian of the trial's Swiss laboratories: ``Thrombozytenaggregate``,
  ``folgt``, ``n.b.``, ``voir commentaire``, ``vedi commento``, ``---``: ``unobtained_words``):
  they mean what ``X`` means;
- a correction or withdrawal (``C``, ``X``, ``D``, ``W``) of such a field, or of one named by
  a same-measurement code alone (a manual count), when the lab corrects or withdraws its
  whole order; only under a key of the lab's own order number (never one made of the
  collection time, which another report may read otherwise) and never over FHIR (a key
  finding nothing may be another token's name).

So the grade-4 neutrophil count beside it is stored, corrected or withdrawn instead of the
whole message being refused. Only where nothing can be lost by it: under a key that never
held anything, for anyone, that no other observation of the message (or FHIR Bundle) uses,
and when another trial result of the same patient there records a value or withdraws what
its key holds (alone, it is refused as before: the lab is told).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from services.lab_ingestion.domain.analyte_codes import SAME_TEST_CODES, identify_analyte
from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    ResultStatusCode,
)
from services.lab_ingestion.domain.result_status import (
    CANCELLING,
    carries_a_result,
    status_of,
)
from services.lab_ingestion.domain.unobtained_words import says_not_obtained
from shared.contracts.events.lab import Channel

__all__ = ["as_not_obtained", "holds_no_value", "not_obtained_count", "says_not_obtained"]

_REPORTED = frozenset({ResultStatusCode.FINAL.value, ResultStatusCode.PRELIMINARY.value})
_VALUED = _REPORTED | {ResultStatusCode.CORRECTED.value}
_ACTING_ON_A_RESULT = CANCELLING | {ResultStatusCode.CORRECTED.value}
_CANNOT_OBTAIN = ResultStatusCode.CANNOT_OBTAIN.value

SourceKey = tuple[str, str]
# Flags that say the result was measured: beyond the instrument's scale (``<``, ``>``),
# critically low or high (``LL``, ``HH``) or critically abnormal (``AA``, HL7 table 0078's
# "very abnormal": review 157). A text saying it could not be obtained beside one
# contradicts itself ("volgt" flagged LL: review 154): refused, so that the lab is told,
# never left out as nothing. Other flags (L, H, A, W: an analyser's warning beside clumped
# platelets) leave it read as not obtained.
_MEASURED_FLAGS = frozenset({"<", ">", "LL", "HH", "AA"})


def holds_no_value(observation: ObservationInput) -> bool:
    """A trial result reported as final or preliminary with no value: an empty one, or one
    saying it could not be obtained (``says_not_obtained``); never one its flags say was
    measured beyond its scale, critically low or high or critically abnormal
    (``_MEASURED_FLAGS``), nor one whose value is there but is no single number (a FHIR
    Range: ``not_a_number``, review 157), refused as such; nor one whose flags cannot be
    read (``flag_refusal``: ``&lt;`` may be the off-scale ``<``; review 179)."""
    value = observation.value.strip()
    empty = not value and observation.not_a_number is None
    return (
        status_of(observation) in _REPORTED
        and observation.flag_refusal is None
        and (empty or says_not_obtained(value))
        and identify_analyte(observation.codes) is not None
        and _MEASURED_FLAGS.isdisjoint(_flags_of(observation))
    )


def _flags_of(observation: ObservationInput) -> set[str]:
    given = (*observation.flags, observation.abnormal_flag or "")
    return {flag.strip().upper() for flag in given}


def as_not_obtained(
    message: LabMessage,
    never_held: Callable[[SourceKey], bool],
    bundle: Sequence[LabMessage] = (),
) -> tuple[LabMessage, tuple[SourceKey, ...]]:
    """The message with each trial result that changes nothing (see the module) read as
    ``X``, and their keys; the message itself and no key otherwise. ``never_held``: whether
    nothing was ever stored under a key, for anyone. ``bundle``: the messages of its FHIR
    Bundle, itself among them (each Observation is a message of its own): over FHIR one is
    read so only beside a result of its Bundle that acts, never alone."""
    if message.channel is Channel.FHIR and len(bundle) < 2:
        return message, ()
    candidates = [
        (index, o)
        for index, o in enumerate(message.observations)
        if _is_trial_result(o) and _changes_nothing_if_unused(o, message.channel)
    ]
    if not candidates:  # most messages: every result records or acts on something
        return message, ()
    # a Bundle's other entries count only as the same patient's (another's may be discarded)
    same_patient = [m for m in bundle or (message,)
                    if m.patient_identifier == message.patient_identifier]  # fmt: skip
    together = [(m.source, o) for m in same_patient for o in m.observations
                if _is_trial_result(o)]  # fmt: skip
    uses = Counter(o.result_key for _, o in together)
    unused = {
        index
        for index, o in candidates
        if uses[o.result_key] == 1 and never_held((message.source, o.result_key))
    }
    # one that changes nothing never acts: it need not be told apart from the others
    if not unused or not any(
        _acts(o, never_held((source, o.result_key))) for source, o in together
    ):  # alone: refused as before, the lab is told
        return message, ()
    cannot_obtain = ResultStatusCode.CANNOT_OBTAIN.value
    observations = tuple(
        replace(observation, status=cannot_obtain, read_as_not_obtained=True)
        if index in unused
        else observation
        for index, observation in enumerate(message.observations)
    )
    keys = tuple((message.source, message.observations[index].result_key) for index in unused)
    return replace(message, observations=observations), keys


def _is_trial_result(observation: ObservationInput) -> bool:
    return identify_analyte(observation.codes) is not None and carries_a_result(observation)


def _changes_nothing_if_unused(observation: ObservationInput, channel: Channel) -> bool:
    """Reported final or preliminary without a value (``holds_no_value``); or a correction
        or withdrawal (C, X, D, W) under a key of the lab's own order number (never one made of
        the collection time, which another report may read otherwise; never over FHIR, where a
        key finding nothing may be another token's; over JSON only a cancellation, X: each
    ``result_id`` is one result, and its entered-in-error or correction always names it, review
    112) whose value is empty, says it was not
        obtained, or that is named by a same-measurement code alone (a manual count, never
        stored before such codes were read: a CBC's is often empty). Under a key that never held
        anything it has nothing to record, void or withdraw."""
    if holds_no_value(observation):
        return True
    if (
        status_of(observation) not in _ACTING_ON_A_RESULT
        or channel is Channel.FHIR
        or (channel is Channel.JSON and status_of(observation) != _CANNOT_OBTAIN)
        or observation.unscoped_key is not None
    ):
        return False
    value = observation.value.strip()
    if status_of(observation) == ResultStatusCode.CORRECTED.value and _has_a_digit(value):
        return False  # a correction with a value corrects: it needs its result
    identified = identify_analyte(observation.codes)
    return (
        not value
        or says_not_obtained(value)
        or (identified is not None and identified[1] in SAME_TEST_CODES)
    )


def _acts(observation: ObservationInput, key_never_held: bool) -> bool:
    """Records a value, or withdraws what its key holds."""
    status = status_of(observation)
    if status in _VALUED:
        return _has_a_digit(observation.value)
    return status in CANCELLING and not key_never_held


def _has_a_digit(value: str) -> bool:
    return any(character.isdigit() for character in value)


def not_obtained_count(
    observations: Sequence[ObservationInput],
    recorded: Collection[ObservationInput],
    left_out: Collection[ObservationInput],
) -> int:
    """How many results a message reports as not obtained (``lab_results_not_obtained_total``):
    each result key once, and only where neither its stored chain nor an earlier result of
    the message held anything. ``left_out``: its X left out under keys that held nothing as
    read (``obtains_nothing``); ``recorded``: the results it records, a key's X after an F
    of the same message withdraws that F (an X said again after it is not counted)."""
    held: set[str] = set()
    counted: set[str] = set()
    # by identity (equal observations may differ in what became of them), looked up once:
    # scanning both per observation took 0.9 s of a 3,100-result cancellation (review 124)
    left_out_ids, recorded_ids = {id(o) for o in left_out}, {id(o) for o in recorded}
    for observation in observations:
        key = observation.result_key
        if id(observation) in left_out_ids and key not in held:
            counted.add(key)
        elif id(observation) in recorded_ids:
            held.add(key)
    return len(counted)
