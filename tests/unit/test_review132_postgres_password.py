"""The embedded PostgreSQL's password (review 132): the operator commands' DSN carries it,
nothing shown does; a trusting pg_hba.conf is recognised; the SCRAM verifier is the one
PostgreSQL would store."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

from shared.addresses import masked_url
from shared.embedded.password import PASSWORD_FILE, scram_verifier, trusts
from shared.secret_files import create_secret_file
from shared.settings import PlatformSettings


def test_the_embedded_dsn_carries_the_data_directorys_password_and_shows_none(
    tmp_path: Path,
) -> None:
    settings = PlatformSettings(data_dir=tmp_path, embedded_postgres_port=5999)
    assert settings.postgres_dsn == "postgresql://postgres@127.0.0.1:5999/cachexia"
    create_secret_file(tmp_path / PASSWORD_FILE, "a/b@c:d")
    assert settings.postgres_dsn == "postgresql://postgres:a%2Fb%40c%3Ad@127.0.0.1:5999/cachexia"
    assert masked_url(settings.postgres_dsn) == "postgresql://postgres:***@127.0.0.1:5999/cachexia"
    assert "a%2Fb" not in repr(settings)


def test_an_external_database_url_is_used_as_given(tmp_path: Path) -> None:
    create_secret_file(tmp_path / PASSWORD_FILE, "embedded-only")
    url = "postgresql://cachexia:secret@db.internal:5432/cachexia"
    assert PlatformSettings(data_dir=tmp_path, database_url=url).postgres_dsn == url


def test_a_trusting_pg_hba_is_recognised_and_comments_are_not() -> None:
    assert trusts("local   all   all   trust\n")
    assert trusts("# TYPE DATABASE\nhost all all 127.0.0.1/32 trust  # initdb's\n")
    assert not trusts("# local all all trust\nlocal all all scram-sha-256\n")
    assert not trusts("host all trust 127.0.0.1/32 scram-sha-256\n")


def test_the_scram_verifier_proves_the_password() -> None:
    verifier = scram_verifier("pw", iterations=4096)
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    salted = hashlib.pbkdf2_hmac("sha256", b"pw", base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    assert (method, iterations) == ("SCRAM-SHA-256", "4096")
    assert hashlib.sha256(client_key).digest() == stored_key
    assert hmac.new(salted, b"Server Key", hashlib.sha256).digest() == server_key
    assert scram_verifier("pw") != verifier  # a salt of its own each time
