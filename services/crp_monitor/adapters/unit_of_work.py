"""The crp-monitor unit of work: the shared transaction plus this service's repositories."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import asyncpg

from services.crp_monitor.adapters.repository import CrpSeriesRepository
from services.crp_monitor.domain.model import CancellationNoted, CorrectionOfAnotherSubjectFound
from services.crp_monitor.domain.stored_results import ResultRefused, judge_stored, released
from shared.db.pooled import pooled
from shared.messaging.handling import PoisonMessage
from shared.subjects import SubjectDirectory, SubjectsUnitOfWork

CancellationsCommitted = Callable[[Sequence[CancellationNoted]], None]
CorrectionsCommitted = Callable[[Sequence[CorrectionOfAnotherSubjectFound]], None]


def _nobody_listens(noted: Sequence[object]) -> None:
    del noted


class CrpMonitorUnitOfWork(SubjectsUnitOfWork):
    """Outcomes of cancellations, and corrections found naming another subject's result, are
    noted during the work and handed to ``cancellations_committed`` and
    ``corrections_committed`` only after the commit (a rolled-back batch noted nothing).

    A result the write refuses (``ResultRefused``, judged by the domain) is raised as
    PoisonMessage with the refusal's code: the batch processor rolls the event back and
    dead-letters it."""

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
        self._noted: list[CancellationNoted] = []  # by the handlers
        self._found: list[CancellationNoted] = []  # by the writes: kept cancellations released
        self._corrections: list[CorrectionOfAnotherSubjectFound] = []

    def note(self, noted: CancellationNoted) -> None:
        self._noted.append(noted)

    async def flush(self) -> None:
        await super().flush()
        try:
            found = judge_stored(await self.crp.flush())
        except ResultRefused as refused:  # nothing of the write is noted: it is rolled back
            self.crp.remember_refused(refused.refused)
            raise PoisonMessage(refused.code, refused.reason) from None
        self._found.extend(found.noted)
        self._corrections.extend(found.corrections)

    async def commit(self) -> None:
        # the events refused were dead-lettered in this work
        self._found.extend(released(row) for row in await self.crp.keep_refused())
        await super().commit()
        noted, self._noted, self._found = [*self._noted, *self._found], [], []
        corrections, self._corrections = self._corrections, []
        self._cancellations_committed(noted)
        self._corrections_committed(corrections)


class CrpReadUnitOfWork:
    """The read side's unit of work: one connection of the pool, with the subject directory
    and the CRP series bound on it. It writes nothing, so it has nothing to commit: each read
    is one statement, as the route always read them. A session the server ended under it is
    raised as BrokenConnectionError (``shared.db.pooled``): the route answers 503, never 500."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._lent = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Self:
        conn = await self._lent.enter_async_context(pooled(self._pool))
        self.subjects = SubjectDirectory(conn)
        self.crp = CrpSeriesRepository(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._lent.__aexit__(exc_type, exc, tb)
