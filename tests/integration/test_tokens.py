"""API tokens on real PostgreSQL: issued, listed, resolved, revoked (rotation)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from cachexia.cli import main
from shared.auth import Role, TokenStore, issue_token
from shared.db.migrations import AUTH_MIGRATIONS, AUTH_SCHEMA, MigrationSet, apply_migrations
from tests.integration.lab_fixtures import migrate_lab

pytestmark = pytest.mark.integration


async def test_a_token_is_rotated_under_its_name_and_the_old_one_revoked_by_id(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The new token keeps the name (FHIR results carry it as their sender, so corrections
    still find their chains); the old one is revoked by the id that `list` shows."""
    monkeypatch.setenv("DATABASE_URL", database)
    conn = await asyncpg.connect(database)
    try:
        await apply_migrations(conn, AUTH_SCHEMA, [MigrationSet("auth", AUTH_MIGRATIONS)])
        old = await issue_token(conn, "hosp-lis", Role.LAB, ["LIS^HOSP"])
        new = await issue_token(conn, "hosp-lis", Role.LAB, ["LIS^HOSP"])
        other = await issue_token(conn, "site", Role.SITE, site="CH-01")
    finally:
        await conn.close()

    def cachexia(*args: str) -> int:
        return main(["token", *args])

    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    try:
        store = TokenStore(pool, cache_seconds=0)
        assert await asyncio.to_thread(cachexia, "list") == 0
        listed = capsys.readouterr().out
        assert listed.count("in use") == 3 and "senders: LIS^HOSP" in listed
        assert old.token not in listed and str(old.token_id) in listed  # ids, never tokens
        assert await asyncio.to_thread(cachexia, "revoke", "--id", str(old.token_id)) == 0
        assert await store.authenticate(old.token) is None
        principal = await store.authenticate(new.token)
        assert principal is not None and principal.senders == frozenset({"LIS^HOSP"})
        assert await asyncio.to_thread(cachexia, "revoke", "--name", "hosp-lis") == 0
        assert await store.authenticate(new.token) is None
        assert await store.authenticate(other.token) is not None  # another name: untouched
        assert await asyncio.to_thread(cachexia, "revoke", "--name", "hosp-lis") == 1
        capsys.readouterr()
        assert await asyncio.to_thread(cachexia, "list") == 0
        lines = capsys.readouterr().out.splitlines()  # oldest first
        assert ["  revoked " in line for line in lines] == [True, True, False]
    finally:
        await pool.close()


async def test_a_site_token_is_created_bound_to_its_site_and_listed_with_it(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`token create --role site --site CH-01` stores the site, the token resolves with it,
    and `token list` shows it; a site token stored before the site column names none, and the
    list says it reads no subject. The table refuses a site on another role's token."""
    monkeypatch.setenv("DATABASE_URL", database)
    await migrate_lab(database)  # --site reads its enrolments; the commands never migrate
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            "INSERT INTO auth.api_tokens (token_id, name, role, token_sha256)"
            " VALUES (gen_random_uuid(), 'old site', 'site', '\\x00'::bytea)"
        )  # as stored before auth migration 0003
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO auth.api_tokens (token_id, name, role, token_sha256, site)"
                " VALUES (gen_random_uuid(), 'ops', 'ops', '\\x01'::bytea, 'CH-01')"
            )
    finally:
        await conn.close()
    create = ["token", "create", "--role", "site", "--name", "site CH-01", "--site", " CH-01 "]
    assert await asyncio.to_thread(main, create) == 0
    token = capsys.readouterr().out.strip()
    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    try:
        principal = await TokenStore(pool, cache_seconds=0).authenticate(token)
    finally:
        await pool.close()
    assert principal is not None and (principal.role, principal.site) == (Role.SITE, "CH-01")
    assert await asyncio.to_thread(main, ["token", "list"]) == 0
    listed = {line.split("'")[1]: line for line in capsys.readouterr().out.splitlines()}
    assert listed["site CH-01"].endswith("in use  site: CH-01")
    assert "site: none (reads no subject: create a new one with --site)" in listed["old site"]


async def test_a_site_token_for_a_site_without_subjects_is_created_with_a_warning(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt site makes a token that reads nothing: `token create --site` warns as
    `source add --site` does (the same check: lab-ingestion's copy of the enrolments), and
    still creates it (the site's first subject may not be enrolled yet)."""
    monkeypatch.setenv("DATABASE_URL", database)
    await migrate_lab(database)  # the commands never migrate (review 156)

    def create(site: str) -> tuple[int, str, str]:
        argv = ["token", "create", "--role", "site", "--name", f"site {site}", "--site", site]
        code = main(argv)
        said = capsys.readouterr()
        return code, said.out.strip(), said.err

    code, token, err = await asyncio.to_thread(create, "CH-01")  # nothing enrolled yet
    assert code == 0 and token.startswith("cx_")
    assert "warning: no subject of site CH-01 is enrolled (sites with subjects: none yet)" in err
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            """INSERT INTO lab_ingestion.enrolled_subjects (subject_id, site_id, site_timezone,
                                                            hospital_id_hmac, day1, enrolled_at)
               VALUES ('S-1', 'CH-01', 'Europe/Zurich', 'h(MRN1)', '2026-11-02', now()),
                      ('S-2', 'DE-02', 'Europe/Berlin', 'h(MRN2)', '2026-11-02', now())"""
        )
    finally:
        await conn.close()
    code, token, err = await asyncio.to_thread(create, "CH-1")  # a typo
    assert code == 0 and token.startswith("cx_")
    assert "warning: no subject of site CH-1 is enrolled (sites with subjects: CH-01, DE-02)" in err
    assert "check the name" in err
    code, token, err = await asyncio.to_thread(create, "CH-01")
    assert code == 0 and token.startswith("cx_") and "warning" not in err
