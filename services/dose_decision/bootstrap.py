"""Composition root of dose-decision: builds the real adapters and hands them to the runtime.

The foundation wires the platform's plumbing (HTTP probes, migrations, outbox relay);
enrolment, randomisation and dose decisions add their routes, consumers and tables here.
"""

from __future__ import annotations

from pathlib import Path

from shared.service import ServiceContext, ServiceDefinition, ServiceParts

NAME = "dose-decision"


def build(context: ServiceContext) -> ServiceParts:
    del context  # nothing to wire yet
    return ServiceParts()


definition = ServiceDefinition(
    name=NAME,
    schema="dose_decision",
    migrations=Path(__file__).resolve().parent / "migrations",
    build=build,
)
