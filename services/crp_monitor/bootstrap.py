"""Composition root of crp-monitor: builds the real adapters and hands them to the runtime."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

import asyncpg

from services.crp_monitor.adapters.metrics import CrpMonitorMetrics
from services.crp_monitor.adapters.repository import pending_cancellations
from services.crp_monitor.adapters.unit_of_work import CrpMonitorUnitOfWork, CrpReadUnitOfWork
from services.crp_monitor.domain.model import PendingCancellations
from services.crp_monitor.entrypoints import http
from services.crp_monitor.service_layer.handlers import HANDLERS
from services.crp_monitor.service_layer.queries import CrpSeries, crp_series
from services.crp_monitor.service_layer.reporting import (
    report_cancellations,
    report_corrections_of_another_subject,
    watch_pending_cancellations,
)
from shared.contracts.topics import LAB_RESULTS, TRIAL_SUBJECTS
from shared.db.pooled import pooled
from shared.service import ConsumerDefinition, ServiceContext, ServiceDefinition, ServiceParts
from shared.subjects import SUBJECT_MIGRATION_SET

NAME = "crp-monitor"
PENDING_REFRESH_SECONDS = 30.0


def build(context: ServiceContext) -> ServiceParts:
    metrics = CrpMonitorMetrics(context.registry)
    cancellations_committed = partial(report_cancellations, metrics.count_cancellation)
    corrections_committed = partial(
        report_corrections_of_another_subject, metrics.count_correction_of_another_subject
    )

    def uow() -> CrpMonitorUnitOfWork:
        return CrpMonitorUnitOfWork(
            context.pool, NAME, cancellations_committed, corrections_committed
        )

    async def read_pending() -> PendingCancellations:
        async with pooled(context.pool) as conn:
            return await pending_cancellations(conn)

    async def show_pending(stopping: asyncio.Event) -> None:
        await watch_pending_cancellations(
            read_pending, metrics.show_pending, stopping, PENDING_REFRESH_SECONDS
        )

    return ServiceParts(
        routes=http.routes(crp_series_query(context.pool)),
        openapi_paths=http.OPENAPI_PATHS,
        consumers=[
            ConsumerDefinition(
                name=NAME, topics=[LAB_RESULTS, TRIAL_SUBJECTS], handlers=HANDLERS, uow_factory=uow
            )
        ],
        background=[show_pending],
    )


def crp_series_query(pool: asyncpg.Pool) -> CrpSeries:
    """The route's query: the series read through a read-only unit of work on ``pool``."""
    return partial(crp_series, lambda: CrpReadUnitOfWork(pool))


definition = ServiceDefinition(
    name=NAME,
    schema="crp_monitor",
    migrations=Path(__file__).resolve().parent / "migrations",
    build=build,
    shared_migrations=(SUBJECT_MIGRATION_SET,),
)
