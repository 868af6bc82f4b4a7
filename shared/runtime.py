"""Runs one service: HTTP, database, migrations, topics, outbox relay, faust consumers.

Start-up order lets ``/healthz`` answer at once and ``/readyz`` say what is missing while
PostgreSQL or Kafka are not there yet. Shutdown (SIGINT/SIGTERM) has a hard deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import faust
from aiohttp import web
from aiokafka.errors import KafkaError

from shared.auth import TokenStore
from shared.contracts.topics import all_topic_names
from shared.db.migrations import migrate_service
from shared.db.pool import TRANSIENT_DB_ERRORS, create_pool, postgres_reachable
from shared.messaging.kafka import KafkaPublisher, ensure_topics, kafka_reachable
from shared.messaging.processing import BatchProcessor
from shared.messaging.relay import OutboxRelay, RelaySettings
from shared.metrics import ConsumerMetrics, OutboxMetrics, ReadinessMetrics, new_registry
from shared.service import ServiceContext, ServiceDefinition, ServiceParts
from shared.settings import PlatformSettings
from shared.streaming.faust_app import BatchAgent, create_faust_app
from shared.web.app import ReadinessChecks, build_http_app

log = logging.getLogger(__name__)
T = TypeVar("T")

TOPIC_WATCH_SECONDS = 5.0


class StartAborted(Exception):
    """Asked to stop while still waiting for a dependency: nothing to report."""


class ServiceRuntime:
    def __init__(self, definition: ServiceDefinition, settings: PlatformSettings) -> None:
        self.definition = definition
        self.settings = settings
        self.name = definition.name
        self.registry = new_registry()
        self.stopping = asyncio.Event()
        self.started = asyncio.Event()
        self._outbox_written = asyncio.Event()  # wakes the relay (see ServiceContext)
        self.pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self.parts: ServiceParts | None = None
        self._faust: faust.App | None = None
        self._agents: list[BatchAgent] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._http: web.AppRunner | None = None
        self._publisher: KafkaPublisher | None = None
        self._tokens: TokenStore | None = None
        self._readiness = ReadinessChecks(
            {"postgres": self._postgres_ok, "kafka": self._kafka_ok},
            ReadinessMetrics(self.registry, self.name),
        )

    # ---- readiness -------------------------------------------------------------------
    async def _postgres_ok(self) -> bool:
        return self.pool is not None and await postgres_reachable(self.pool)

    async def _kafka_ok(self) -> bool:
        return await kafka_reachable(self.settings.kafka_servers)

    # ---- lifecycle -------------------------------------------------------------------
    async def run(self, install_signal_handlers: bool = True) -> None:
        """Start, serve until SIGINT/SIGTERM (or ``stopping`` is set), then stop."""
        if install_signal_handlers:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stopping.set)
        try:
            await self.start()
            await self.stopping.wait()
        except StartAborted:
            log.info("stopped before start-up completed")
        finally:
            await self.stop()

    async def start(self) -> None:
        schema = self.definition.schema
        # min_size=0: the pool exists at once and connects on first use, so the HTTP probes
        # answer (and say what is missing) while PostgreSQL is not reachable yet.
        self.pool = await create_pool(self.settings.postgres_dsn, schema, self.name, min_size=0)
        self._tokens = TokenStore(self.pool)
        context = ServiceContext(
            self.name, self.settings, self.pool, self.registry, self._outbox_written.set
        )
        self.parts = self.definition.build(context)
        await self._start_http(self.parts)
        applied = await self._retry("postgres", self._migrate)
        if applied:
            log.info("migrations applied", extra={"migrations": applied})
        await self._retry("kafka", self._ensure_topics)
        self._start_relay(schema)
        await self._start_consumers(self.parts)
        for task in self.parts.background:
            self._spawn(task(self.stopping))
        self._spawn(self._watch_topics())
        self.started.set()
        log.info("service started", extra={"addresses": self.addresses()})

    async def _migrate(self) -> list[str]:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            return await migrate_service(
                conn,
                self.definition.schema,
                self.definition.migrations,
                self.definition.shared_migrations,
            )

    def addresses(self) -> dict[str, str]:
        host, port = self.settings.bind_host, self.settings.http_port(self.name)
        extra = self.parts.addresses if self.parts else {}
        return {"http": f"http://{host}:{port}", **extra}

    async def stop(self) -> None:
        self.stopping.set()
        deadline = self.settings.shutdown_deadline_seconds
        for agent in self._agents:
            agent.stopping = True
        if self._faust is not None:
            await self._bounded("faust", self._faust.stop(), deadline * 0.6)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await self._bounded("tasks", asyncio.gather(*self._tasks, return_exceptions=True), 2.0)
        if self._publisher is not None:
            await self._bounded("publisher", self._publisher.stop(), 2.0)
        if self._http is not None:
            await self._bounded("http", self._http.cleanup(), 1.0)
        if self.pool is not None:
            await self._bounded("postgres", self.pool.close(), 1.0)
            self.pool.terminate()
        log.info("service stopped")

    # ---- parts ---------------------------------------------------------------------
    async def _start_http(self, parts: ServiceParts) -> None:
        assert self._tokens is not None
        app = build_http_app(
            service=self.name,
            registry=self.registry,
            readiness=self._readiness,
            tokens=self._tokens,
            routes=parts.routes,
            openapi_paths=parts.openapi_paths,
        )
        self._http = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._http.setup()
        port = self.settings.http_port(self.name)
        site = web.TCPSite(self._http, self.settings.bind_host, port, reuse_address=True)
        await site.start()

    def _start_relay(self, schema: str) -> None:
        assert self.pool is not None
        self._publisher = KafkaPublisher(
            self.settings.kafka_servers, client_id=f"{self.name}-relay"
        )
        self.relay = OutboxRelay(
            self.pool,
            self._publisher,
            self._ensure_topics,
            OutboxMetrics(self.registry, self.name),
            RelaySettings(
                channel=f"{schema}_outbox",
                batch_size=self.settings.outbox_batch_size,
                poll_seconds=self.settings.outbox_poll_seconds,
                coalesce_seconds=self.settings.outbox_coalesce_seconds,
                check_broker_seconds=self.settings.outbox_check_broker_seconds,
                retention_seconds=self.settings.outbox_retention_hours * 3600,
            ),
            wakeup=self._outbox_written,
        )
        self._spawn(self.relay.run(self.stopping))

    async def _start_consumers(self, parts: ServiceParts) -> None:
        if not parts.consumers:
            return
        self._faust = create_faust_app(
            self.name,
            self.settings.kafka_servers,
            self.settings.data_dir,
            session_timeout_seconds=self.settings.kafka_session_timeout_seconds,
        )
        metrics = ConsumerMetrics(self.registry, self.name)
        for consumer in parts.consumers:
            processor = BatchProcessor(
                consumer=consumer.name,
                uow_factory=consumer.uow_factory,
                handlers=consumer.handlers,
                metrics=metrics,
            )
            self._agents.append(
                BatchAgent(
                    self._faust,
                    consumer.topics,
                    processor,
                    metrics,
                    batch_size=self.settings.consumer_batch_size,
                    batch_window_seconds=self.settings.consumer_batch_window_seconds,
                    shutdown_deadline_seconds=self.settings.shutdown_deadline_seconds,
                )
            )
        await self._faust.start()

    async def _ensure_topics(self) -> list[str]:
        created = await ensure_topics(
            self.settings.kafka_servers,
            all_topic_names(),
            self.settings.topic_partitions,
            self.settings.topic_replication_factor,
        )
        if created:
            log.info("topics created", extra={"count": len(created)})
        return created

    async def _watch_topics(self) -> None:
        """Re-create topics a restarted (memory-only) broker has lost."""
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), TOPIC_WATCH_SECONDS)
            if self.stopping.is_set():
                return
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                await self._ensure_topics()

    # ---- helpers -------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    async def _retry(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        backoff = 0.2
        while True:
            try:
                return await attempt()
            except (KafkaError, *TRANSIENT_DB_ERRORS) as exc:
                if self.stopping.is_set():
                    raise StartAborted from exc
                log.warning(
                    "waiting for a dependency", extra={"dependency": what, "error": repr(exc)[:200]}
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), backoff)
                backoff = min(backoff * 2, 5.0)

    async def _bounded(self, what: str, awaitable: Awaitable[object], seconds: float) -> None:
        try:
            await asyncio.wait_for(awaitable, seconds)
        except TimeoutError:
            log.warning("shutdown step timed out", extra={"step": what, "seconds": seconds})
        except Exception as exc:
            log.warning("shutdown step failed", extra={"step": what, "error": repr(exc)[:200]})
