"""Why a result cannot be applied to the chain its key holds (pure: no I/O): the rejections
``chain_checks.check_earlier_results`` gives, the instruction first (MSA-3 shows 80
characters)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from services.lab_ingestion.domain.model import Rejected, RejectionCode, ResultStatusCode
from services.lab_ingestion.domain.records import Content, EarlierResult, PatientKey
from services.lab_ingestion.domain.result_status import NEEDS_EARLIER_RESULT
from services.lab_ingestion.domain.withdrawn_chains import nothing_to_change


def another_chain(head: EarlierResult | None, subject_id: str, analyte: str) -> Rejected | None:
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


def others_preliminary(
    preliminaries: Mapping[PatientKey, EarlierResult], key: tuple[str, str], subject_id: str
) -> EarlierResult | None:
    """Another patient's standing preliminary result under ``key`` (each patient's newest,
    as stored or as the batch left them), for a final or corrected result of
    ``subject_id``'s finding no chain there: the key holds another patient's result, as
    under their final one (review 201: the final was stored beside it, the other patient's
    preliminary of that sample still standing). A preliminary result beside another
    patient's is stored as before (two orders sharing a number), and a cancellation finds
    the patient's own behind it."""
    return next(
        (p for (*held, subject), p in preliminaries.items()
         if tuple(held) == key and subject != subject_id),
        None,
    )  # fmt: skip


def nothing_to_apply(
    head: EarlierResult | None,
    status: str,
    collected_at: datetime | None,
    gone: frozenset[Content | None],
) -> Rejected | None:
    """Why a result of the patient's cannot be applied to the chain ``head`` heads: a final
    result of another sample under it, or a correction or cancellation with nothing to act
    on (``gone``: what the patient's withdrawn versions there said; None: it can)."""
    if _another_sample(head, status, collected_at):
        return Rejected(
            RejectionCode.OTHER_SAMPLES_RESULT,
            "the order and test of this final result hold a result collected at another "
            "time: a new sample needs an order number of its own (a wrong collection time "
            "is corrected with status C)",
        )
    if head is None and status in NEEDS_EARLIER_RESULT:
        return nothing_to_change(status, gone)
    return None


def changed_final(*, within_message: bool) -> Rejected:
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
