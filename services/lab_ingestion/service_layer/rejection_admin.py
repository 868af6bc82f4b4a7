"""An operator's closing of a kept rejection that no replay settles (``cachexia rejection
close``): one transaction of its unit of work; what came of it is returned as data, for the
command to word.

A close and a replay of the same rejection at once: exactly one of them settles it. The
close's update takes only an open rejection; a replay committing holds the rejection's row
(``Replayer.replay``), so the close waits for it and then finds it replayed, or it finds the
close committed and stores nothing (review 214)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from services.lab_ingestion.domain.closing_reasons import CLOSING_REASONS
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.domain.rejection_states import RejectionState


class KeptRejections(Protocol):
    async def get(self, rejection_id: uuid.UUID) -> KeptRejection | None: ...

    async def close(self, rejection_id: uuid.UUID, closed_as: str) -> datetime | None:
        """Close the rejection if it is open (waiting for a transaction holding it): when,
        else None."""
        ...


class RejectionAdminUnitOfWork(Protocol):
    @property
    def rejections(self) -> KeptRejections: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


@dataclass(frozen=True)
class RejectionClosing:
    rejection_id: uuid.UUID
    closed_as: str
    closed_at: datetime | None  # when it was closed; None: it was not
    found: RejectionState | None  # not closed: as found (replayed, closed); None: no such one

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


async def close_rejection(
    uow: RejectionAdminUnitOfWork, rejection_id: uuid.UUID, closed_as: str
) -> RejectionClosing:
    """Close an open rejection (neither replayed nor closed) for ``closed_as``, one of
    ``CLOSING_REASONS`` (ValueError otherwise: fixed words, never free text)."""
    if closed_as not in CLOSING_REASONS:
        raise ValueError(f"{closed_as!r} is no closing reason: one of {sorted(CLOSING_REASONS)}")
    async with uow:
        closed_at = await uow.rejections.close(rejection_id, closed_as)
        kept = await uow.rejections.get(rejection_id) if closed_at is None else None
        await uow.commit()
    found = kept.state if kept is not None else None
    return RejectionClosing(rejection_id, closed_as, closed_at, found)
