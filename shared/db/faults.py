"""Which database errors are the storage's faults, not the work's (review 145).

A fault of the database or of its deployment (a connection lost, a fail-over, a full disk, a
grant revoked, a migration half applied, a corrupted page) is no fault of the work that met
it: the same work succeeds once the database is back as it should be, so it is retried and
then answered "resend", never kept as the work's own failure (lab-ingestion would keep a
lab's message as a poison message and tell the lab not to resend it; a consumer would
dead-letter every event it meets). What the work itself causes (its data: classes 22 and
23; a Python exception of our code on its content) fails again however often it is tried:
that is kept as the work's (a poison message).

Told apart by PostgreSQL's SQLSTATE class, which asyncpg maps to an exception class for
every code PostgreSQL defines; the classes below are the ones parameter data cannot cause.
A code asyncpg does not know (``UnknownPostgresError``: a custom code, such as the batch
guard's LI409, which lab-ingestion's repository turns into ``StaleBatch`` itself) is left
to its caller.
"""

from __future__ import annotations

import asyncio

import asyncpg
from asyncpg import exceptions as pg

# The SQLSTATE classes that are wholly the storage's (see TRANSIENT_DB_ERRORS for the single
# codes of other classes). A unit test checks the tuple against every code asyncpg knows.
STORAGE_SQLSTATE_CLASSES = frozenset(
    {"08", "0A", "0P", "26", "28", "3D", "3F", "42", "53", "57", "58", "72", "F0", "XX"}
)
STORAGE_SQLSTATES = frozenset({"25006", "25P03", "25P04", "40001", "40003", "40P01", "55P03"})

# The faults of the deployment rather than of an outage (among TRANSIENT_DB_ERRORS below): a
# migration's SQL or its grants, a role, schema or database gone, a server of another version
# or its configuration. Met while running, they are retried and answered resend; met at
# start-up, while the service migrates and checks its dependencies, they stop it at once with
# their kind named (``shared.startup.retry_dependency``): waiting would only hide them from
# whoever deploys it, behind a log of "waiting for a dependency" that is answering.
DEPLOYMENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    # 42: syntax error or access rule violation: a grant revoked (42501, or a row-level
    # security policy), a table or column renamed or dropped by a migration half applied
    # or not yet applied (42P01, 42703), a function missing (42883). Our SQL passes data as
    # parameters only, so no datum can cause one: the deployment's, until an operator
    # restores the grant or finishes the migration
    pg.SyntaxOrAccessError,
    # 3F, 3D: the schema or the database is gone; 28: the role may no longer log in
    # (28000, a password changed: 28P01); 0P: a role to switch to is gone
    pg.InvalidSchemaNameError,
    pg.InvalidCatalogNameError,
    pg.InvalidAuthorizationSpecificationError,
    pg.InvalidRoleSpecificationError,
    # 0A: a feature not supported here, such as a cached plan whose table a migration
    # changed (asyncpg's InvalidCachedStatementError) or a server of another version; 26: a
    # prepared statement the server no longer holds (a connection pooler in between)
    pg.FeatureNotSupportedError,
    pg.InvalidSQLStatementNameError,
    # XX: the server's internal error, or its data or an index corrupted (XX001, XX002):
    # an operator's to repair; F0: its configuration file
    pg.InternalServerError,
    pg.ConfigFileError,
)

# Errors after which the same work may succeed later, because they come from the database,
# its deployment or the network rather than from the work itself; anything else is a bug or
# bad data, and retrying it would only fail again (a consumer dead-letters it, lab-ingestion
# keeps the message as its own failure). By PostgreSQL's SQLSTATE classes:
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    # the network blinked, the connection broke or never opened (asyncpg's own errors too)
    OSError,
    ConnectionError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,  # BrokenConnectionError too (``pool.broken_connection``)
    # 08: connection exceptions (the server refused or dropped the connection)
    pg.PostgresConnectionError,
    # 57: operator intervention: a statement_timeout (57014), a shutdown or crash (57P01,
    # 57P02), a server still starting (57P03), the database dropped (57P04) or an
    # idle_session_timeout (57P05)
    pg.OperatorInterventionError,
    # 55P03: a lock waited for longer than lock_timeout (set for application roles so that a
    # migration cannot pile every writer up behind it): nothing was done, and the same work
    # succeeds once the other writer lets go. The rest of class 55 is a bug of ours
    pg.LockNotAvailableError,
    # 53: out of disk (53100), memory (53200), connections (53300) or a server limit (53400);
    # the server's state, not the work's
    pg.InsufficientResourcesError,
    # 25006: read-only after a fail-over to a replica; 25P03 and 25P04: the session was ended
    # because our transaction idled or ran too long (a stalled client, a slow disk). The
    # rest of class 25 is a bug of ours (a transaction used wrongly)
    pg.ReadOnlySQLTransactionError,
    pg.IdleInTransactionSessionTimeoutError,
    pg.TransactionTimeoutError,
    # 58: the server's own I/O failed (58030) or its files are missing
    pg.PostgresSystemError,
    # 40001, 40P01: two transactions collided (serialization failure, deadlock), and one
    # was rolled back to let the other through; 40003: the server cannot say whether the
    # statement completed. 40002 is a constraint checked at commit: the data's fault, like
    # any other constraint violation
    pg.SerializationError,
    pg.DeadlockDetectedError,
    pg.StatementCompletionUnknownError,
    # the deployment's faults (above): a grant, a migration, a role or database gone
    *DEPLOYMENT_DB_ERRORS,
    # 72: a snapshot too old
    pg.SnapshotTooOldError,
    # not listed, the work's own: 22 (data exception), 23 (integrity constraint violation),
    # 21, 27, 44 (the data, through a constraint or trigger), 54 (a statement too large or
    # complex for a server limit: made by the work), P0 (a RAISE of a trigger or function),
    # 2F, 38, 39 (a routine's), and 24, 25, 2D, 34, 3B, 40002, 55 but 55P03 (our misuse of
    # a transaction or cursor)
)
