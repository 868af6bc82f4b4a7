"""What one result key's chain is told: a result's content as the chain compares it, and
an X under a key that never held anything (pure: no I/O; ``message_chains`` and
``planning`` use them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from services.lab_ingestion.domain.model import NormalisedResult, ResultStatusCode
from services.lab_ingestion.domain.records import (
    Content,
    EarlierResult,
    PatientKey,
    WithdrawnVersion,
    result_content,
)

SourceKey = tuple[str, str]


def content_of(result: NormalisedResult, collected_at: datetime | None) -> Content:
    """What the trial uses of a result (its test, value and unit, whether the value is a
    limit, reference range, abnormal flag and sample), as ``content_digest`` tells a resent
    message: a final result that says it again is a duplicate, one that says anything else
    is no restatement."""
    reference = (result.reference_low, result.reference_high)
    return result_content(
        result.loinc, result.value, result.unit, reference,
        abnormal_flag=result.abnormal_flag, collected_at=collected_at,
        comparator=result.comparator,
    )  # fmt: skip


def obtains_nothing(
    key: SourceKey,
    status: str,
    heads: Mapping[SourceKey, EarlierResult],
    preliminaries: Mapping[PatientKey, EarlierResult],
    withdrawn: Mapping[SourceKey, frozenset[WithdrawnVersion]],
) -> bool:
    """An X (table 0085: "results cannot be obtained for this observation") under a key
    where nothing was ever stored, for any patient (``heads``, ``preliminaries`` and
    ``withdrawn`` as ``check_earlier_results`` takes them): the first report of a result
    that will not come (clumped platelets, a clotted sample), with nothing to withdraw. It
    is left out, as a result the trial does not follow is: nothing is recorded for it, and a
    final result under the key later is a new one. D and W still need the result they
    withdraw, and an X needs one of the patient's where the key holds anything."""
    return (
        status == ResultStatusCode.CANNOT_OBTAIN.value
        and key not in heads and not withdrawn.get(key)
        and not any(held[:2] == key for held in preliminaries)
    )  # fmt: skip
