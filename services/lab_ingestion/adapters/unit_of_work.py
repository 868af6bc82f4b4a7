"""The lab-ingestion unit of work: the shared transaction plus this service's repository."""

from __future__ import annotations

import asyncpg

from services.lab_ingestion.adapters.repository import LabRepository
from shared.subjects import SubjectsUnitOfWork


class LabIngestionUnitOfWork(SubjectsUnitOfWork):
    def bind(self, conn: asyncpg.Connection) -> None:
        super().bind(conn)
        self.labs = LabRepository(conn)
