"""What a service's composition root hands to the shared runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry

from shared.db.migrations import MigrationSet
from shared.db.unit_of_work import PostgresUnitOfWork
from shared.messaging.handling import EventHandler
from shared.settings import PlatformSettings

BackgroundTask = Callable[[asyncio.Event], Awaitable[None]]


def _nobody_listens() -> None:
    """Default of ``ServiceContext.outbox_written`` outside a runtime (tests)."""


@dataclass(frozen=True)
class ServiceContext:
    """The real infrastructure, built by the runtime and given to the composition root."""

    service: str
    settings: PlatformSettings
    pool: asyncpg.Pool
    registry: CollectorRegistry
    # Call after a commit that wrote outbox events: the service's relay publishes them at
    # once instead of at its next poll (for services whose outbox does not NOTIFY)
    outbox_written: Callable[[], None] = _nobody_listens


@dataclass(frozen=True)
class ConsumerDefinition:
    """A consumer: the topics it reads and a handler per event type it applies."""

    name: str
    topics: Sequence[str]
    handlers: Mapping[str, EventHandler]
    uow_factory: Callable[[], PostgresUnitOfWork]
    # how long a batch waits to fill (None: the platform's consumer_batch_window_seconds);
    # faust's take_events also wakes the idle agent this often, which costs CPU
    batch_window_seconds: float | None = None
    # told once the consumer's group has applied everything its topics held when the
    # service started (``shared.streaming.catch_up``); the runtime watches only then
    on_caught_up: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if self.batch_window_seconds is not None and not 0 < self.batch_window_seconds <= 5:
            # 0 would be faust's "no timeout": an agent that holds its batch indefinitely
            raise ValueError(f"consumer {self.name}: batch window must be in (0, 5] seconds")

    def window_seconds(self, platform_default: float) -> float:
        if self.batch_window_seconds is None:
            return platform_default
        return self.batch_window_seconds


@dataclass
class ServiceParts:
    routes: list[web.RouteDef] = field(default_factory=list)
    openapi_paths: dict[str, Any] = field(default_factory=dict)
    consumers: list[ConsumerDefinition] = field(default_factory=list)
    background: list[BackgroundTask] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)
    # each returns once a listener a background task opens takes connections: the service
    # says it started (ready) only after all have (a stop request ends the wait)
    listening: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # readiness of the service's own, by name, beside PostgreSQL's and Kafka's: /readyz is
    # not ready while one says False (lab-ingestion's subject directory catching up)
    readiness: dict[str, Callable[[], bool]] = field(default_factory=dict)
    # data changes a migration left to the service (they need what only it holds, such as a
    # key): run once the schema is migrated, on the migration's connection, before anything
    # else starts; each returns what it did, for the log (empty: nothing to do)
    after_migrations: list[Callable[[asyncpg.Connection], Awaitable[str]]] = field(
        default_factory=list
    )


@dataclass(frozen=True)
class ServiceDefinition:
    """A service as the runtime sees it: name, schema, migrations, composition root."""

    name: str
    schema: str
    migrations: Path
    build: Callable[[ServiceContext], ServiceParts]
    shared_migrations: tuple[MigrationSet, ...] = ()
