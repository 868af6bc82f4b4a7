"""The operator commands' check that the database is at this version's schema: they read and
write it as this version's code does, and never migrate it themselves (review 156).

Only `cachexia migrate` (and `cachexia up`, `cachexia service`, at their start) migrates:
a `rejection list` run from a newer checkout against a production database applied that
checkout's migrations, which can break the older instances still running on it. So every
other command compares the schemas it uses with the migrations of this checkout, reading
only, and stops (exit 2), changing nothing, when they differ: behind, naming `cachexia
migrate`; ahead, applied by a newer version this checkout does not know.
"""

from __future__ import annotations

from collections.abc import Iterable

from cachexia.errors import EXIT_USAGE, InfrastructureError
from cachexia.platform import connect_platform
from cachexia.services import service_definition
from shared.db.migrations import (
    AUTH_MIGRATIONS,
    AUTH_SCHEMA,
    MigrationSet,
    SchemaDifference,
    schema_difference,
    service_schemas,
)
from shared.settings import PlatformSettings

# the tokens' schema (platform-wide: every service migrates it), which every command checks
TOKENS = (AUTH_SCHEMA, [MigrationSet("auth", AUTH_MIGRATIONS)])
SHOWN_NAMES = 3  # of the migrations a difference names, in its line


async def check_schema_current(settings: PlatformSettings, services: Iterable[str] = ()) -> None:
    """Return if the tokens' schema and the schemas ``services`` migrate (``migrate_service``:
    the platform-wide ones with their own) are at this version's migrations; else
    InfrastructureError (exit 2) saying how they differ and what to do. Connects first: an
    unreachable database is the usual one line."""
    targets = dict([TOKENS])
    for name in services:
        definition = service_definition(name)
        targets.update(
            service_schemas(definition.schema, definition.migrations, definition.shared_migrations)
        )
    conn = await connect_platform(settings)
    try:
        differences = [await schema_difference(conn, s, sets) for s, sets in targets.items()]
    finally:
        await conn.close()
    problem = schema_problem(differences)
    if problem is not None:
        raise InfrastructureError(problem, EXIT_USAGE)


def schema_problem(differences: list[SchemaDifference]) -> str | None:
    """The operator's line for schemas that differ from this version's; None if none does."""
    unknown = _listed(differences, "unknown")
    edited = _listed(differences, "edited")
    missing = _listed(differences, "missing")
    if unknown or edited:
        lead, what = "did not migrate the database", ""
        if unknown:
            lead, what = (
                "is older than the database",
                f"lacks {unknown} that a newer version applied",
            )
        if edited:
            what += (
                f"{' and ' if what else ''}has {edited} whose text differs from what was applied"
            )
        also = f" (and the database lacks {missing} of it)" if missing else ""
        return (
            f"this checkout {lead}: it {what}{also}; run this command from the version that "
            "migrated the database (never `cachexia migrate` from this one); nothing was read "
            "or changed"
        )
    if missing:
        return (
            f"the database is behind this version: it lacks {missing}; apply them with "
            "`cachexia migrate` (a migration can break an instance of the previous version "
            "still running on the database: upgrade the services with it), then run this "
            "command again; nothing was read or changed"
        )
    return None


def _listed(differences: list[SchemaDifference], kind: str) -> str:
    """``2 migrations (lab_ingestion: service/0031_x, ...)``; "" for none."""
    named = [f"{d.schema}: {name}" for d in differences for name in getattr(d, kind)]
    if not named:
        return ""
    shown = ", ".join(named[:SHOWN_NAMES]) + (", ..." if len(named) > SHOWN_NAMES else "")
    return f"{len(named)} migration{'s' if len(named) > 1 else ''} ({shown})"
