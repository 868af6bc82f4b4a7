"""The faust app factory and the batch agent every consuming service uses.

At-least-once, without Kafka transactions or idempotent producers (the embedded broker has
neither): faust reads and commits offsets, our agents apply each batch in one PostgreSQL
transaction with the inbox, and faust acknowledges the batch only after that commit. A batch
that could not be applied when the worker must stop is never acknowledged: rather than let
faust commit its offsets on the way out, the process exits hard and the batch is read again
by the next instance (the inbox drops what had been applied).

Offsets are committed only by a group member, and only for events read in the current
assignment (``shared.streaming.guarded_consumer``): after the embedded broker's restart the
logs are new, and an offset of the old log would skip events of the new one.

Events are published by the outbox relay (aiokafka), never by faust's producer. Consumer lag
is computed on a timer for every assigned partition (see ``shared.streaming.lag``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faust
from faust.types import TP, EventT

from shared.messaging.consumed import ConsumedMessage
from shared.messaging.processing import BatchProcessor
from shared.metrics import ConsumerMetrics
from shared.streaming.fetch_wait import DEFAULT_FETCH_MAX_WAIT_SECONDS
from shared.streaming.guarded_consumer import GuardedTransport
from shared.streaming.lag import LAG_INTERVAL_SECONDS, LagMonitor, LagSource
from shared.streaming.no_tables import TablelessManager

log = logging.getLogger(__name__)

EXIT_UNAPPLIED_BATCH = 75

# faust refuses (ImproperlyConfigured, as each consumer is created) a session timeout above the
# request timeout, 90 s by default; the request timeout follows the session timeout with a
# margin. faust's rebalance timeout (60 s), which the broker may hold a JoinGroup request for,
# stays below it.
_DEFAULT_REQUEST_TIMEOUT_SECONDS = 90.0
_REQUEST_MARGIN_SECONDS = 30.0


def broker_request_timeout(session_timeout_seconds: float) -> float:
    """The Kafka request timeout for a session timeout: faust's default, or more."""
    return max(_DEFAULT_REQUEST_TIMEOUT_SECONDS, session_timeout_seconds + _REQUEST_MARGIN_SECONDS)


def create_faust_app(
    service: str,
    bootstrap_servers: str,
    data_dir: Path,
    *,
    session_timeout_seconds: float = 10.0,
    commit_interval_seconds: float = 1.0,
    fetch_max_wait_seconds: float = DEFAULT_FETCH_MAX_WAIT_SECONDS,
) -> faust.App:
    """A faust app for one service: consumer group = service name, no web, no tables; its
    consumer's fetch waits at most ``fetch_max_wait_seconds`` (``shared.streaming.fetch_wait``)."""
    datadir = data_dir / "faust" / service
    datadir.mkdir(parents=True, exist_ok=True)
    servers = ";".join(f"kafka://{s.strip()}" for s in bootstrap_servers.split(",") if s.strip())
    app = faust.App(
        service,
        broker=servers,
        autodiscover=False,
        web_enabled=False,
        datadir=str(datadir),
        store="memory://",
        processing_guarantee="at_least_once",
        topic_allow_declare=False,  # topics are created explicitly, 12 partitions each
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",  # no committed offset: read from the beginning
        broker_session_timeout=session_timeout_seconds,
        broker_request_timeout=broker_request_timeout(session_timeout_seconds),
        broker_heartbeat_interval=min(3.0, session_timeout_seconds / 3),
        broker_commit_interval=commit_interval_seconds,
        stream_wait_empty=False,
        producer_acks=-1,
        TableManager=TablelessManager,  # no tables: no one-second wait for them at start
    )
    # never commit an offset of a log the broker no longer holds (see guarded_consumer)
    transport = GuardedTransport(app.conf.broker_consumer, app)
    transport.fetch_max_wait_seconds = fetch_max_wait_seconds
    app.transport = transport
    return app


