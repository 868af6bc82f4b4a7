"""Composition root of safety-alerting: builds the real adapters and hands them to the runtime.

The foundation wires the platform's plumbing (HTTP probes, migrations, outbox relay) and
the subject directory fed from `trial.subjects.v1`; the service's own work items add
their routes, handlers and tables here.
"""

from __future__ import annotations

from pathlib import Path

from shared.service import ServiceContext, ServiceDefinition, ServiceParts
from shared.subjects import SUBJECT_MIGRATION_SET, subject_directory_consumer

NAME = "safety-alerting"


def build(context: ServiceContext) -> ServiceParts:
    return ServiceParts(consumers=[subject_directory_consumer(NAME, context.pool)])


definition = ServiceDefinition(
    name=NAME,
    schema="safety_alerting",
    migrations=Path(__file__).resolve().parent / "migrations",
    build=build,
    shared_migrations=(SUBJECT_MIGRATION_SET,),
)
