"""Bearer tokens with roles. Only the SHA-256 digest of a token is ever stored."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from shared.db.pool import ReservedConnections, broken_connection
from shared.principals import Principal, Role
from shared.site_ids import site_id_problem

__all__ = [  # Principal and Role: defined driver-free in shared.principals, used from here
    "TOKEN_CHECK_SECONDS", "TOKEN_PREFIX", "IssuedToken", "Principal", "Role", "TokenRecord",
    "TokenStore", "check_binding", "create_token", "issue_token", "list_tokens", "new_token",
    "revoke_tokens", "token_digest",
]  # fmt: skip

# How long a token check (a pooled connection, then the lookup) may take before the request
# is answered 503 with Retry-After: the deadline lab-ingestion gives a batch
# (``GIVE_UP_AFTER_SECONDS``), so that a database that accepts connections but never answers
# is answered "resend" as soon on HTTP as on MLLP, not after the pool's 30 s command timeout
# and asyncpg's 30 s wait for its cancel request
TOKEN_CHECK_SECONDS = 5.0

TOKEN_PREFIX = "cx_"  # noqa: S105 - a public prefix that marks our tokens, not a secret


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never kept
    token_id: uuid.UUID


@dataclass(frozen=True)
class TokenRecord:
    """What is kept of a token (never the token itself)."""

    token_id: uuid.UUID
    name: str
    role: Role
    senders: tuple[str, ...] | None
    site: str | None
    created_at: datetime
    revoked_at: datetime | None


async def issue_token(
    conn: asyncpg.Connection,
    name: str,
    role: Role,
    senders: Sequence[str] | None = None,
    *,
    site: str | None = None,
) -> IssuedToken:
    """Store a new token's digest; return the token itself and its id (to revoke it by).
    ``senders`` binds a lab token to the senders it may deliver results as; ``site`` (which
    a site token needs, and no other has) binds a site token to the site whose subjects it
    reads."""
    check_binding(role, senders, site)
    issued = IssuedToken(new_token(), uuid.uuid4())
    await conn.execute(
        """INSERT INTO auth.api_tokens (token_id, name, role, token_sha256, senders, site)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        issued.token_id, name, role.value, token_digest(issued.token),
        sorted(set(senders)) if senders is not None else None, site,
    )  # fmt: skip
    return issued


def check_binding(role: Role, senders: Sequence[str] | None, site: str | None) -> None:
    """ValueError, saying which option is wrong, when a token of ``role`` cannot be bound so."""
    if senders is not None and role is not Role.LAB:
        raise ValueError("only a lab token delivers results: --sender needs --role lab")
    if site is not None and role is not Role.SITE:
        raise ValueError(
            "--site binds a site token to its site's subjects: use it with --role site"
        )
    if site is None and role is Role.SITE:
        raise ValueError(
            "a site token reads only its own site's subjects: name the site with --site SITE"
        )
    if site is not None and (problem := site_id_problem(site)) is not None:
        raise ValueError(problem)


async def create_token(
    conn: asyncpg.Connection,
    name: str,
    role: Role,
    senders: Sequence[str] | None = None,
    *,
    site: str | None = None,
) -> str:
    """As ``issue_token``; the token alone."""
    return (await issue_token(conn, name, role, senders, site=site)).token


async def revoke_tokens(
    conn: asyncpg.Connection, *, name: str | None = None, token_id: uuid.UUID | None = None
) -> int:
    """Revoke the token ``token_id``, or every token in use under ``name``; how many.
    Services refuse a revoked token once their cache of it expires (``TokenStore``: 30 s)."""
    if (name is None) == (token_id is None):
        raise ValueError("revoke by name or by id, one of them")
    result: str = await conn.execute(
        """UPDATE auth.api_tokens SET revoked_at = now()
            WHERE revoked_at IS NULL AND (token_id = $1 OR name = $2)""",
        token_id, name,
    )  # fmt: skip
    return int(result.rsplit(maxsplit=1)[-1])  # "UPDATE <count>"


async def list_tokens(conn: asyncpg.Connection) -> list[TokenRecord]:
    rows = await conn.fetch(
        """SELECT token_id, name, role, senders, site, created_at, revoked_at
             FROM auth.api_tokens ORDER BY created_at, token_id"""
    )
    return [_token_record(r) for r in rows]


def _token_record(row: asyncpg.Record) -> TokenRecord:
    senders = row["senders"]
    return TokenRecord(
        row["token_id"], row["name"], Role(row["role"]),
        tuple(senders) if senders is not None else None, row["site"], row["created_at"],
        row["revoked_at"],
    )  # fmt: skip


class TokenStore:
    """Resolves tokens to principals, caching answers briefly to keep requests cheap.

    A lookup (waiting for a pooled connection, then the query) is cut off after
    ``check_seconds`` with a TimeoutError, a passing failure (``TRANSIENT_DB_ERRORS``) that
    the caller answers 503, never 401; its connection is closed and its server process ended
    (``ReservedConnections``), so that nothing is left checked out or running."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        cache_seconds: float = 30.0,
        check_seconds: float = TOKEN_CHECK_SECONDS,
    ) -> None:
        self._connections = ReservedConnections(pool, keep=0)
        self._cache_seconds = cache_seconds
        self._check_seconds = check_seconds
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}

    async def authenticate(self, token: str) -> Principal | None:
        """The token's principal; None for an unknown, revoked or malformed token. Ours are
        ASCII: a header's other bytes arrive as surrogate escapes, which cannot be hashed.
        Raises TimeoutError when the database does not answer within ``check_seconds``."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200 or not token.isascii():
            return None
        digest = token_digest(token)
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with asyncio.timeout(self._check_seconds):  # see shared.waiting
            row = await self._lookup(digest)
        principal = _principal(row) if row else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self._cache_seconds, principal)
        return principal

    async def _lookup(self, digest: bytes) -> asyncpg.Record | None:
        conn = await self._connections.acquire()
        try:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT token_id, name, role, senders, site FROM auth.api_tokens"
                " WHERE token_sha256 = $1 AND revoked_at IS NULL",
                digest,
            )
        except BaseException as exc:
            broken = await broken_connection(conn, exc)  # ended by the server: transient
            await self._connections.release(conn, failed=True)  # cut off: ended (_end)
            if broken is not None:
                raise broken from exc
            raise
        await self._connections.release(conn)
        return row


def _principal(row: asyncpg.Record) -> Principal:
    senders = row["senders"]
    return Principal(
        row["token_id"], row["name"], Role(row["role"]),
        frozenset(senders) if senders is not None else None, row["site"],
    )  # fmt: skip