def _to_message(event: EventT[Any]) -> ConsumedMessage:
    message = event.message
    key = message.key if isinstance(message.key, bytes | type(None)) else str(message.key).encode()
    value = message.value if isinstance(message.value, bytes | type(None)) else None
    return ConsumedMessage(message.topic, message.partition, message.offset, key, value)


def _exit_hard() -> None:  # pragma: no cover - ends the process
    os._exit(EXIT_UNAPPLIED_BATCH)


class BatchAgent:
    """Reads ``topics`` in batches and hands each batch to a ``BatchProcessor``."""

    def __init__(
        self,
        app: faust.App,
        topics: Sequence[str],
        processor: BatchProcessor,
        metrics: ConsumerMetrics,
        *,
        batch_size: int,
        batch_window_seconds: float,
        shutdown_deadline_seconds: float,
        on_unapplied_at_shutdown: Callable[[], None] = _exit_hard,
        lag_interval_seconds: float = LAG_INTERVAL_SECONDS,
    ) -> None:
        self._app = app
        self._processor = processor
        self._metrics = metrics
        self._batch_size = batch_size
        self._window = batch_window_seconds
        self._deadline = shutdown_deadline_seconds
        self._on_unapplied = on_unapplied_at_shutdown
        self.stopping = False
        self._seek_grace = min(1.0, lag_interval_seconds / 2)
        self._pending_refresh: asyncio.Future[None] | None = None
        channel = app.topic(*topics, key_serializer="raw", value_serializer="raw")
        app.agent(channel, name=f"{processor.consumer}.batch")(self._run)
        self.lag = LagMonitor(
            topics, metrics, self._lag_source, timeout_seconds=lag_interval_seconds
        )
        app.timer(lag_interval_seconds, name=f"{processor.consumer}.lag")(self.lag.refresh)
        # mode's handler type rejects even a handler of its own signature: hence the ignores
        app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]  # see above
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]  # see above

    def _lag_source(self) -> LagSource:
        return self._app.consumer

    async def _on_assigned(
        self, sender: Any, *args: Any, signal: Any = None, **kwargs: Any
    ) -> None:
        """Report lag soon after an assignment, not an interval later (a process that exits
        on a batch may not live that long). In the background: faust seeks the partitions to
        their committed offsets after this signal, and the rebalance must not wait."""
        del sender, args, signal, kwargs
        if self._pending_refresh is None or self._pending_refresh.done():
            self._pending_refresh = self._app.add_future(self._refresh_after_seek())

    async def _refresh_after_seek(self) -> None:
        await asyncio.sleep(self._seek_grace)
        await self.lag.refresh()

    async def _on_revoked(self, sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        """faust's signal: ``receiver(app, revoked, signal=...)``."""
        del sender, signal, kwargs
        revoked: set[TP] = args[0] if args else set()
        self.lag.forget(revoked)

    async def _run(self, stream: Any) -> None:
        async for events in stream.take_events(self._batch_size, within=self._window):
            messages = [_to_message(e) for e in events]
            work = asyncio.ensure_future(
                self._processor.process_until_done(messages, lambda: self.stopping)
            )
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                await self._finish_before_exit(work)
                raise
            except Exception:
                # faust would acknowledge the batch on the way out of ``take_events``: never
                # let a batch that was not applied be committed. Exit; it is read again.
                log.critical(
                    "a consumed batch could not be applied; exiting without committing it",
                    extra={"consumer": self._processor.consumer},
                    exc_info=True,
                )
                self._on_unapplied()
                raise

    async def _finish_before_exit(self, work: asyncio.Future[None]) -> None:
        self.stopping = True
        try:
            async with asyncio.timeout(self._deadline / 2):  # see shared.waiting
                await asyncio.shield(work)
            return
        except Exception:
            log.critical(
                "a consumed batch could not be applied before shutdown; exiting without "
                "committing its offsets so that it is read again",
                extra={"consumer": self._processor.consumer},
            )
        self._on_unapplied()
