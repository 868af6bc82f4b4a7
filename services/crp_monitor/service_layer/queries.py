"""Read side: the CRP series of a subject as the API shows it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from services.crp_monitor.domain.model import current_series

# a read-only unit of work: ``subjects`` (the subject directory) and ``crp`` bound, nothing
# to commit (``CrpReadUnitOfWork``)
ReadUnitOfWork = Callable[[], AbstractAsyncContextManager[Any]]
# what the route asks: the subject's series as shown, None when nothing is known of it
CrpSeries = Callable[[str], Awaitable[dict[str, Any] | None]]


async def crp_series(read: ReadUnitOfWork, subject_id: str) -> dict[str, Any] | None:
    async with read() as uow:
        enrolment = await uow.subjects.enrolment(subject_id)
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
