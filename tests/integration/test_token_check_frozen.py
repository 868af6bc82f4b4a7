"""A token check on a server that stops answering altogether (review 87: PostgreSQL's
processes stopped, connections open, nothing answered), with open connections idle in the
pool: the check is cut off at its deadline and its server process asked to end within half
a second more; that request, on another pooled connection that does not answer either, is
itself cut off and its connection terminated, not released after asyncpg's cancel request
(which a frozen server never answers: the 30 s command timeout)."""

from __future__ import annotations

import time

import pytest

from shared.auth import TokenStore, new_token
from shared.db.pool import END_BACKEND_TIMEOUT_SECONDS, create_pool
from tests.integration.test_group_commit_hang import FreezableProxy, proxied  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration

CHECK_SECONDS = 1.0


async def test_a_check_on_a_frozen_server_is_answered_within_its_deadline(
    proxied: tuple[str, FreezableProxy],  # noqa: F811 - the fixture, imported
) -> None:
    dsn, proxy = proxied
    pool = await create_pool(dsn, "public", "test-frozen-tokens", min_size=3, max_size=4)
    try:
        store = TokenStore(pool, check_seconds=CHECK_SECONDS)
        assert await store.authenticate(new_token()) is None  # answered: unknown
        assert pool.get_idle_size() >= 2  # open connections, which the freeze leaves open
        proxy.answering.clear()
        began = time.monotonic()
        with pytest.raises(TimeoutError):  # answered 503 by requires(), never 401
            await store.authenticate(new_token())
        assert time.monotonic() - began < CHECK_SECONDS + END_BACKEND_TIMEOUT_SECONDS + 0.5
        assert pool.get_size() - pool.get_idle_size() == 0, "a connection is still lent"
    finally:
        pool.terminate()
