"""Start-up under a stop request: a dependency (PostgreSQL, Kafka) is waited for until it
answers or a stop is requested, and a start-up that a stop request cuts short, whatever step
it is in, is cancelled, given a moment to unwind, then abandoned."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka.errors import KafkaError

from shared.db.faults import DEPLOYMENT_DB_ERRORS
from shared.db.pool import TRANSIENT_DB_ERRORS
from shared.errors import error_kind
from shared.shutdown import ShutdownBudget, run_bounded
from shared.waiting import wait_event

log = logging.getLogger(__name__)
T = TypeVar("T")

# A start-up cut short by a stop request gets at most this share of the shutdown deadline
# to unwind (a step that ignores cancellation, faust's start, is abandoned after it)
START_UNWIND_SHARE = 0.2
START_UNWIND_MAX_SECONDS = 1.0


class StartAborted(Exception):
    """Asked to stop while still waiting for a dependency: nothing to report."""


async def retry_dependency(
    stopping: asyncio.Event, what: str, attempt: Callable[[], Awaitable[T]]
) -> T:
    backoff = 0.2
    while True:
        if stopping.is_set():  # no new attempt once a stop is requested
            raise StartAborted
        try:
            return await attempt()
        except DEPLOYMENT_DB_ERRORS:
            raise  # a migration's SQL or grants, a role or database gone: said at once
        except (KafkaError, *TRANSIENT_DB_ERRORS) as exc:
            if stopping.is_set():
                raise StartAborted from exc
            # the type and SQLSTATE or errno only: an error's text can quote data (asyncpg's
            # DETAIL) or the settings (a host, a user name)
            log.warning(
                "waiting for a dependency", extra={"dependency": what, "error": error_kind(exc)}
            )
            await wait_event(stopping, backoff)
            backoff = min(backoff * 2, 5.0)


async def abandon_start(starting: asyncio.Future[None], budget: ShutdownBudget) -> None:
    """Cancel a start-up still under way; give it a moment to unwind, then leave it."""
    if starting.done():
        if not starting.cancelled():
            starting.exception()  # retrieved: raised above, or run itself was cancelled
        return
    log.info("stopped before start-up completed")
    starting.cancel()
    allowance = min(budget.seconds * START_UNWIND_SHARE, START_UNWIND_MAX_SECONDS)
    await run_bounded("start-up", starting, budget.allow(allowance))
