"""Read side: the CRP series of a subject as the API shows it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from services.crp_monitor.domain.model import current_series
from shared.subject_access import SubjectScope

# a read-only unit of work: ``subjects`` (the subject directory) and ``crp`` bound, nothing
# to commit (``CrpReadUnitOfWork``)
ReadUnitOfWork = Callable[[], AbstractAsyncContextManager[Any]]
# what the route asks: the subject's series as shown to a caller who may read the subjects of
# the scope given, None when nothing is known of it or the caller may not read it
CrpSeries = Callable[[str, SubjectScope], Awaitable[dict[str, Any] | None]]


async def crp_series(
    read: ReadUnitOfWork, subject_id: str, scope: SubjectScope
) -> dict[str, Any] | None:
    """None, as for a subject never heard of, when ``scope`` does not admit the subject's
    site (a site token asking for another site's subject, or for a subject whose enrolment
    was not read yet, its site unknown): the answer tells nothing of whether it exists."""
    async with read() as uow:
        enrolment = await uow.subjects.enrolment(subject_id)
        if not scope.admits(enrolment.site_id if enrolment is not None else None):
            return None
        measurements = await uow.crp.for_subject(subject_id)
    if enrolment is None and not measurements:
        return None
    withdrawn_at = enrolment.withdrawn_at if enrolment is not None else None
    return {
        "subject_id": subject_id,
        "series": [
            {
                "result_id": str(m.result_id),
                "crp_mg_l": m.value_mg_l,
                # set: crp_mg_l is the limit the lab reported, not a measurement
                "comparator": None if m.comparator is None else m.comparator.value,
                "collected_at": m.collected_at.isoformat(),
                "status": m.status,
            }
            for m in current_series(measurements, withdrawn_at)
        ],
        "assessments": [],
    }
