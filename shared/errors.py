"""What may be written of an exception where its text must not go.

An exception's text can quote data: asyncpg's message and DETAIL quote row values (a
hospital number, a name, a value from the input), a ``ValueError`` raised on a bad field
often quotes the field. A dead letter's reason (stored, and published on the dead-letter
topic) and a log line therefore carry what ``error_kind`` gives: the exception's type, with
its SQLSTATE (a database error) or errno (an operating-system error) where it has one.
"""

from __future__ import annotations

import re

_SQLSTATE = re.compile(r"[0-9A-Z]{5}")


def error_kind(exc: BaseException) -> str:
    """``UniqueViolationError (SQLSTATE 23505)``, ``ConnectionRefusedError (errno 111)``,
    ``ValueError``: the type, and the code where there is one; never the text."""
    kind = type(exc).__name__
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and _SQLSTATE.fullmatch(sqlstate):
        return f"{kind} (SQLSTATE {sqlstate})"
    if isinstance(exc, OSError) and isinstance(exc.errno, int):
        return f"{kind} (errno {exc.errno})"
    return kind
