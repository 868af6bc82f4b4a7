"""`cachexia up` keeps its embedded servers running: one that exits is started again.

Without this, a broker or PostgreSQL that crashed under `make run` would stop the whole trial
data flow until someone noticed: the services only retry. A server this platform started and
that is no longer running is started again, with back-off (1, 2, 4 ... 30 s), and said so:

* the broker keeps its logs in memory, so it comes back empty: the topics are created again
  at once (with their partition count: never auto-created), the relays find the events they
  published gone and republish them, and the consumers read the new logs from the beginning
  (their inboxes drop what they had applied);
* PostgreSQL restarts from its data folder (crash recovery replays its WAL: nothing committed
  is lost); the services retry transient database errors meanwhile.

A PostgreSQL found running when the platform started belongs to whoever started it: not
watched, never restarted. External infrastructure is not ours either.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from cachexia.embedded import spawn_broker, start_postgres
from cachexia.errors import InfrastructureError
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.tansu import EmbeddedTansu

RESTART_BACKOFF_MAX_SECONDS = 30.0
STABLE_SECONDS = 60.0  # up this long after a restart: the next exit starts the back-off anew


@dataclass
class Restarts:
    """When a server that exited is started again."""

    count: int = 0  # since it last ran for STABLE_SECONDS
    next_at: float | None = None  # set once its exit was noticed
    started_at: float | None = None

    def note_running(self, now: float) -> None:
        if self.started_at is not None and now - self.started_at >= STABLE_SECONDS:
            self.count, self.started_at = 0, None

    def schedule(self, now: float) -> float:
        self.count += 1
        delay = min(2.0 ** (self.count - 1), RESTART_BACKOFF_MAX_SECONDS)
        self.next_at = now + delay
        return delay


def postgres_alive(postgres: EmbeddedPostgres) -> bool:
    """True while the postmaster of ``postgres``'s data folder runs; cheap enough to ask
    twice a second (a signal 0 to the pid in postmaster.pid, no pg_ctl process)."""
    try:
        pid = int((postgres.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, and another user's (the server's system user)
        pass
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process whose parent has not reaped it yet (a container's first process may
    never reap): still there for a signal 0, but no server."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone meanwhile, or no /proc (not Linux): the signal 0 answered
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def broker_alive(broker: EmbeddedTansu) -> bool:
    return broker.process is not None and broker.process.poll() is None


class InfrastructureWatch:
    """Checked by ``cachexia up``'s supervisor loop; starts again what exited."""

    def __init__(
        self,
        broker: EmbeddedTansu | None,
        postgres: EmbeddedPostgres | None,
        *,
        say: Callable[[str], None],
        create_topics: Callable[[], Awaitable[object]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._broker = broker
        # a server found running is not ours to watch
        self._postgres = postgres if postgres is not None and not postgres.found_running else None
        self._say = say
        self._create_topics = create_topics
        self._clock = clock
        self.broker_restarts = Restarts()
        self.postgres_restarts = Restarts()
        self._starting: asyncio.Future[None] | None = None

    async def check(self) -> None:
        if self._postgres is not None:
            if postgres_alive(self._postgres):
                self.postgres_restarts.note_running(self._clock())
            else:
                await self._restart("PostgreSQL", self.postgres_restarts, self._start_postgres)
        if self._broker is not None:
            if broker_alive(self._broker):
                self.broker_restarts.note_running(self._clock())
            else:
                await self._restart("broker", self.broker_restarts, self._start_broker)

    async def _restart(
        self, what: str, restarts: Restarts, start: Callable[[], Awaitable[None]]
    ) -> None:
        now = self._clock()
        if restarts.next_at is None:
            delay = restarts.schedule(now)
            self._say(f"embedded {what} is not running; starting it again in {delay:.0f} s")
            return
        if now < restarts.next_at:
            return
        try:
            await start()
        except (InfrastructureError, RuntimeError, OSError) as failure:
            delay = restarts.schedule(self._clock())
            self._say(f"embedded {what} did not start ({failure}); trying again in {delay:.0f} s")
            return
        restarts.next_at, restarts.started_at = None, self._clock()
        self._say(f"embedded {what} started again")

    async def settle(self) -> None:
        """Wait for a start under way (bounded by the start's own timeouts: 20 s for the
        broker, 60 s for pg_ctl): one abandoned by a stop would start a server after the
        platform stopped its servers, and outlive it."""
        if self._starting is not None:
            with contextlib.suppress(Exception):  # said by the check that began it, if it ran
                await self._starting
            self._starting = None

    async def _in_thread(self, start: Callable[[Any], None], server: object) -> None:
        """``start(server)`` on a worker thread that a stop request does not abandon."""
        self._starting = asyncio.ensure_future(asyncio.to_thread(start, server))
        await asyncio.shield(self._starting)
        self._starting = None

    async def _start_postgres(self) -> None:
        postgres = self._postgres
        assert postgres is not None
        try:
            await self._in_thread(start_postgres, postgres)
        except Exception:
            if not postgres.found_running:
                raise
            # (a server found running that then failed: asking it for its password too)
        if postgres.found_running:
            # pg_ctl counts a killed postmaster that its parent has not reaped (a zombie) as
            # running; PostgreSQL will not start while that pid is there. Still ours.
            postgres.found_running = False
            raise InfrastructureError(
                "its killed process has not been reaped yet (a zombie holds its pid)"
            )

    async def _start_broker(self) -> None:
        broker = self._broker
        assert broker is not None
        spawn_broker(broker)  # from the loop's, the main, thread: it ends with `cachexia up`
        await self._in_thread(_wait_listening, broker)
        try:  # at once: before a client's metadata request could auto-create one
            await self._create_topics()
        except (KafkaError, OSError, TimeoutError) as failure:
            self._say(f"topics not created yet ({type(failure).__name__}); the services will")


def _wait_listening(broker: EmbeddedTansu) -> None:
    broker.wait_listening()
