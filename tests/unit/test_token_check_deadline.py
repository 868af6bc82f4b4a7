"""A token check the database never answers is cut off at ``TokenStore``'s deadline (the
ingest's 5 s), not after the pool's 30 s command timeout and asyncpg's 30 s wait for its
cancel request (review 87): every route behind ``requires`` answers 503 with Retry-After,
never 401, and the cut-off connection is closed and its server process ended. Fakes of the
pool; no database."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from services.lab_ingestion.service_layer.group_commit import GIVE_UP_AFTER_SECONDS
from shared.auth import TOKEN_CHECK_SECONDS, Role, TokenStore, new_token
from shared.metrics import ReadinessMetrics
from shared.web.app import ReadinessChecks, build_http_app, requires
from tests.unit.lab_ingestion.test_group_commit_hang import error_within

SERVER_PID = 4242


class SilentConnection:
    """A connection whose statements never answer (a frozen server)."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.terminated = False

    async def fetchrow(self, *_: Any) -> Any:
        self.asked.set()
        await asyncio.Event().wait()  # never answered

    def get_server_pid(self) -> int:
        return SERVER_PID

    def terminate(self) -> None:
        self.terminated = True

    def is_closed(self) -> bool:
        return self.terminated

    def is_in_transaction(self) -> bool:
        return False


class EndingConnection(SilentConnection):
    """The connection that asks the server to end a cut-off statement's process: answers."""

    def __init__(self, ended: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.ended = ended

    async def fetchval(self, sql: str, *args: Any) -> bool:
        assert "pg_terminate_backend" in sql
        self.ended.append(args)
        return True


class SilentPool:
    """Lends connections that never answer; ``silent_acquire``: lends none, ever (every
    connection busy, or a connect the server never answers). What is lent while a lookup is
    being cut off asks the server to end the lookup's process, and is answered."""

    def __init__(self, silent_acquire: bool = False) -> None:
        self.silent_acquire = silent_acquire
        self.lookups: list[SilentConnection] = []
        self.lent = 0
        self.ended: list[tuple[Any, ...]] = []  # pg_terminate_backend's arguments

    @property
    def conn(self) -> SilentConnection:
        return self.lookups[-1]

    def get_max_size(self) -> int:
        return 10

    async def acquire(self, timeout: float | None = None) -> SilentConnection:
        task = asyncio.current_task()
        if task is not None and task.cancelling():  # ReservedConnections._end's
            self.lent += 1
            return EndingConnection(self.ended)
        if self.silent_acquire:
            await asyncio.Event().wait()
        self.lent += 1
        self.lookups.append(SilentConnection())
        return self.conn

    async def release(self, conn: SilentConnection) -> None:
        self.lent -= 1


def test_a_token_check_gets_the_deadline_of_the_ingest() -> None:
    assert TOKEN_CHECK_SECONDS == GIVE_UP_AFTER_SECONDS


async def test_a_lookup_that_never_answers_is_cut_off_and_its_server_process_ended() -> None:
    pool = SilentPool()
    store = TokenStore(pool, check_seconds=0.2)  # a fake pool
    error = await error_within(1.0, store.authenticate(new_token()))
    assert isinstance(error, TimeoutError)  # a passing failure: 503, never 401
    assert pool.conn.terminated, "the cut-off connection is not reused"
    assert pool.lent == 0, "the connection went back to the pool"
    assert pool.ended and pool.ended[0][0] == SERVER_PID, "its statement would run on"


async def test_a_pooled_connection_never_lent_is_cut_off_too() -> None:
    pool = SilentPool(silent_acquire=True)
    store = TokenStore(pool, check_seconds=0.2)  # a fake pool
    assert isinstance(await error_within(1.0, store.authenticate(new_token())), TimeoutError)


async def test_a_cut_off_check_is_not_cached() -> None:
    pool = SilentPool()
    store = TokenStore(pool, check_seconds=0.1)  # a fake pool
    token = new_token()
    for _ in range(2):
        assert isinstance(await error_within(1.0, store.authenticate(token)), TimeoutError)
    assert len(pool.ended) == 2  # asked again, not answered from a cache
    assert all(conn.terminated for conn in pool.lookups) and pool.lent == 0


async def test_every_guarded_route_answers_503_with_retry_after_within_the_deadline() -> None:
    async def reached(_: web.Request) -> web.Response:
        raise AssertionError("the handler ran without a checked token")

    registry = CollectorRegistry()
    pool = SilentPool()
    app = build_http_app(
        service="unit", registry=registry,
        readiness=ReadinessChecks({}, ReadinessMetrics(registry, "unit")),
        tokens=TokenStore(pool, check_seconds=0.3),  # a fake pool
        routes=[web.get("/guarded", requires(Role.SITE, Role.LAB)(reached))],
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    async with TestClient(TestServer(app)) as client:
        began = loop.time()
        headers = {"Authorization": f"Bearer {new_token()}"}
        async with client.get("/guarded", headers=headers) as answer:
            took = loop.time() - began
            assert answer.status == 503
            assert answer.headers["Retry-After"] == "5"
            assert "cannot check tokens" in (await answer.json())["detail"]
    assert took < 1.5
    assert pool.conn.terminated and pool.lent == 0
