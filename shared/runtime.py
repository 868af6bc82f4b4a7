"""Runs one service: HTTP, database, migrations, topics, outbox relay, faust consumers.

Start-up order lets ``/healthz`` answer at once and ``/readyz`` say what is missing while
PostgreSQL or Kafka are not there yet; ``/readyz`` says ready only once start-up has finished
and until shutdown begins. Shutdown (SIGINT/SIGTERM) has a hard deadline, counted from the
stop request whatever the service was doing then, start-up included: the start-up step under
way is cancelled (abandoned if it ignores that) and the watchdog is armed at once. A
background task that ends while the service runs stops the service with a failure, so that
the process exits non-zero and its supervisor restarts it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web

from shared.addresses import host_port
from shared.auth import TokenStore
from shared.db.migrations import migrate_service
from shared.db.pool import create_pool, postgres_reachable
from shared.db.pooled import pooled
from shared.listening import listen_error, listener_failure
from shared.messaging.kafka import kafka_reachable
from shared.messaging.relay import OutboxRelay
from shared.metrics import ReadinessMetrics, new_registry
from shared.service import ConsumerDefinition, ServiceContext, ServiceDefinition, ServiceParts
from shared.service_messaging import ServiceMessaging
from shared.settings import PlatformSettings
from shared.shutdown import (
    WATCHDOG_MARGIN_SECONDS,
    ShutdownBudget,
    ShutdownWatchdog,
    run_bounded,
)
from shared.startup import StartAborted, abandon_start, retry_dependency
from shared.waiting import wait_event
from shared.web.app import HANDLER_ARGS, Check, ReadinessChecks, build_http_app

log = logging.getLogger(__name__)

# Background tasks get this long to end on their own once stopping (a batch being committed,
# the MLLP listener's grace for its ACKs) before they are cancelled
TASKS_END_SECONDS = 2.5
# how long start-up waits for a consumer's first look at whether it has caught up before the
# listeners open (it goes on watching in the background: ``shared.streaming.catch_up``)
FIRST_CATCH_UP_LOOK_SECONDS = 5.0


class BackgroundTaskFailed(Exception):
    """A task the runtime ran for the service ended while the service was not stopping.

    ``ServiceRuntime.run`` raises it after an orderly stop. ``cachexia service`` lets it
    escape ``asyncio.run``, so the process exits with status 1 and its supervisor
    (``cachexia up``, the container's restart policy) starts it again.
    """


def _as_check(flag: Callable[[], bool]) -> Check:
    async def check() -> bool:
        return flag()

    return check


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
        self.messaging = ServiceMessaging(self.name, settings, self.registry)
        self.parts: ServiceParts | None = None
        self._tasks: list[asyncio.Future[None]] = []
        self._failure: Exception | None = None  # raised by run: a task ended on its own
        self._http: web.AppRunner | None = None
        self._tokens: TokenStore | None = None
        self._readiness = ReadinessChecks(
            {"postgres": self._postgres_ok, "kafka": self._kafka_ok},
            ReadinessMetrics(self.registry, self.name),
            started=self.started.is_set,
            stopping=self.stopping.is_set,
        )

    # ---- readiness -------------------------------------------------------------------
    async def _postgres_ok(self) -> bool:
        return self.pool is not None and await postgres_reachable(self.pool)

    async def _kafka_ok(self) -> bool:
        return await kafka_reachable(self.settings.kafka_servers)

    # ---- lifecycle -------------------------------------------------------------------
    async def run(
        self, install_signal_handlers: bool = True, watchdog: ShutdownWatchdog | None = None
    ) -> None:
        """Start, serve until SIGINT/SIGTERM (or ``stopping`` is set), then stop.

        ``install_signal_handlers``: this runtime owns the process (``cachexia service``):
        signals stop it and, unless ``watchdog`` is given, a ShutdownWatchdog ends the
        process should it outlive the shutdown deadline. Callers running it in-process
        (tests) get neither unless they pass a ``watchdog``.

        Start-up runs as a task that a stop request cancels, whatever step it is in
        (connecting, migrating, creating topics, starting faust): the shutdown deadline
        counts from the request, and the watchdog is armed at that moment, not once
        start-up has given up. The watchdog is left armed when ``run`` returns:
        ``asyncio.run``'s clean-up, which can wait for leftover tasks (an abandoned
        start-up step among them) without limit, comes after; the interpreter's exit
        disarms it. Raises what start-up raised (other than a stop), once stopped, and
        BackgroundTaskFailed if a background task ended on its own (ListenError if it could
        not open its port).
        """
        if install_signal_handlers:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stopping.set)
            watchdog = watchdog if watchdog is not None else ShutdownWatchdog()
        starting = asyncio.ensure_future(self.start())
        try:
            await self._start_or_stop_request(starting)
            if starting.done():
                starting.result()  # start-up's failure, if any, after the stop below
                await self.stopping.wait()
        except StartAborted:
            log.info("stopped before start-up completed")
        finally:
            self.stopping.set()  # not ready from now on, and background tasks wind down
            if watchdog is not None:
                watchdog.arm(self.settings.shutdown_deadline_seconds + WATCHDOG_MARGIN_SECONDS)
            budget = ShutdownBudget(self.settings.shutdown_deadline_seconds)
            await abandon_start(starting, budget)
            await self.stop(budget)
        if self._failure is not None:
            raise self._failure

    async def _start_or_stop_request(self, starting: asyncio.Future[None]) -> None:
        """Wait until start-up is over or a stop is requested, whichever comes first."""
        stop_requested = asyncio.ensure_future(self.stopping.wait())
        either: set[asyncio.Future[Any]] = {starting, stop_requested}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_requested.cancel()

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
        self._readiness.checks.update(
            {name: _as_check(flag) for name, flag in self.parts.readiness.items()}
        )
        await self._start_http(self.parts)
        applied = await retry_dependency(self.stopping, "postgres", self._migrate)
        if applied:
            log.info("migrations applied", extra={"migrations": applied})
        await retry_dependency(self.stopping, "kafka", self.messaging.ensure_topics)
        self._start_relay(schema)
        await self.messaging.start_consumers(list(self.parts.consumers))
        if self.parts.consumers:
            self._spawn("faust-consumers", self.messaging.watch_consumers(self.stopping))
        await self._watch_catch_up(self.parts.consumers)
        for task in self.parts.background:
            self._spawn(str(getattr(task, "__name__", "background")), task(self.stopping))
        self._spawn("topic-watch", self.messaging.watch_topics(self.stopping))
        for listening in self.parts.listening:  # ready only once every listener listens
            await listening()
        self.started.set()
        log.info("service started", extra={"addresses": self.addresses()})

    async def _watch_catch_up(self, consumers: list[ConsumerDefinition]) -> None:
        """Watch each consumer that asks to be told when it has applied what its topics hold
        now (``ConsumerDefinition.on_caught_up``), and give the first look a moment before
        the listeners open: topics empty at start are caught up before any answer."""
        tried: list[asyncio.Event] = []
        for consumer in consumers:
            if consumer.on_caught_up is not None:
                tried.append(asyncio.Event())
                watching = self.messaging.watch_catch_up(consumer, self.stopping, tried[-1])
                self._spawn(f"{consumer.name}-catch-up", watching)
        for event in tried:
            await wait_event(event, FIRST_CATCH_UP_LOOK_SECONDS)

    async def _migrate(self) -> list[str]:
        assert self.pool is not None
        async with pooled(self.pool) as conn:  # an ended session: retried, as a lost one
            applied = await migrate_service(
                conn,
                self.definition.schema,
                self.definition.migrations,
                self.definition.shared_migrations,
            )
            for step in self.parts.after_migrations if self.parts else ():
                done = await step(conn)
                if done:
                    applied.append(done)
            return applied

    def addresses(self) -> dict[str, str]:
        address = host_port(self.settings.bind_host, self.settings.http_port(self.name))
        extra = self.parts.addresses if self.parts else {}
        return {"http": f"http://{address}", **extra}

    async def stop(self, budget: ShutdownBudget | None = None) -> None:
        """Stop every part in order, each step bounded, all within the shutdown deadline
        (what is left of ``budget``: ``run`` starts it when the stop was requested)."""
        self.stopping.set()
        if budget is None:
            budget = ShutdownBudget(self.settings.shutdown_deadline_seconds)
        await self.messaging.stop_consumers(budget)
        await self._end_tasks(budget)
        await self.messaging.stop_publisher(budget)
        if self._http is not None:
            await run_bounded("http", self._http.cleanup(), budget.allow(1.0))
        if self.pool is not None:
            await run_bounded("postgres", self.pool.close(), budget.allow(1.0))
            self.pool.terminate()
        log.info("service stopped")

    async def _end_tasks(self, budget: ShutdownBudget) -> None:
        """Background tasks see ``stopping`` and end on their own (a commit under way is
        finished and answered: lab-ingestion's listener sends its ACKs within its grace);
        those still running after their share of the deadline are cancelled."""
        if not self._tasks:
            return
        await asyncio.wait(self._tasks, timeout=budget.allow(TASKS_END_SECONDS))
        for task in self._tasks:
            task.cancel()
        gathered = asyncio.gather(*self._tasks, return_exceptions=True)
        await run_bounded("tasks", gathered, budget.allow(2.0))

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
        self._http = web.AppRunner(
            app, access_log=None, handle_signals=False, **HANDLER_ARGS,
            keepalive_timeout=self.settings.http_header_seconds,
        )  # fmt: skip
        await self._http.setup()
        host, port = self.settings.bind_host, self.settings.http_port(self.name)
        site = web.TCPSite(self._http, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            raise listen_error(self.settings, self.name, host, port, error) from None

    def _start_relay(self, schema: str) -> None:
        assert self.pool is not None
        self.relay = self.messaging.relay_for(self.pool, schema, self._outbox_written)
        self._spawn("outbox-relay", self.relay.run(self.stopping))

    # ---- helpers -------------------------------------------------------------------
    def _spawn(self, name: str, coro: Awaitable[None]) -> None:
        """Run ``coro`` until the service stops, watched by ``_on_task_done``."""
        task = asyncio.ensure_future(coro)
        task.add_done_callback(functools.partial(self._on_task_done, name))
        self._tasks.append(task)

    def _on_task_done(self, name: str, task: asyncio.Future[None]) -> None:
        """A background task runs until the service stops. One that ends before, by a crash
        or a return, would leave the service up and ready but silently doing less (a dead
        relay: /readyz says 200, results are acknowledged, nothing is published), so the
        service stops and ``run`` reports it. Logged by type only: a message can quote data;
        a listener's port it could not open is named, with the setting to change.
        """
        if task.cancelled():
            return
        error = task.exception()
        outcome = "returned" if error is None else type(error).__name__
        if self.stopping.is_set():
            if error is not None:
                log.warning(
                    "background task failed while stopping", extra={"task": name, "error": outcome}
                )
            return
        failure = listener_failure(self.settings, self.name, error)
        log.error(
            f"{failure}; stopping the service"
            if failure is not None
            else "background task ended while the service was running; stopping the service",
            extra={"task": name, "error": outcome},
        )
        if self._failure is None:
            self._failure = failure or BackgroundTaskFailed(
                f"background task {name} ({outcome}) ended"
            )
        self.stopping.set()
