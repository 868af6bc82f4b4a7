"""Plain, versioned SQL migrations; each service in its own PostgreSQL schema.

A migration set is a folder of ``NNNN_name.sql`` files. They are applied in order, each in
its own transaction with ``search_path`` set to the target schema, under an advisory lock so
that concurrent starts do not race. An applied file whose checksum changed stops the run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

PLATFORM_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
AUTH_MIGRATIONS = Path(__file__).resolve().parent / "auth_migrations"
AUTH_SCHEMA = "auth"
# platform-wide: the fingerprint of the patient-matching key (shared/key_fingerprint.py)
SUBJECT_KEY_MIGRATIONS = Path(__file__).resolve().parent / "subject_key_migrations"
SUBJECT_KEY_SCHEMA = "subject_key"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    set_name: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationSet:
    name: str
    folder: Path

    def load(self) -> list[Migration]:
        migrations = []
        for path in sorted(self.folder.glob("*.sql")):
            match = _FILE.fullmatch(path.name)
            if not match:
                raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
            version, name = int(match.group(1)), match.group(2)
            migrations.append(Migration(self.name, version, name, path.read_text()))
        versions = [m.version for m in migrations]
        if len(set(versions)) != len(versions):
            raise MigrationError(f"{self.folder}: duplicate migration versions")
        return migrations


def quote_schema(schema: str) -> str:
    if not _IDENT.fullmatch(schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    return f'"{schema}"'


async def apply_migrations(
    conn: asyncpg.Connection, schema: str, sets: list[MigrationSet]
) -> list[str]:
    """Apply what is pending in ``sets`` to ``schema``; return the names applied."""
    quoted = quote_schema(schema)
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {quoted}.schema_migrations (
                set_name   text        NOT NULL,
                version    integer     NOT NULL,
                name       text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (set_name, version))"""
        )
        rows = await conn.fetch(
            f"SELECT set_name, version, checksum FROM {quoted}.schema_migrations"
        )
        done = {(r["set_name"], r["version"]): r["checksum"] for r in rows}
        for migration_set in sets:
            for migration in migration_set.load():
                key = (migration.set_name, migration.version)
                if key in done:
                    if done[key] != migration.checksum:
                        raise MigrationError(
                            f"{schema}: applied migration {migration.set_name}/"
                            f"{migration.version:04d}_{migration.name} was edited; add a new one"
                        )
                    continue
                await conn.execute(f"SET LOCAL search_path TO {quoted}, public")
                await conn.execute(migration.sql)
                await conn.execute(
                    f"INSERT INTO {quoted}.schema_migrations (set_name, version, name, checksum)"
                    " VALUES ($1, $2, $3, $4)",
                    migration.set_name,
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
                applied_now.append(_named(migration.set_name, migration.version, migration.name))
    return applied_now


def service_schemas(
    schema: str, service_folder: Path, extra_sets: tuple[MigrationSet, ...] = ()
) -> list[tuple[str, list[MigrationSet]]]:
    """What ``migrate_service`` migrates, in its order: each schema with its sets."""
    return [
        (AUTH_SCHEMA, [MigrationSet("auth", AUTH_MIGRATIONS)]),
        (SUBJECT_KEY_SCHEMA, [MigrationSet("subject_key", SUBJECT_KEY_MIGRATIONS)]),
        (
            schema,
            [
                MigrationSet("platform", PLATFORM_MIGRATIONS),
                *extra_sets,
                MigrationSet("service", service_folder),
            ],
        ),
    ]


async def migrate_service(
    conn: asyncpg.Connection,
    schema: str,
    service_folder: Path,
    extra_sets: tuple[MigrationSet, ...] = (),
) -> list[str]:
    """The auth and subject_key schemas (platform-wide), then the platform's messaging
    tables, shared sets the service uses and the service's own tables."""
    applied: list[str] = []
    for target, sets in service_schemas(schema, service_folder, extra_sets):
        applied += await apply_migrations(conn, target, sets)
    return applied


@dataclass(frozen=True)
class SchemaDifference:
    """How a schema's recorded migrations differ from the code's (nothing changed to
    learn it): ``missing``, the code's not applied yet (``apply_migrations`` would apply
    them); ``unknown``, applied by another (a newer) version, which the code does not have;
    ``edited``, applied, and changed in the code since."""

    schema: str
    missing: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    edited: tuple[str, ...] = ()

    @property
    def current(self) -> bool:
        return not (self.missing or self.unknown or self.edited)


async def schema_difference(
    conn: asyncpg.Connection, schema: str, sets: list[MigrationSet]
) -> SchemaDifference:
    """Compare ``schema``'s record of applied migrations with ``sets``; reads only (no
    lock, no table created: a schema never migrated lacks every migration)."""
    quoted = quote_schema(schema)
    recorded = await conn.fetchval(
        "SELECT to_regclass($1) IS NOT NULL", f"{quoted}.schema_migrations"
    )
    rows = (
        await conn.fetch(
            f"SELECT set_name, version, name, checksum FROM {quoted}.schema_migrations"
        )
        if recorded
        else []
    )
    done = {(r["set_name"], r["version"]): r for r in rows}
    known: set[tuple[str, int]] = set()
    missing, edited = [], []
    for migration_set in sets:
        for migration in migration_set.load():
            key = (migration.set_name, migration.version)
            known.add(key)
            if key not in done:
                missing.append(_named(migration.set_name, migration.version, migration.name))
            elif done[key]["checksum"] != migration.checksum:
                edited.append(_named(migration.set_name, migration.version, migration.name))
    unknown = [
        _named(r["set_name"], r["version"], r["name"])
        for key, r in sorted(done.items())
        if key not in known
    ]
    return SchemaDifference(schema, tuple(missing), tuple(unknown), tuple(edited))


def _named(set_name: str, version: int, name: str) -> str:
    return f"{set_name}/{version:04d}_{name}"
