"""The crp-monitor unit of work: the shared transaction plus this service's repositories."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg

from services.crp_monitor.adapters.repository import CrpSeriesRepository
from services.crp_monitor.domain.model import CancellationNoted, CorrectionOfAnotherSubject
from shared.subjects import SubjectsUnitOfWork

CancellationsCommitted = Callable[[Sequence[CancellationNoted]], None]
CorrectionsCommitted = Callable[[Sequence[CorrectionOfAnotherSubject]], None]


def _nobody_listens(noted: Sequence[object]) -> None:
    del noted


class CrpMonitorUnitOfWork(SubjectsUnitOfWork):
    """Outcomes of cancellations, and corrections found naming another subject's result, are
    noted during the work and handed to ``cancellations_committed`` and
    ``corrections_committed`` only after the commit (a rolled-back batch noted nothing)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        service: str,
        cancellations_committed: CancellationsCommitted = _nobody_listens,
        corrections_committed: CorrectionsCommitted = _nobody_listens,
    ) -> None:
        super().__init__(pool, service)
        self._cancellations_committed = cancellations_committed
        self._corrections_committed = corrections_committed

    def bind(self, conn: asyncpg.Connection) -> None:
        super().bind(conn)
        self.crp = CrpSeriesRepository(conn)
        self._noted: list[CancellationNoted] = []

    def note(self, noted: CancellationNoted) -> None:
        self._noted.append(noted)

    async def flush(self) -> None:
        await super().flush()
        await self.crp.flush()

    async def commit(self) -> None:
        await self.crp.keep_refused()  # the events refused were dead-lettered in this work
        await super().commit()
        noted, self._noted = [*self._noted, *self.crp.take_noted()], []
        self._cancellations_committed(noted)
        self._corrections_committed(self.crp.take_corrections())
