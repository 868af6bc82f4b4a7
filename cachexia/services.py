"""The five services, by name, and their composition roots."""

from __future__ import annotations

import importlib

from shared.service import ServiceDefinition
from shared.settings import SERVICE_NAMES


def service_definition(name: str) -> ServiceDefinition:
    if name not in SERVICE_NAMES:
        raise SystemExit(f"unknown service {name!r}; one of: {', '.join(SERVICE_NAMES)}")
    module = importlib.import_module(f"services.{name.replace('-', '_')}.bootstrap")
    definition: ServiceDefinition = module.definition
    return definition
