"""retry_dependency logs what failed by its type and code, never the error's text."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from shared.startup import retry_dependency

SECRET = "MRN-4711 Smith"  # what an error's text may quote: never to be logged


def failing_once(error: BaseException) -> Callable[[], Awaitable[str]]:
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise error
        return "ready"

    return attempt


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (
            asyncpg.exceptions.CannotConnectNowError.new(
                {"S": "FATAL", "C": "57P03", "M": f"the database system is starting ({SECRET})"}
            ),
            "CannotConnectNowError (SQLSTATE 57P03)",
        ),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, f"refused for {SECRET}"),
            f"ConnectionRefusedError (errno {errno.ECONNREFUSED})",
        ),
    ],
)
async def test_a_dependency_waited_for_is_logged_by_its_errors_type_and_code(
    error: BaseException, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="shared.startup")
    assert await retry_dependency(asyncio.Event(), "postgres", failing_once(error)) == "ready"

    [record] = [r for r in caplog.records if r.getMessage() == "waiting for a dependency"]
    assert record.__dict__["dependency"] == "postgres"
    assert record.__dict__["error"] == logged
    assert SECRET not in repr(record.__dict__)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("42501", asyncpg.exceptions.InsufficientPrivilegeError),
        ("42601", asyncpg.exceptions.PostgresSyntaxError),
        ("3D000", asyncpg.exceptions.InvalidCatalogNameError),
        ("28P01", asyncpg.exceptions.InvalidPasswordError),
    ],
)
async def test_a_fault_of_the_deployment_stops_the_start_at_once(
    code: str, error: type[asyncpg.PostgresError]
) -> None:
    """Retried while running (review 145: never the message's fault), but at start-up a
    migration's grant or SQL, or a database or role gone, is said at once, not waited for."""
    fault = error.new({"S": "ERROR", "C": code, "M": "denied"})
    with pytest.raises(error):
        await asyncio.wait_for(
            retry_dependency(asyncio.Event(), "postgres", failing_once(fault)), timeout=5
        )
