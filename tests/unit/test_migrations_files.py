"""Migration sets as files: naming, ordering, duplicates; schema-name quoting."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.db.migrations import (
    AUTH_MIGRATIONS,
    PLATFORM_MIGRATIONS,
    SUBJECT_KEY_MIGRATIONS,
    MigrationError,
    MigrationSet,
    quote_schema,
)

ROOT = Path(__file__).resolve().parents[2]
SUBJECT_MIGRATIONS = ROOT / "shared" / "subject_migrations"
SERVICE_MIGRATIONS = sorted((ROOT / "services").glob("*/migrations"))
ALL_REAL_FOLDERS = [
    PLATFORM_MIGRATIONS,
    AUTH_MIGRATIONS,
    SUBJECT_KEY_MIGRATIONS,
    SUBJECT_MIGRATIONS,
    *SERVICE_MIGRATIONS,
]


def write(folder: Path, files: dict[str, str]) -> MigrationSet:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql)
    return MigrationSet("test", folder)


def test_migrations_load_in_version_order(tmp_path: Path) -> None:
    migrations = write(
        tmp_path,
        {
            "0010_ten.sql": "SELECT 10;",
            "0002_two.sql": "SELECT 2;",
            "0001_one.sql": "SELECT 1;",
            "0003_three_v2.sql": "SELECT 3;",
        },
    ).load()
    assert [(m.version, m.name) for m in migrations] == [
        (1, "one"),
        (2, "two"),
        (3, "three_v2"),
        (10, "ten"),
    ]
    assert [m.sql for m in migrations] == ["SELECT 1;", "SELECT 2;", "SELECT 3;", "SELECT 10;"]
    assert {m.set_name for m in migrations} == {"test"}


def test_non_sql_files_are_ignored(tmp_path: Path) -> None:
    migrations = write(
        tmp_path, {"0001_one.sql": "SELECT 1;", "README.md": "notes", "__init__.py": ""}
    ).load()
    assert [m.name for m in migrations] == ["one"]


def test_empty_or_missing_folder_has_no_migrations(tmp_path: Path) -> None:
    assert MigrationSet("empty", tmp_path).load() == []
    assert MigrationSet("missing", tmp_path / "nope").load() == []


@pytest.mark.parametrize(
    "bad",
    ["1_one.sql", "00001_one.sql", "0001-one.sql", "0001_One.sql", "0001_.sql", "0001_a b.sql",
     "one.sql", "0001_one.SQL.sql", "v0001_one.sql"],
)  # fmt: skip
def test_badly_named_file_raises(tmp_path: Path, bad: str) -> None:
    migration_set = write(tmp_path, {"0001_ok.sql": "SELECT 1;", bad: "SELECT 2;"})
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        migration_set.load()


def test_duplicate_versions_raise(tmp_path: Path) -> None:
    migration_set = write(tmp_path, {"0001_one.sql": "SELECT 1;", "0001_uno.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match="duplicate"):
        migration_set.load()


def test_checksum_follows_the_content(tmp_path: Path) -> None:
    [first] = write(tmp_path / "a", {"0001_one.sql": "SELECT 1;"}).load()
    [same] = write(tmp_path / "b", {"0001_one.sql": "SELECT 1;"}).load()
    [edited] = write(tmp_path / "c", {"0001_one.sql": "SELECT 2;"}).load()
    assert first.checksum == same.checksum
    assert first.checksum != edited.checksum
    assert len(first.checksum) == 64
    int(first.checksum, 16)


@pytest.mark.parametrize("folder", ALL_REAL_FOLDERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_real_migration_folder_loads(folder: Path) -> None:
    assert folder.is_dir(), f"{folder} does not exist"
    migrations = MigrationSet(folder.name, folder).load()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    for migration in migrations:
        assert migration.sql.strip(), f"{folder}/{migration.version:04d}_{migration.name} is empty"


@pytest.mark.parametrize("folder", [PLATFORM_MIGRATIONS, AUTH_MIGRATIONS, SUBJECT_MIGRATIONS])
def test_shared_migration_sets_are_not_empty(folder: Path) -> None:
    migrations = MigrationSet(folder.name, folder).load()
    assert migrations
    assert migrations[0].version == 1


def test_service_migration_folders_are_found() -> None:
    names = {p.parent.name for p in SERVICE_MIGRATIONS}
    assert names >= {"crp_monitor", "dose_decision", "lab_ingestion", "outcome_scoring",
                     "safety_alerting"}  # fmt: skip


# --- quote_schema -----------------------------------------------------------------------------


@pytest.mark.parametrize("schema", ["crp_monitor", "auth", "_private", "s1", "a" * 63])
def test_quote_schema_accepts_plain_identifiers(schema: str) -> None:
    assert quote_schema(schema) == f'"{schema}"'


@pytest.mark.parametrize(
    "schema",
    ['x"; drop', 'x"; DROP SCHEMA public CASCADE; --', "", "1abc", "Crp", "a b", "a-b", "a.b",
     "a" * 64, "crp;", "'x'", "é", "crp\nx",
     "crp\n"],
)  # fmt: skip
def test_quote_schema_rejects_anything_else(schema: str) -> None:
    with pytest.raises(MigrationError, match="invalid schema name"):
        quote_schema(schema)


@given(st.text(max_size=70))
def test_quoted_schema_is_always_a_single_safe_identifier(schema: str) -> None:
    try:
        quoted = quote_schema(schema)
    except MigrationError:
        return
    inner = quoted[1:-1]
    assert quoted == f'"{inner}"'
    assert inner == schema
    assert '"' not in inner
    assert inner.isascii()
    assert all(c.islower() or c.isdigit() or c == "_" for c in inner)
    assert 1 <= len(inner) <= 63
