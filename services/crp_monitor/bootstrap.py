"""Composition root of crp-monitor: builds the real adapters and hands them to the runtime."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from services.crp_monitor.adapters.metrics import CrpMonitorMetrics
from services.crp_monitor.adapters.unit_of_work import CrpMonitorUnitOfWork
from services.crp_monitor.entrypoints import http
from services.crp_monitor.service_layer.handlers import HANDLERS
from services.crp_monitor.service_layer.reporting import report_cancellations
from shared.contracts.topics import LAB_RESULTS, TRIAL_SUBJECTS
from shared.service import ConsumerDefinition, ServiceContext, ServiceDefinition, ServiceParts
from shared.subjects import SUBJECT_MIGRATION_SET

NAME = "crp-monitor"


def build(context: ServiceContext) -> ServiceParts:
    metrics = CrpMonitorMetrics(context.registry)
    cancellations_committed = partial(report_cancellations, metrics.count_cancellation)

    def uow() -> CrpMonitorUnitOfWork:
        return CrpMonitorUnitOfWork(context.pool, NAME, cancellations_committed)

    return ServiceParts(
        routes=http.routes(context.pool),
        openapi_paths=http.OPENAPI_PATHS,
        consumers=[
            ConsumerDefinition(
                name=NAME, topics=[LAB_RESULTS, TRIAL_SUBJECTS], handlers=HANDLERS, uow_factory=uow
            )
        ],
    )


definition = ServiceDefinition(
    name=NAME,
    schema="crp_monitor",
    migrations=Path(__file__).resolve().parent / "migrations",
    build=build,
    shared_migrations=(SUBJECT_MIGRATION_SET,),
)
