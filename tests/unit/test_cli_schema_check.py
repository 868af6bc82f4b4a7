"""The line an operator command stops with when the database's schemas are not this
version's (review 156: the commands migrated them themselves)."""

from __future__ import annotations

from cachexia.schema_check import schema_problem
from shared.db.migrations import SchemaDifference


def test_schemas_at_this_version_are_no_problem() -> None:
    assert schema_problem([SchemaDifference("auth"), SchemaDifference("lab_ingestion")]) is None


def test_a_database_behind_names_the_migrations_and_cachexia_migrate() -> None:
    problem = schema_problem(
        [
            SchemaDifference("auth", missing=("auth/0004_a",)),
            SchemaDifference("lab_ingestion", missing=("service/0030_b", "service/0031_c", "x")),
        ]
    )
    assert problem is not None
    assert problem.startswith(
        "the database is behind this version: it lacks 4 migrations (auth: auth/0004_a, "
        "lab_ingestion: service/0030_b, lab_ingestion: service/0031_c, ...); apply them with "
        "`cachexia migrate`"
    )


def test_a_database_ahead_says_this_checkout_is_older_even_if_it_also_lacks_some() -> None:
    problem = schema_problem(
        [
            SchemaDifference(
                "lab_ingestion", missing=("service/0030_b",), unknown=("service/0031_n",)
            )
        ]
    )
    assert problem is not None
    assert problem.startswith(
        "this checkout is older than the database: it lacks 1 migration (lab_ingestion: "
        "service/0031_n) that a newer version applied (and the database lacks 1 migration "
        "(lab_ingestion: service/0030_b) of it)"
    )
    assert "never `cachexia migrate` from this one" in problem


def test_an_applied_migration_edited_since_is_another_version() -> None:
    problem = schema_problem([SchemaDifference("auth", edited=("auth/0001_tokens",))])
    assert problem is not None
    assert problem.startswith(
        "this checkout did not migrate the database: it has 1 migration (auth: "
        "auth/0001_tokens) whose text differs from what was applied"
    )
