"""The outbox relay's leadership: one relay per service schema publishes.

Leadership is a session-level advisory lock, held by one pooled connection for as long as
its relay publishes; the relay reads, publishes and marks through other connections. The
lock lasts exactly as long as that session: when it ends on its own (``pg_terminate_backend``,
``idle_session_timeout``, a fail-over, a firewall dropping the TCP connection) PostgreSQL
releases the lock and another instance's relay takes it. A relay that went on publishing
then would publish every unpublished event a second time beside the new leader. So before
each batch the relay confirms that its session is still open (``confirm``): asyncpg marks a
connection closed as soon as the server's goodbye or the socket's end arrives, which costs
nothing to ask. A session cut off silently (no packet arrives) is found by a keep-alive
statement every ``keepalive_seconds``, answered within ``keepalive_timeout``; the same
statement keeps ``idle_session_timeout`` and idle-connection firewalls off the session.

What this cannot close: a session that ends while a batch is being published (between its
check and its mark) lets the new leader publish that batch too; the consumers' inboxes drop
the copies, as after a relay crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import asyncpg

from shared.waiting import wait_event

_TRY_LOCK = "SELECT pg_try_advisory_lock(hashtext($1))"
KEEPALIVE_SECONDS = 1.0
KEEPALIVE_TIMEOUT_SECONDS = 2.0


class LeadershipLost(Exception):
    """The session holding the relay's lock ended: another relay may be publishing now."""


class Leadership:
    """The advisory lock of one relay, held by ``conn``'s session; ``channel`` names it and
    is listened on for the outbox trigger's notifications."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        channel: str,
        on_notify: Callable[..., None],
        *,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT_SECONDS,
    ) -> None:
        self._conn = conn
        self._channel = channel
        self._on_notify = on_notify
        self._keepalive_seconds = keepalive_seconds
        self._keepalive_timeout = keepalive_timeout
        self._next_keepalive = 0.0

    async def acquire(self, stopping: asyncio.Event) -> bool:
        """Wait until this relay leads (other instances' relays wait here), then listen;
        False if stopping came first."""
        key = f"outbox-relay:{self._channel}"
        while not await self._conn.fetchval(_TRY_LOCK, key):
            if await wait_event(stopping, 1.0):
                return False
        await self._conn.add_listener(self._channel, self._on_notify)
        self._next_keepalive = time.monotonic() + self._keepalive_seconds
        return True

    def confirm(self) -> None:
        """Raise LeadershipLost unless the lock's session is still open. No round trip."""
        try:
            closed = self._conn.is_closed()
        except asyncpg.InterfaceError:  # the pool took the broken connection back already
            closed = True
        if closed:
            raise LeadershipLost()

    async def keep_alive(self) -> None:
        """Confirm the session by a round trip when one is due; a session that does not
        answer in time is ended here (its lock with it, once the server notices)."""
        self.confirm()
        now = time.monotonic()
        if now < self._next_keepalive:
            return
        self._next_keepalive = now + self._keepalive_seconds
        try:
            async with asyncio.timeout(self._keepalive_timeout):
                await self._conn.execute("SELECT 1")
        except Exception as exc:  # whatever the cause, the session can no longer be trusted
            self._end()
            raise LeadershipLost() from exc

    async def release(self) -> None:
        """Stop listening and give up the lock before the connection goes back to the pool
        (which keeps sessions as they are); if that fails, end the session, and its lock
        with it."""
        try:
            if self._conn.is_closed():
                return
            await self._conn.remove_listener(self._channel, self._on_notify)
            await self._conn.execute("SELECT pg_advisory_unlock_all()")
        except Exception:  # whatever failed, ending the session is the way out
            self._end()

    def _end(self) -> None:
        with contextlib.suppress(asyncpg.InterfaceError):
            self._conn.terminate()
