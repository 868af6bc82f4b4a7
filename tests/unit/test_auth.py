"""Bearer tokens: generation, digests, and the caching TokenStore (fake pool, no database)."""

from __future__ import annotations

import hashlib
import string
import uuid
from typing import Any

import pytest

from shared.auth import TOKEN_PREFIX, Principal, Role, TokenStore, new_token, token_digest

URLSAFE = set(string.ascii_letters + string.digits + "-_")


class FakePool:
    """A pool lending itself as its one connection (``ReservedConnections`` asks these)."""

    released = 0

    def get_max_size(self) -> int:
        return 10

    async def acquire(self, timeout: float | None = None) -> Any:
        return self

    async def release(self, conn: Any) -> None:
        self.released += 1

    def is_closed(self) -> bool:
        return False

    def is_in_transaction(self) -> bool:
        return False


class ForbiddenPool(FakePool):
    """A pool the code must not touch."""

    async def acquire(self, timeout: float | None = None) -> Any:
        raise AssertionError("the database was asked about a token that cannot be valid")


class CountingPool(FakePool):
    def __init__(self, rows: dict[bytes, dict[str, Any]] | None = None) -> None:
        self.rows = rows or {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        self.calls.append((sql, args))
        return self.rows.get(args[0])


# --- tokens -----------------------------------------------------------------------------------


def test_new_token_has_the_prefix_and_enough_entropy() -> None:
    token = new_token()
    assert token.startswith(TOKEN_PREFIX)
    assert len(token) >= 40
    body = token.removeprefix(TOKEN_PREFIX)
    assert set(body) <= URLSAFE
    assert len(body) >= 43  # 32 random bytes, base64url


def test_new_tokens_differ() -> None:
    tokens = {new_token() for _ in range(500)}
    assert len(tokens) == 500
    # no shared long prefix beyond TOKEN_PREFIX: the randomness is in the whole body
    assert len({t[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + 4] for t in tokens}) > 400


def test_token_digest_is_sha256() -> None:
    digest = token_digest("abc")
    assert isinstance(digest, bytes)
    assert len(digest) == 32
    assert digest.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_token_digest_is_deterministic_and_distinguishes_tokens() -> None:
    token = new_token()
    assert token_digest(token) == token_digest(token)
    assert token_digest(token) == hashlib.sha256(token.encode()).digest()
    assert token_digest(token) != token_digest(token + "x")


# --- TokenStore -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["", "abc", "Bearer cx_abc", "CX_abc", "cx", " cx_abc", "cx_" + "a" * 198],
)
async def test_tokens_that_cannot_be_valid_never_reach_the_database(token: str) -> None:
    store = TokenStore(ForbiddenPool())  # a fake of the pool
    assert await store.authenticate(token) is None


async def test_a_known_token_resolves_to_its_principal() -> None:
    token, token_id = new_token(), uuid.uuid4()
    pool = CountingPool(
        {
            token_digest(token): {
                "token_id": token_id,
                "name": "lab-1",
                "role": "lab",
                "senders": None,
                "site": None,
            }
        }
    )
    store = TokenStore(pool)  # a fake of the pool

    principal = await store.authenticate(token)
    assert principal == Principal(token_id, "lab-1", Role.LAB)
    assert principal.senders is None  # not bound: any sender
    [(sql, args)] = pool.calls
    assert args == (token_digest(token),), "only the digest is sent to the database"
    assert token not in sql
    assert "revoked_at IS NULL" in sql
    assert pool.released == 1, "the connection went back to the pool"


async def test_answers_are_cached() -> None:
    token = new_token()
    pool = CountingPool(
        {
            token_digest(token): {
                "token_id": uuid.uuid4(),
                "name": "n",
                "role": "ops",
                "senders": None,
                "site": None,
            }
        }
    )
    store = TokenStore(pool)  # a fake of the pool

    first = await store.authenticate(token)
    second = await store.authenticate(token)
    assert first is not None
    assert first == second
    assert first.role is Role.OPS
    assert len(pool.calls) == 1


async def test_unknown_tokens_are_cached_too() -> None:
    pool = CountingPool()
    store = TokenStore(pool)  # a fake of the pool
    token = new_token()
    assert await store.authenticate(token) is None
    assert await store.authenticate(token) is None
    assert len(pool.calls) == 1


async def test_the_cache_is_per_token() -> None:
    pool = CountingPool()
    store = TokenStore(pool)  # a fake of the pool
    await store.authenticate(new_token())
    await store.authenticate(new_token())
    assert len(pool.calls) == 2


async def test_cached_answers_expire() -> None:
    pool = CountingPool()
    store = TokenStore(pool, cache_seconds=0)  # a fake of the pool
    token = new_token()
    await store.authenticate(token)
    await store.authenticate(token)
    assert len(pool.calls) == 2


async def test_a_token_bound_to_senders_resolves_with_them() -> None:
    token = new_token()
    row = {
        "token_id": uuid.uuid4(), "name": "lis", "role": "lab", "senders": ["LIS^HOSP"],
        "site": None,
    }  # fmt: skip
    store = TokenStore(CountingPool({token_digest(token): row}))  # a fake pool
    principal = await store.authenticate(token)
    assert principal is not None and principal.senders == frozenset({"LIS^HOSP"})


async def test_a_site_token_resolves_with_its_site_and_an_old_one_with_none() -> None:
    """The site is read with the token (one lookup, cached as before); a site token stored
    before tokens named their site resolves with none (it then reads no subject)."""
    bound, old = new_token(), new_token()
    rows = {
        token_digest(bound): {"token_id": uuid.uuid4(), "name": "site CH-01", "role": "site",
                              "senders": None, "site": "CH-01"},
        token_digest(old): {"token_id": uuid.uuid4(), "name": "site", "role": "site",
                            "senders": None, "site": None},
    }  # fmt: skip
    pool = CountingPool(rows)
    store = TokenStore(pool)  # a fake pool
    principal = await store.authenticate(bound)
    assert principal is not None and principal.site == "CH-01"
    assert "site" in pool.calls[0][0]
    unbound = await store.authenticate(old)
    assert unbound is not None and unbound.role is Role.SITE and unbound.site is None
