"""Operations on the whole platform: wait for infrastructure, create topics, migrate."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import asyncpg

from cachexia.errors import EXIT_FAILURE, EXIT_USAGE, InfrastructureError
from cachexia.services import service_definition
from shared.addresses import masked_url
from shared.contracts.topics import all_topic_names
from shared.db.migrations import migrate_service
from shared.embedded.password import PASSWORD_FILE, read_password
from shared.key_fingerprint import check_key_fingerprint
from shared.messaging.kafka import ensure_topics, kafka_reachable
from shared.secrets import subject_key_origin
from shared.settings import SERVICE_NAMES, PlatformSettings

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 10.0
# what asyncpg raises for a URL it cannot use (parsed only when connecting)
_MALFORMED = (ValueError, OverflowError, asyncpg.ClientConfigurationError)
_UNREACHABLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
# the server's answer to a password (or a user) it does not take: class 28
_REFUSED = asyncpg.InvalidAuthorizationSpecificationError


async def connect_platform(
    settings: PlatformSettings, timeout: float = CONNECT_TIMEOUT_SECONDS
) -> asyncpg.Connection:
    """A connection to the settings' database (``connect_postgres``); on embedded
    infrastructure a refused password names the file it was read from (review 156)."""
    password_file = settings.data_dir / PASSWORD_FILE if settings.uses_embedded_postgres else None
    return await connect_postgres(settings.postgres_dsn, timeout, password_file=password_file)


async def connect_postgres(
    dsn: str, timeout: float = CONNECT_TIMEOUT_SECONDS, *, password_file: Path | None = None
) -> asyncpg.Connection:
    """A connection, or InfrastructureError naming the database (password masked).
    ``password_file``: where the embedded server's password in ``dsn`` was read from, named
    when the server refuses it."""
    try:
        return await asyncpg.connect(dsn, timeout=timeout)
    except _MALFORMED as exc:
        raise InfrastructureError(
            f"the PostgreSQL URL {masked_url(dsn)} is malformed ({_reason(exc, dsn)}): "
            "correct DATABASE_URL (postgresql://user:password@host:port/database)",
            EXIT_USAGE,
        ) from exc
    except _REFUSED as exc:  # it answered: running, but not for this password
        if password_file is None:
            raise InfrastructureError(_unreachable(dsn, exc)) from exc
        raise InfrastructureError(_password_refused(dsn, exc, password_file)) from exc
    except _UNREACHABLE as exc:
        raise InfrastructureError(_unreachable(dsn, exc)) from exc


def _reason(exc: BaseException, dsn: str) -> str:
    """The error's text, never with the URL's password in it (were a driver to quote it)."""
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    masked = masked_url(dsn)
    if masked != dsn:
        reason = reason.replace(dsn, masked)
        for secret in _passwords(dsn) - {""}:
            reason = reason.replace(secret, "***")
    return reason


def _passwords(dsn: str) -> set[str]:
    with contextlib.suppress(ValueError):
        parts = urlsplit(dsn)
        query = dict(parse_qsl(parts.query))
        return {parts.password or "", unquote(parts.password or ""), query.get("password", "")}
    return set()


def _unreachable(dsn: str, exc: BaseException) -> str:
    return (
        f"PostgreSQL at {masked_url(dsn)} could not be reached ({_reason(exc, dsn)}); start "
        "the platform with `make run` (or `cachexia up`); if it runs on moved ports, export "
        "the same CACHEXIA_EMBEDDED_POSTGRES_PORT here; or check DATABASE_URL if it points "
        "at your own server"
    )


def _password_refused(dsn: str, exc: BaseException, password_file: Path) -> str:
    """Run from another directory, an operator command reads another data directory: the
    server runs, and refuses the password found there, or none (review 156)."""
    path = password_file.resolve()
    if not path.exists():
        read = f"no password: {path} does not exist"
    elif read_password(path) is None:
        read = f"no password: {path} is empty or cannot be read"
    else:
        read = f"the password in {path} is refused"
    return (
        f"the embedded PostgreSQL at {masked_url(dsn)} refused this command "
        f"({_reason(exc, dsn)}): {read}; this command's data directory is "
        f"{path.parent.parent}, not the platform's: run it from the directory `make run` was "
        "started in, or set CACHEXIA_DATA_DIR to the platform's data directory (the default, "
        ".data, is relative to the current directory)"
    )


class StopRequested(Exception):
    """Asked to stop (Ctrl-C, SIGTERM) while waiting: nothing failed, nothing to report."""


async def unless_stopped(step: Callable[[], Awaitable[T]], stopping: asyncio.Event | None) -> T:
    """``step()``'s result; cancelled, and StopRequested raised, as soon as ``stopping`` is
    set (also when it was set before). Without ``stopping``, just ``step()``."""
    if stopping is None:
        return await step()
    if stopping.is_set():
        raise StopRequested
    running = asyncio.ensure_future(step())
    stop_requested = asyncio.ensure_future(stopping.wait())
    either: set[asyncio.Future[Any]] = {running, stop_requested}
    try:
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_requested.cancel()
        finished = running.done()
        if not finished:  # left to unwind on its own; its outcome is of no interest now
            running.add_done_callback(_discard_outcome)
            running.cancel()
    if finished:
        return running.result()
    raise StopRequested


def _discard_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _pause(seconds: float, stopping: asyncio.Event | None) -> None:
    await unless_stopped(lambda: asyncio.sleep(seconds), stopping)


async def wait_for_postgres(
    dsn: str, timeout: float = 30.0, stopping: asyncio.Event | None = None
) -> None:
    """Return once PostgreSQL accepts a connection; StopRequested as soon as ``stopping``
    is set, whatever the wait is doing (connecting, pausing between attempts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await unless_stopped(lambda: connect_postgres(dsn, timeout=2), stopping)
        except InfrastructureError as exc:
            if exc.exit_code != EXIT_FAILURE or time.monotonic() > deadline:
                raise
            await _pause(0.2, stopping)
        else:
            await conn.close()
            return


async def wait_for_kafka(
    servers: str, timeout: float = 30.0, stopping: asyncio.Event | None = None
) -> None:
    """Return once the cluster answers; StopRequested as soon as ``stopping`` is set."""
    deadline = time.monotonic() + timeout
    while not await unless_stopped(lambda: kafka_reachable(servers), stopping):
        if time.monotonic() > deadline:
            raise InfrastructureError(
                f"Kafka at {servers} did not answer within {timeout:.0f} s: check "
                "KAFKA_BOOTSTRAP_SERVERS and that the brokers run"
            )
        await _pause(0.2, stopping)


async def create_topics(settings: PlatformSettings) -> list[str]:
    return await ensure_topics(
        settings.kafka_servers,
        all_topic_names(),
        settings.topic_partitions,
        settings.topic_replication_factor,
    )


async def migrate_all(settings: PlatformSettings) -> dict[str, list[str]]:
    conn = await connect_platform(settings)
    try:
        applied = {}
        for name in SERVICE_NAMES:
            definition = service_definition(name)
            applied[name] = await migrate_service(
                conn, definition.schema, definition.migrations, definition.shared_migrations
            )
        return applied
    finally:
        await conn.close()


async def check_subject_key(settings: PlatformSettings, key: bytes) -> bool:
    """Record the patient-matching key's fingerprint on a new platform (True), else check
    it: SubjectKeyMismatch if the platform's data was hashed with another key."""
    conn = await connect_platform(settings)
    try:
        return await check_key_fingerprint(conn, key, subject_key_origin(settings))
    finally:
        await conn.close()
