"""The words a result refused as another feed's copy is answered with (pure: no I/O): the
instruction first (an OperationOutcome's diagnostics, as MSA-3, are read from the start);
sender names are the operator's (allow-list entries, token names). The rule itself:
``copies_elsewhere``, ``copy_outcomes``."""

from __future__ import annotations

from services.lab_ingestion.domain.fhir_cancellations import held_elsewhere_reason
from services.lab_ingestion.domain.model import Rejected, RejectionCode, ResultStatusCode
from services.lab_ingestion.domain.result_status import CANCELLING
from shared.contracts.events.lab import Channel

_NAMED = 3  # other senders named in a reason at most


def copy_refusal(
    status: str,
    others: frozenset[str],
    channel: Channel,
    *,
    published: bool = True,
    sender: str | None = None,
) -> Rejected:
    """Why a result of ``status`` over ``channel`` is refused while ``others`` hold the
    result it is a copy of, or may be meant for; ``published``: whether one of them is a
    final or corrected result (else they hold only preliminaries: review 241, D2);
    ``sender``: the message's own, which may be among ``others`` (its result of the sample
    stored under another of its identifiers: review 250, D2)."""
    if status == ResultStatusCode.CANNOT_OBTAIN.value and channel is Channel.FHIR:
        return held_elsewhere_reason(others)  # review 165's words
    verb = "withdraw" if status in CANCELLING else "correct"
    if status in CANCELLING or status == ResultStatusCode.CORRECTED.value:
        if sender is not None and sender in others:
            reason = _changed_own(sender, others - {sender}, verb, published)
        else:
            reason = _changed(others, verb, published)
        return Rejected(RejectionCode.UNKNOWN_CORRECTED_RESULT, reason)
    names, more = _names(others)
    return Rejected(
        RejectionCode.AMBIGUOUS_VERSION,
        f"a copy of the result sender {names}{more} holds: correct or withdraw it through "
        "that sender (over HL7 or the lab's FHIR feed); a second copy of it is not stored "
        "(the patient's standing result of this test, collected at the same time, shares an "
        "identifier with this one: the number of its order)",
    )


def withdrawn_copy(others: frozenset[str]) -> Rejected:
    """Why a final result saying what a result ``others`` held, since withdrawn, said is
    refused: a late copy of it (review 202), as over one feed (``withdrawn_chains``)."""
    names, more = _names(others)
    return Rejected(
        RejectionCode.AMBIGUOUS_VERSION,
        f"this result was withdrawn through sender {names}{more} (over HL7 or the lab's FHIR "
        "feed): a new result needs an order number of its own (the patient's result of this "
        "test, collected at the same time and sharing an identifier with this one, said the "
        "same and was cancelled; a late copy of it is not stored or published again)",
    )


def withdrawn_correction(others: frozenset[str]) -> Rejected:
    """Why a correction finding nothing under its key is refused where the result of its
    sample ``others`` held (the lab's other feed) was withdrawn: never "send the final
    result first", which a late copy of the withdrawn value followed (review 209)."""
    names, more = _names(others)
    return Rejected(
        RejectionCode.UNKNOWN_CORRECTED_RESULT,
        "correction of a withdrawn result: a new result needs an order number of its own "
        f"(this sample's result was withdrawn through sender {names}{more}, over HL7 or the "
        "lab's FHIR feed; a correction brings nothing back, and a final saying what it said "
        "is a late copy of it)",
    )


def _changed(others: frozenset[str], verb: str, published: bool) -> str:
    """A change finding nothing under its key: go through the holder. Beside a published
    result a final sent here would be its second copy; beside only a preliminary one (never
    published) nothing stands, and a final is no copy of it (review 241, D2: the reason
    said the preliminary "stands there" and a final "is refused", and that final was
    stored). The identifier shared may be the order number or another one (FHIR). Another
    patient's final may stand under this sender and identifier (a wrong-patient fix beside
    the patient's withdrawn preliminary: review 245), so the reason speaks of theirs."""
    names, more = _names(others)
    start = (
        f"{verb} it through sender {names}{more}, which holds it (over HL7 or the lab's "
        "FHIR feed), or ask the trial's operator: no final result of this patient's is stored "
        "under this sender and identifier, but their "
    )
    if not published:
        return start + (
            "preliminary result of this test sharing an identifier with this one (the number of "
            "its order or another identifier it was sent under) is held there, not published; "
            "a change is sent the way that result was"
        )
    return start + (
        "result of this test sharing an identifier with this one (the number of its order or "
        "another identifier it was sent under) stands there; a final result sent here first "
        "would be a second copy of it, and is refused"
    )


def _changed_own(sender: str, others: frozenset[str], verb: str, published: bool) -> str:
    """A change finding nothing under its key while its own ``sender``'s result of the
    sample stands, or is held, under other identifiers of its: sent again naming those,
    never "through sender" itself (review 250, D2), the sender still named (review 165);
    ``others``: other senders holding one too."""
    kind = "" if published else "preliminary "
    also = ""
    if others:
        names, more = _names(others)
        also = f"; sender {names}{more} holds a result of it too (over HL7 or the lab's FHIR feed)"
    reason = (
        f"{verb} it under the identifiers it was first sent under, or ask the trial's "
        "operator: nothing of this patient's is stored under this identifier, but this "
        f"sender's ({sender!r}) own {kind}result of this test for them is stored under "
        "others, sharing one with this result (the number of its order or another identifier "
        "it was sent under)"
    )
    if not published:
        return reason + also + "; it is not published"
    return (
        reason + also + ("; a final result sent here first would be a second copy, and is refused")
    )


def _names(others: frozenset[str]) -> tuple[str, str]:
    names = ", ".join(repr(name) for name in sorted(others)[:_NAMED])
    more = f" and {len(others) - _NAMED} more" if len(others) > _NAMED else ""
    return names, more
