"""A service's Kafka side, as the runtime starts and stops it: topics (created, and re-created
after a memory-only broker lost them), the outbox relay and the faust consumers."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import faust
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from shared.contracts.topics import all_topic_names
from shared.messaging.kafka import KafkaPublisher, ensure_topics
from shared.messaging.processing import BatchProcessor
from shared.messaging.relay import OutboxRelay, RelaySettings
from shared.metrics import ConsumerMetrics, OutboxMetrics
from shared.service import ConsumerDefinition
from shared.settings import PlatformSettings
from shared.shutdown import ShutdownBudget, run_bounded
from shared.streaming.catch_up import caught_up_watcher
from shared.streaming.faust_app import BatchAgent, create_faust_app
from shared.waiting import wait_event

log = logging.getLogger(__name__)

TOPIC_WATCH_SECONDS = 5.0
CONSUMER_WATCH_SECONDS = 1.0


class ConsumerCrashed(Exception):
    """faust's consumer crashed (mode's ``Service.crash``: a task of it raised). It fetches
    nothing more, and the service would stay up and ready while applying nothing."""


class ServiceMessaging:
    def __init__(self, name: str, settings: PlatformSettings, registry: CollectorRegistry) -> None:
        self.name = name
        self.settings = settings
        self.registry = registry
        self.relay: OutboxRelay | None = None
        self._publisher: KafkaPublisher | None = None
        self._faust: faust.App | None = None
        self._agents: list[BatchAgent] = []

    async def ensure_topics(self) -> list[str]:
        created = await ensure_topics(
            self.settings.kafka_servers,
            all_topic_names(),
            self.settings.topic_partitions,
            self.settings.topic_replication_factor,
        )
        if created:
            log.info("topics created", extra={"count": len(created)})
        return created

    async def watch_topics(self, stopping: asyncio.Event) -> None:
        """Re-create topics a restarted (memory-only) broker has lost."""
        while not stopping.is_set():
            if await wait_event(stopping, TOPIC_WATCH_SECONDS):
                return
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                await self.ensure_topics()

    def relay_for(self, pool: asyncpg.Pool, schema: str, wakeup: asyncio.Event) -> OutboxRelay:
        """The outbox relay of ``schema`` (the caller runs it), woken by ``wakeup``."""
        self._publisher = KafkaPublisher(
            self.settings.kafka_servers, client_id=f"{self.name}-relay"
        )
        self.relay = OutboxRelay(
            pool,
            self._publisher,
            self.ensure_topics,
            OutboxMetrics(self.registry, self.name),
            RelaySettings(
                channel=f"{schema}_outbox",
                batch_size=self.settings.outbox_batch_size,
                poll_seconds=self.settings.outbox_poll_seconds,
                coalesce_seconds=self.settings.outbox_coalesce_seconds,
                check_broker_seconds=self.settings.outbox_check_broker_seconds,
                retention_seconds=self.settings.outbox_retention_hours * 3600,
            ),
            wakeup=wakeup,
        )
        return self.relay

    async def start_consumers(self, consumers: list[ConsumerDefinition]) -> None:
        if not consumers:
            return
        self._faust = create_faust_app(
            self.name,
            self.settings.kafka_servers,
            self.settings.data_dir,
            session_timeout_seconds=self.settings.kafka_session_timeout_seconds,
            fetch_max_wait_seconds=self.settings.kafka_fetch_max_wait_seconds,
        )
        metrics = ConsumerMetrics(self.registry, self.name)
        for consumer in consumers:
            self._agents.append(self._agent(self._faust, consumer, metrics))
        await self._faust.start()

    async def watch_consumers(self, stopping: asyncio.Event) -> None:
        """Until ``stopping``; raises ConsumerCrashed once faust's app, its consumer or the
        consumer's thread has crashed: mode logs the crash and goes on without them, so the
        runtime stops the service (``ServiceRuntime._on_task_done``) to be started again.
        Named by the reason's type only (a message can quote data)."""
        app = self._faust
        while app is not None and not await wait_event(stopping, CONSUMER_WATCH_SECONDS):
            consumer = app.consumer
            for service in (app, consumer, getattr(consumer, "_thread", None)):
                if service is not None and service.crashed:
                    reason = type(service.crash_reason).__name__
                    raise ConsumerCrashed(f"faust's {type(service).__name__} crashed: {reason}")

    def _agent(
        self, app: faust.App, consumer: ConsumerDefinition, metrics: ConsumerMetrics
    ) -> BatchAgent:
        processor = BatchProcessor(
            consumer=consumer.name,
            uow_factory=consumer.uow_factory,
            handlers=consumer.handlers,
            metrics=metrics,
        )
        return BatchAgent(
            app,
            consumer.topics,
            processor,
            metrics,
            batch_size=self.settings.consumer_batch_size,
            batch_window_seconds=consumer.window_seconds(
                self.settings.consumer_batch_window_seconds
            ),
            shutdown_deadline_seconds=self.settings.shutdown_deadline_seconds,
        )

    async def watch_catch_up(
        self, consumer: ConsumerDefinition, stopping: asyncio.Event, tried: asyncio.Event
    ) -> None:
        """Tell ``consumer.on_caught_up`` once its group has applied what its topics held
        now (``shared.streaming.catch_up``; ``tried``: set after the first look); then wait
        for ``stopping``."""
        assert consumer.on_caught_up is not None
        watch = caught_up_watcher(self.settings.kafka_servers, consumer.name, consumer.topics)
        await watch(consumer.on_caught_up, stopping, tried)

    async def stop_consumers(self, budget: ShutdownBudget) -> None:
        """First in a shutdown: no new batch starts, and faust leaves its group."""
        for agent in self._agents:
            agent.stopping = True
        if self._faust is not None:
            await run_bounded("faust", self._faust.stop(), budget.allow(budget.seconds * 0.6))

    async def stop_publisher(self, budget: ShutdownBudget) -> None:
        """Once the relay's task has ended."""
        if self._publisher is not None:
            await run_bounded("publisher", self._publisher.stop(), budget.allow(2.0))
